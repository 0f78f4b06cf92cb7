//! Unit tests of the station index, against a brute-force reference.
#![allow(clippy::unwrap_used)]

use super::*;

/// splitmix64: a small deterministic PRNG, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Roughly normal, mean 0, standard deviation 1 (Irwin–Hall).
    fn normalish(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

const CITIES: [(f64, f64); 6] = [
    (30.6570, 104.0665), // 成都
    (39.9042, 116.4074), // 北京
    (31.2304, 121.4737), // 上海
    (23.1291, 113.2644), // 广州
    (43.8256, 87.6168),  // 乌鲁木齐
    (45.8038, 126.5350), // 哈尔滨
];

fn random_point(rng: &mut Rng) -> LatLng {
    if rng.below(4) == 0 {
        // Uniform noise over China's rectangle.
        LatLng {
            lat: rng.range(18.0, 53.5),
            lng: rng.range(73.5, 135.0),
        }
    } else {
        let (lat, lng) = CITIES[rng.below(CITIES.len())];
        let spread = [0.01, 0.05, 0.2][rng.below(3)];
        LatLng {
            lat: (lat + spread * rng.normalish()).clamp(-90.0, 90.0),
            lng: (lng + spread * rng.normalish()).clamp(-180.0, 180.0),
        }
    }
}

/// Random points, some sharing a position exactly (ties by distance).
fn random_entries(rng: &mut Rng, n: usize, prefix: &str) -> Vec<(String, LatLng, u32)> {
    let mut out: Vec<(String, LatLng, u32)> = Vec::with_capacity(n);
    for k in 0..n {
        let at = if k > 0 && rng.below(40) == 0 {
            out[rng.below(out.len())].1
        } else {
            random_point(rng)
        };
        let bits = (rng.next_u64() & 0xF) as u32;
        // Unique, in an order unrelated to position or insertion.
        let id = format!("{prefix}{:04x}{k:05}", rng.next_u64() & 0xFFFF);
        out.push((id, at, bits));
    }
    out
}

fn random_filter(rng: &mut Rng) -> u32 {
    // 0 to 2 of the 4 bits required.
    let mut mask = 0;
    for _ in 0..rng.below(3) {
        mask |= 1 << rng.below(4);
    }
    mask
}

/// The reference: every entry by haversine distance, then id.
fn brute_nearby(
    all: &HashMap<String, (LatLng, u32)>,
    at: LatLng,
    radius_m: f64,
    limit: usize,
    mask: u32,
) -> Vec<(&str, f64)> {
    let mut v: Vec<(&str, f64)> = all
        .iter()
        .filter(|(_, (_, bits))| bits & mask == mask)
        .map(|(id, (p, _))| (id.as_str(), haversine_m(at, *p)))
        .filter(|&(_, d)| d <= radius_m)
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    v.truncate(limit);
    v
}

fn random_query(rng: &mut Rng, all: &HashMap<String, (LatLng, u32)>) -> LatLng {
    match rng.below(3) {
        // Exactly on an existing point (distance 0, and ties).
        0 if !all.is_empty() => {
            let k = rng.below(all.len());
            all.values().nth(k).map(|v| v.0).unwrap()
        }
        _ => random_point(rng),
    }
}

fn check_nearby_against_brute_force(
    index: &StationIndex<u32>,
    all: &HashMap<String, (LatLng, u32)>,
    rng: &mut Rng,
    queries: usize,
) {
    let mut nonempty = 0;
    let mut full = 0;
    let mut crowded = 0;
    for _ in 0..queries {
        let at = random_query(rng, all);
        // Log-uniform 100 m to 50 km.
        let radius_m = 100.0 * 500f64.powf(rng.unit());
        let limit = 1 + rng.below(100);
        let mask = random_filter(rng);
        let want = brute_nearby(all, at, radius_m, limit, mask);
        let mut asked = 0usize;
        let hits = index.nearby_by(at, radius_m, limit, |c: Candidate<'_, u32>| {
            asked += 1;
            c.payload().is_some_and(|bits| bits & mask == mask)
        });
        let got: Vec<(&str, f64)> = hits.iter().map(|h| (h.id, h.distance_m)).collect();
        assert_eq!(
            got, want,
            "at {at:?}, radius {radius_m}, limit {limit}, mask {mask:#x}"
        );
        nonempty += usize::from(!want.is_empty());
        full += usize::from(want.len() == limit);
        // The filter is asked only about candidates within the radius (with float slack).
        let within = brute_nearby(all, at, radius_m * (1.0 + 1e-6) + 1e-3, usize::MAX, 0).len();
        assert!(
            asked <= within,
            "asked {asked} of {within} within the radius"
        );
        // Where the limit is met well inside a crowded radius, the descent cuts most of it off.
        if want.len() == limit && within > 8 * limit.max(16) {
            crowded += 1;
            assert!(
                asked < within,
                "asked about all {within}: nothing was pruned"
            );
        }
    }
    // The data exercise both early stop at the limit and stop at the radius, and crowded
    // radii where pruning matters.
    assert!(nonempty > queries / 2, "{nonempty}");
    assert!(full > queries / 5, "{full}");
    assert!(crowded > queries / 20, "{crowded}");
}

#[test]
fn nearby_matches_brute_force() {
    let mut rng = Rng(0x6F6E_6779_6F75);
    let entries = random_entries(&mut rng, 20_000, "s");
    let mut all: HashMap<String, (LatLng, u32)> = entries
        .iter()
        .map(|(id, p, b)| (id.clone(), (*p, *b)))
        .collect();
    let mut index = StationIndex::bulk_load(entries);
    assert_eq!(index.len(), all.len());
    check_nearby_against_brute_force(&index, &all, &mut rng, 300);

    // Mutate: move some, remove some, add some; the tree must follow.
    let ids: Vec<String> = all.keys().cloned().collect();
    for _ in 0..2_000 {
        let id = &ids[rng.below(ids.len())];
        match rng.below(3) {
            0 => {
                let removed = index.remove(id);
                assert_eq!(removed, all.remove(id).map(|v| v.1));
            }
            _ => {
                let at = random_point(&mut rng);
                let bits = (rng.next_u64() & 0xF) as u32;
                index.upsert(id.clone(), at, bits);
                all.insert(id.clone(), (at, bits));
            }
        }
    }
    for (id, at, bits) in random_entries(&mut rng, 1_000, "n") {
        index.upsert(id.clone(), at, bits);
        all.insert(id, (at, bits));
    }
    assert_eq!(index.len(), all.len());
    assert_eq!(index.tree.size(), all.len());
    for (id, (at, bits)) in &all {
        assert_eq!(index.get(id), Some((at, bits)));
    }
    assert_eq!(index.iter().count(), all.len());
    for (id, at, bits) in index.iter() {
        assert_eq!(all.get(id), Some(&(*at, *bits)));
    }
    assert_eq!(
        index.payloads().map(|&b| u64::from(b)).sum::<u64>(),
        all.values().map(|v| u64::from(v.1)).sum::<u64>()
    );
    check_nearby_against_brute_force(&index, &all, &mut rng, 300);
}

/// A station just beyond a 1 m radius (haversine 1.00000000003 m) whose chord the unit
/// vectors' rounding puts just inside a purely relative margin: it is not returned, and a
/// station just inside is not lost.
#[test]
fn the_radius_is_kept_at_a_metre() {
    let at = LatLng {
        lat: 2.714912371559606,
        lng: 115.99508025837804,
    };
    let beyond = LatLng {
        lat: 2.7149084280672815,
        lng: 115.99507216680992,
    };
    let d = haversine_m(at, beyond);
    assert!(d > 1.0 && d < 1.0 + 1e-9, "{d}");
    let mut index = StationIndex::new();
    index.upsert("beyond".to_owned(), beyond, 0u8);
    let all = |_: Candidate<'_, u8>| true;
    assert!(index.nearby_by(at, 1.0, 20, all).is_empty());
    assert_eq!(index.nearby_by(at, d, 20, all).len(), 1);
    assert!(index.nearby_by(at, d * (1.0 - 1e-12), 20, all).is_empty());
    // Small radii in general, against brute force.
    let mut rng = Rng(0x7261_6469_7573);
    let mut all = HashMap::new();
    let mut index = StationIndex::new();
    for k in 0..400 {
        let p = LatLng {
            lat: at.lat + 2e-5 * rng.normalish(),
            lng: at.lng + 2e-5 * rng.normalish(),
        };
        let id = format!("p{k:03}");
        index.upsert(id.clone(), p, 0u32);
        all.insert(id, (p, 0u32));
    }
    for _ in 0..300 {
        let q = random_query(&mut rng, &all);
        let radius_m = 0.01 * 10_000f64.powf(rng.unit());
        let limit = 1 + rng.below(30);
        let want = brute_nearby(&all, q, radius_m, limit, 0);
        let got: Vec<(&str, f64)> = index
            .nearby_by(q, radius_m, limit, |_| true)
            .iter()
            .map(|h| (h.id, h.distance_m))
            .collect();
        assert_eq!(got, want, "at {q:?}, radius {radius_m}, limit {limit}");
    }
}

/// Hundreds of stations at one distance (one building, or a ring): the descent cannot cut
/// any of them off by distance, so its list of candidates outgrows its compaction bound
/// many times over; the answer is still the `limit` lowest ids, and the filter still
/// decides.
#[test]
fn many_equal_distances_keep_the_lowest_ids() {
    let centre = LatLng {
        lat: 30.657,
        lng: 104.0665,
    };
    let mut index = StationIndex::new();
    let mut ids = Vec::new();
    for k in 0..600u32 {
        // Shuffled ids, every one at the same point; every third one fails the filter.
        let id = format!("s{:04}", (k * 367) % 600);
        index.upsert(id.clone(), centre, k % 3);
        if k % 3 != 0 {
            ids.push(id);
        }
    }
    ids.sort();
    for limit in [1, 5, 20, 100, 500] {
        let got: Vec<&str> = index
            .nearby(centre, 10.0, limit, |&bits| bits != 0)
            .iter()
            .map(|h| h.id)
            .collect();
        let want: Vec<&str> = ids.iter().take(limit).map(String::as_str).collect();
        assert_eq!(got, want, "limit {limit}");
    }
}

#[test]
fn nearby_orders_ties_by_id_and_respects_limit_and_radius() {
    let p = LatLng {
        lat: 30.657,
        lng: 104.0665,
    };
    let near = LatLng {
        lat: 30.6537,
        lng: 104.08,
    };
    let mut index = StationIndex::new();
    for id in ["c", "a", "b"] {
        index.upsert(id.to_owned(), p, 0u8);
    }
    index.upsert("far".to_owned(), near, 0);
    index.upsert("odd".to_owned(), near, 1);
    let ids = |hits: Vec<Hit<'_, u8>>| hits.iter().map(|h| h.id.to_owned()).collect::<Vec<_>>();
    assert_eq!(
        ids(index.nearby(p, 3_000.0, 20, |_| true)),
        ["a", "b", "c", "far", "odd"]
    );
    assert_eq!(ids(index.nearby(p, 3_000.0, 2, |_| true)), ["a", "b"]);
    assert_eq!(ids(index.nearby(p, 3_000.0, 20, |&b| b == 1)), ["odd"]);
    assert_eq!(ids(index.nearby(p, 1_000.0, 20, |_| true)), ["a", "b", "c"]);
    assert!(index.nearby(p, 3_000.0, 0, |_| true).is_empty());
    assert!(index.nearby(p, -1.0, 10, |_| true).is_empty());
    assert!(index.nearby(p, f64::NAN, 10, |_| true).is_empty());
    let nan = LatLng {
        lat: f64::NAN,
        lng: 0.0,
    };
    assert!(index.nearby(nan, 3_000.0, 10, |_| true).is_empty());
    let hits = index.nearby(p, 3_000.0, 20, |_| true);
    assert_eq!(hits[0].distance_m, 0.0);
    let d = haversine_m(p, near);
    assert_eq!(hits[3].distance_m, d);
    assert!((1_300.0..1_400.0).contains(&d));
    // The radius is inclusive, measured in haversine metres.
    assert_eq!(ids(index.nearby(p, d, 20, |_| true)).len(), 5);
    assert_eq!(ids(index.nearby(p, d - 1e-6, 20, |_| true)).len(), 3);
}

#[test]
fn ground_distance_not_degrees() {
    // At 哈尔滨's latitude a degree of longitude is ~77 km, a degree of latitude ~111 km:
    // 0.9° east is nearer than 0.8° north.
    let harbin = LatLng {
        lat: 45.8,
        lng: 126.5,
    };
    let east = LatLng {
        lat: 45.8,
        lng: 127.4,
    };
    let north = LatLng {
        lat: 46.6,
        lng: 126.5,
    };
    let index = StationIndex::bulk_load(vec![
        ("east".to_owned(), east, ()),
        ("north".to_owned(), north, ()),
    ]);
    let hits = index.nearby(harbin, 200_000.0, 1, |_| true);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, "east");
}

#[test]
fn upsert_moves_and_remove_removes() {
    let chengdu = LatLng {
        lat: 30.657,
        lng: 104.0665,
    };
    let beijing = LatLng {
        lat: 39.9042,
        lng: 116.4074,
    };
    let mut index: StationIndex<&str> = StationIndex::default();
    assert!(index.is_empty());
    index.upsert("x".to_owned(), chengdu, "v1");
    index.upsert("y".to_owned(), chengdu, "other");
    assert_eq!(index.nearby(chengdu, 100.0, 10, |_| true).len(), 2);

    index.upsert("x".to_owned(), beijing, "v2");
    assert_eq!(index.len(), 2);
    assert_eq!(index.get("x"), Some((&beijing, &"v2")));
    let at_chengdu = index.nearby(chengdu, 100.0, 10, |_| true);
    assert_eq!(at_chengdu.len(), 1);
    assert_eq!(at_chengdu[0].id, "y");
    let at_beijing = index.nearby(beijing, 100.0, 10, |_| true);
    assert_eq!(at_beijing.len(), 1);
    assert_eq!((at_beijing[0].id, *at_beijing[0].payload), ("x", "v2"));

    // Same place, new payload.
    index.upsert("x".to_owned(), beijing, "v3");
    assert_eq!(*index.nearby(beijing, 100.0, 10, |_| true)[0].payload, "v3");
    assert_eq!(index.tree.size(), 2);

    assert_eq!(index.remove("x"), Some("v3"));
    assert_eq!(index.remove("x"), None);
    assert_eq!(index.get("x"), None);
    assert!(index.nearby(beijing, 100.0, 10, |_| true).is_empty());
    assert_eq!(index.len(), 1);

    // The freed slot is reused.
    index.upsert("z".to_owned(), beijing, "z");
    assert_eq!(index.slots.len(), 2);
    assert_eq!(index.nearby(beijing, 100.0, 10, |_| true)[0].id, "z");
    assert_eq!(index.remove("y"), Some("other"));
    assert_eq!(index.remove("z"), Some("z"));
    assert!(index.is_empty());
    assert_eq!(index.tree.size(), 0);

    // Non-finite positions are kept but never found spatially, and can be moved.
    let nan = LatLng {
        lat: f64::NAN,
        lng: 1.0,
    };
    index.upsert("n".to_owned(), nan, "n");
    assert_eq!(index.len(), 1);
    assert_eq!(index.tree.size(), 0);
    index.upsert("n".to_owned(), chengdu, "n2");
    assert_eq!(index.nearby(chengdu, 1.0, 10, |_| true)[0].id, "n");
    assert_eq!(index.remove("n"), Some("n2"));
    assert_eq!(index.tree.size(), 0);
}

#[test]
fn bulk_load_keeps_the_last_of_a_repeated_id() {
    let a = LatLng {
        lat: 30.0,
        lng: 104.0,
    };
    let b = LatLng {
        lat: 31.0,
        lng: 104.0,
    };
    let nan = LatLng {
        lat: f64::NAN,
        lng: 104.0,
    };
    let mut index = StationIndex::bulk_load(vec![
        ("k".to_owned(), a, 1),
        ("nan".to_owned(), nan, 4),
        ("j".to_owned(), a, 2),
        ("k".to_owned(), b, 3),
    ]);
    assert_eq!(index.len(), 3);
    assert_eq!(index.tree.size(), 2);
    assert_eq!(index.get("k"), Some((&b, &3)));
    assert_eq!(index.get("j"), Some((&a, &2)));
    assert_eq!(index.get("nan").map(|(_, &v)| v), Some(4));
    let hits = index.nearby(a, 10.0, 10, |_| true);
    assert_eq!((hits.len(), hits[0].id, *hits[0].payload), (1, "j", 2));
    assert_eq!(index.remove("nan"), Some(4));
    index.upsert("nan".to_owned(), b, 5);
    let ids: Vec<&str> = index
        .nearby(b, 10.0, 10, |_| true)
        .iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(ids, ["k", "nan"]);
}

#[test]
fn within_bbox_matches_brute_force() {
    let mut rng = Rng(0x6262_6F78);
    let entries = random_entries(&mut rng, 20_000, "b");
    let all: HashMap<String, (LatLng, u32)> = entries
        .iter()
        .map(|(id, p, b)| (id.clone(), (*p, *b)))
        .collect();
    let index = StationIndex::bulk_load(entries);
    let mut truncated_seen = 0;
    let mut complete_seen = 0;
    for _ in 0..400 {
        let c = random_query(&mut rng, &all);
        let half_h = 0.001 * 10_000f64.powf(rng.unit()); // 0.001° to 10°
        let half_w = half_h * rng.range(0.2, 3.0);
        let min = LatLng {
            lat: (c.lat - half_h).max(-90.0),
            lng: (c.lng - half_w).max(-180.0),
        };
        let max = LatLng {
            lat: (c.lat + half_h).min(90.0),
            lng: (c.lng + half_w).min(180.0),
        };
        let cap = rng.below(300);
        let mask = random_filter(&mut rng);
        let (hits, truncated) = index.within_bbox(min, max, cap, |b| b & mask == mask);

        let centre = LatLng {
            lat: (min.lat + max.lat) / 2.0,
            lng: (min.lng + max.lng) / 2.0,
        };
        let q = to_unit_vector(centre);
        let mut want: Vec<(f64, &str)> = all
            .iter()
            .filter(|(_, (p, bits))| {
                bits & mask == mask
                    && (min.lat..=max.lat).contains(&p.lat)
                    && (min.lng..=max.lng).contains(&p.lng)
            })
            .map(|(id, (p, _))| (chord_2(&to_unit_vector(*p), &q), id.as_str()))
            .collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        assert_eq!(truncated, want.len() > cap);
        want.truncate(cap);
        let got: Vec<&str> = hits.iter().map(|h| h.id).collect();
        let want: Vec<&str> = want.iter().map(|w| w.1).collect();
        assert_eq!(got, want, "box {min:?} {max:?} cap {cap} mask {mask:#x}");
        for h in &hits {
            assert_eq!(h.distance_m, haversine_m(centre, h.at));
        }
        truncated_seen += usize::from(truncated);
        complete_seen += usize::from(!truncated && !hits.is_empty());
    }
    assert!(truncated_seen > 40, "{truncated_seen}");
    assert!(complete_seen > 40, "{complete_seen}");

    // Boxes that are empty or inverted match nothing.
    let p = LatLng {
        lat: 30.0,
        lng: 104.0,
    };
    let q = LatLng {
        lat: 31.0,
        lng: 103.0,
    };
    let (hits, truncated) = index.within_bbox(p, q, 10, |_| true);
    assert!(hits.is_empty() && !truncated);
}

#[test]
fn sphere_box_envelope_holds_the_box() {
    // Boxes in every quadrant and across the equator and the meridians: a grid of
    // points in (and on the edges of) each box maps inside its envelope.
    let mut rng = Rng(0x0065_6E76);
    for _ in 0..2_000 {
        let lat0 = rng.range(-90.0, 90.0);
        let lat1 = rng.range(lat0, 90.0);
        let lng0 = rng.range(-180.0, 180.0);
        let lng1 = rng.range(lng0, 180.0);
        let (min, max) = (
            LatLng {
                lat: lat0,
                lng: lng0,
            },
            LatLng {
                lat: lat1,
                lng: lng1,
            },
        );
        let env = sphere_box_envelope(min, max);
        for i in 0..=8 {
            for j in 0..=8 {
                let p = LatLng {
                    lat: lat0 + (lat1 - lat0) * f64::from(i) / 8.0,
                    lng: lng0 + (lng1 - lng0) * f64::from(j) / 8.0,
                };
                let v = to_unit_vector(p);
                let (lo, hi) = (env.lower(), env.upper());
                for k in 0..3 {
                    assert!(lo[k] <= v[k] && v[k] <= hi[k], "{p:?} in {min:?}..{max:?}");
                }
            }
        }
    }
    // Tight: a small box's envelope is small.
    let env = sphere_box_envelope(
        LatLng {
            lat: 30.0,
            lng: 104.0,
        },
        LatLng {
            lat: 30.01,
            lng: 104.01,
        },
    );
    let (lo, hi) = (env.lower(), env.upper());
    for k in 0..3 {
        assert!(hi[k] - lo[k] < 0.01_f64.to_radians(), "{k}");
    }
}

#[test]
fn memory_for_150k_stations() {
    let mut rng = Rng(0x006D_656D);
    let entries: Vec<(String, LatLng, [u8; 64])> = (0..150_000u32)
        .map(|k| {
            // UUID-length ids.
            let id = format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                k,
                rng.next_u64() & 0xFFFF,
                rng.next_u64() & 0xFFF,
                rng.next_u64() & 0xFFF,
                rng.next_u64() & 0xFFFF_FFFF_FFFF
            );
            (id, random_point(&mut rng), [0u8; 64])
        })
        .collect();
    let index = StationIndex::bulk_load(entries);
    assert_eq!(index.len(), 150_000);
    let bytes = index.approx_heap_bytes();
    eprintln!(
        "StationIndex: 150,000 entries, 64-byte payload, 36-byte ids: ~{:.1} MB \
         (tree node {} B, slot {} B)",
        bytes as f64 / 1e6,
        size_of::<RTreeNode<TreePoint>>(),
        size_of::<Option<Slot<[u8; 64]>>>(),
    );
    assert!(bytes < 100_000_000, "{bytes}");
    // Sanity: at least the raw data.
    assert!(bytes > 150_000 * (64 + 36 + 16 + 24), "{bytes}");

    // A city-centre query with hundreds within 3 km (timing is informational only:
    // unoptimised test builds are many times slower than release).
    let chengdu = LatLng {
        lat: 30.6570,
        lng: 104.0665,
    };
    let within = index.nearby(chengdu, 3_000.0, usize::MAX, |_| true).len();
    let start = std::time::Instant::now();
    let rounds = 1_000;
    let mut found = 0;
    for r in 0..rounds {
        let at = LatLng {
            lat: chengdu.lat + f64::from(r % 10) * 1e-4,
            lng: chengdu.lng,
        };
        found += index.nearby(at, 3_000.0, 20, |p| p[0] == 0).len();
    }
    eprintln!(
        "nearby(3 km, limit 20) in 成都 with {within} within 3 km: {:?} per query",
        start.elapsed() / rounds
    );
    assert_eq!(found, 20 * rounds as usize);
}

/// What a search's filter sees in the leaf: the tag given with the entry, and a memo that
/// starts at 0 whenever the entry is inserted or replaced (moved or not), so a cache kept
/// there can never outlive the entry it was derived from.
#[test]
fn leaves_carry_the_tag_and_a_memo_that_every_upsert_clears() {
    use std::sync::atomic::Ordering::Relaxed;

    let here = LatLng {
        lat: 30.657,
        lng: 104.0665,
    };
    let near = LatLng {
        lat: 30.658,
        lng: 104.0665,
    };
    let mut index = StationIndex::bulk_load_tagged(vec![
        ("a".to_owned(), here, 1, "A"),
        ("b".to_owned(), near, 2, "B"),
        ("c".to_owned(), near, 2, "C"),
    ]);
    let ids = |hits: Vec<Hit<'_, &str>>| hits.iter().map(|h| h.id.to_owned()).collect::<Vec<_>>();
    let memos = |index: &StationIndex<&'static str>| {
        let mut seen: Vec<(&'static str, u32, u64)> = Vec::new();
        index.nearby_by(here, 1_000.0, 10, |c| {
            seen.push((*c.payload().unwrap(), c.tag(), c.memo().load(Relaxed)));
            true
        });
        seen.sort_unstable();
        seen
    };
    // The tag decides without the payload; the payload is there on demand.
    let twos = index.nearby_by(here, 1_000.0, 10, |c| c.tag() == 2);
    assert_eq!(ids(twos), ["b", "c"]);
    assert_eq!(memos(&index), [("A", 1, 0), ("B", 2, 0), ("C", 2, 0)]);

    index.nearby_by(here, 1_000.0, 10, |c| {
        c.memo().store(u64::from(c.tag()) * 100, Relaxed);
        true
    });
    assert_eq!(memos(&index), [("A", 1, 100), ("B", 2, 200), ("C", 2, 200)]);

    // Replaced in place, replaced and moved, a new one: fresh memos, new tags.
    index.upsert_tagged("a".to_owned(), here, 3, "A2");
    index.upsert_tagged("b".to_owned(), here, 4, "B2");
    index.upsert_tagged("d".to_owned(), near, 5, "D");
    assert_eq!(
        memos(&index),
        [("A2", 3, 0), ("B2", 4, 0), ("C", 2, 200), ("D", 5, 0)]
    );
    // The box search sees the same leaves.
    let (boxed, _) = index.within_bbox_by(
        LatLng {
            lat: 30.6,
            lng: 104.0,
        },
        LatLng {
            lat: 30.7,
            lng: 104.1,
        },
        10,
        |c| c.memo().load(Relaxed) == 200,
    );
    assert_eq!(ids(boxed), ["c"]);
    assert_eq!(index.tree.size(), 4);
}

/// The tag and memo ride in space a leaf has anyway: a tree node is as large as its
/// largest variant, a parent node.
#[test]
fn a_leaf_is_no_larger_than_a_parent_node() {
    assert!(size_of::<TreePoint>() <= size_of::<ParentNode<TreePoint>>());
}

/// Two stations mirrored east and west of the rider are at the same haversine distance (or
/// within its rounding), while their chords differ in the last bits: the one listed first
/// must be the one with the lower id, whichever chord is shorter. A search that cut off at
/// the nearest chord exactly, with no slack for rounding, would keep the wrong one.
#[test]
fn mirrored_stations_rank_by_id_whatever_the_chords_rounding() {
    let mut rng = Rng(0x6D69_7272_6F72);
    let mut disagreed = 0;
    for _ in 0..2_000 {
        let at = LatLng {
            lat: 18.0 + 35.0 * rng.unit(),
            lng: 75.0 + 60.0 * rng.unit(),
        };
        let delta = 0.03 * rng.unit();
        let east = LatLng {
            lat: at.lat,
            lng: at.lng + delta,
        };
        let west = LatLng {
            lat: at.lat,
            lng: at.lng - delta,
        };
        let (q, ve, vw) = (
            to_unit_vector(at),
            to_unit_vector(east),
            to_unit_vector(west),
        );
        let (de, dw) = (haversine_m(at, east), haversine_m(at, west));
        // The pair whose chord order and (haversine, id) order disagree.
        let (first, second) = if de < dw || (de == dw && chord_2(&ve, &q) > chord_2(&vw, &q)) {
            (east, west)
        } else {
            (west, east)
        };
        disagreed += usize::from(de == dw && chord_2(&ve, &q) != chord_2(&vw, &q));
        let index = StationIndex::bulk_load(vec![
            ("a".to_owned(), first, ()),
            ("b".to_owned(), second, ()),
        ]);
        let hits = index.nearby(at, 10_000.0, 1, |_| true);
        let all: HashMap<String, (LatLng, u32)> =
            [("a".to_owned(), (first, 0)), ("b".to_owned(), (second, 0))].into();
        let want = brute_nearby(&all, at, 10_000.0, 1, 0);
        let got: Vec<(&str, f64)> = hits.iter().map(|h| (h.id, h.distance_m)).collect();
        assert_eq!(got, want, "at {at:?}, ±{delta}°");
    }
    // Rounding does split such pairs' chords while their haversine distances tie.
    assert!(disagreed > 20, "{disagreed}");
}
