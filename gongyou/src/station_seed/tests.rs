//! The generator against the regions list and the station rules.
use super::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};

fn seat(code: &str) -> (f64, f64) {
    let r = RegionCode::parse(code).unwrap().region();
    (r.lat.unwrap(), r.lng.unwrap())
}

fn minutes(s: &str) -> u32 {
    let b = s.as_bytes();
    assert_eq!(b.len(), 5, "{s}");
    assert_eq!(b[2], b':', "{s}");
    assert!(
        b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit()),
        "{s}"
    );
    let h: u32 = s[..2].parse().unwrap();
    let m: u32 = s[3..].parse().unwrap();
    assert!(m < 60, "{s}");
    assert!(h < 24 || (h == 24 && m == 0), "{s}");
    h * 60 + m
}

fn check_spans(spans: &Value) {
    let spans = spans.as_array().unwrap();
    assert!(spans.len() <= 6);
    let mut ranges: Vec<(u32, u32)> = spans
        .iter()
        .map(|s| {
            let open = minutes(s["open"].as_str().unwrap());
            let close = minutes(s["close"].as_str().unwrap());
            assert!(open < 24 * 60);
            // Past midnight: within this day it runs to 24:00.
            (open, if close <= open { 24 * 60 } else { close })
        })
        .collect();
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlapping spans {spans:?}");
    }
}

fn is_24h(s: &GeneratedStation) -> bool {
    WEEKDAYS
        .iter()
        .all(|d| s.hours["weekly"][d] == json!([{ "open": "00:00", "close": "24:00" }]))
}

#[test]
fn the_same_seed_gives_the_same_stations() {
    let a = generate(2_000, 42);
    assert_eq!(a, generate(2_000, 42));
    assert_ne!(a, generate(2_000, 43));
    assert_eq!(a.len(), 2_000);
    assert_eq!(
        generate_around("440300", 200, 3),
        generate_around("440300", 200, 3)
    );
}

#[test]
fn distributions_are_realistic() {
    let all = generate(20_000, 1);
    let share = |f: &dyn Fn(&GeneratedStation) -> bool| {
        all.iter().filter(|s| f(s)).count() as f64 / all.len() as f64
    };
    let h24 = share(&is_24h);
    assert!((h24 - 0.06).abs() <= 0.015, "24 h share {h24}");
    let movable = share(&|s| s.kind == "movable");
    assert!((movable - 0.10).abs() <= 0.02, "movable share {movable}");
    let fixed = share(&|s| s.kind == "fixed");
    assert!((fixed - 0.55).abs() <= 0.03, "fixed share {fixed}");
    let ebike = share(&|s| s.amenities.contains(&"ebike_charging"));
    assert!((0.3..0.5).contains(&ebike), "ebike_charging share {ebike}");
    let water = share(&|s| s.amenities.contains(&"drinking_water"));
    assert!(water > 0.9);
    let exceptions = share(&|s| !s.hours["exceptions"].as_array().unwrap().is_empty());
    assert!(
        (0.03..0.07).contains(&exceptions),
        "exceptions share {exceptions}"
    );
    // Big cities dominate: 北上广深成 hold far more than their share of districts.
    let big = share(&|s| {
        ["1101", "3101", "4401", "4403", "5101"]
            .iter()
            .any(|p| s.region_code.starts_with(p))
    });
    assert!(big > 0.12, "big-city share {big}");
    let kinds = ["fixed", "movable", "workers_home", "partner_shop"];
    assert!(all.iter().all(|s| kinds.contains(&s.kind)));
}

#[test]
fn stations_lie_near_their_region_seat() {
    for s in generate(20_000, 5) {
        assert_eq!(s.region_code.len(), 6);
        let (lat, lng) = seat(&s.region_code);
        let d = haversine_km(lat, lng, s.lat, s.lng);
        assert!(d <= 30.0, "{} is {d:.1} km from {}", s.name, s.region_code);
    }
}

#[test]
fn fields_are_well_formed() {
    let mut names_per_city: HashMap<RegionCode, HashSet<String>> = HashMap::new();
    for s in generate(20_000, 9) {
        for a in &s.amenities {
            assert!(AMENITIES.contains(a), "{a}");
        }
        let weekly = s.hours["weekly"].as_object().unwrap();
        assert_eq!(weekly.len(), 7);
        for d in WEEKDAYS {
            check_spans(&weekly[d]);
        }
        for e in s.hours["exceptions"].as_array().unwrap() {
            let date = e["date"].as_str().unwrap();
            assert!(
                chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
                "{date}"
            );
            assert!(date.starts_with("2026-"));
            check_spans(&e["spans"]);
        }
        assert!((4..=60).contains(&s.capacity), "{}", s.capacity);
        let p = &s.contact_phone;
        let mobile = p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit());
        let landline = p.split_once('-').is_some_and(|(a, n)| {
            a.starts_with('0')
                && (3..=4).contains(&a.len())
                && n.len() == 8
                && (a.bytes().chain(n.bytes())).all(|b| b.is_ascii_digit())
        });
        assert!(mobile || landline, "{p}");
        assert!(s.address.contains('号'), "{}", s.address);
        let code = RegionCode::parse(&s.region_code).unwrap();
        let city = code
            .region()
            .parent
            .filter(|p| p.region().level == RegionLevel::City);
        let key = city.unwrap_or(code);
        assert!(
            names_per_city
                .entry(key)
                .or_default()
                .insert(s.name.clone()),
            "{}",
            s.name
        );
    }
}

#[test]
fn around_chengdu_stays_in_chengdu() {
    let stations = generate_around("510100", 300, 7);
    assert_eq!(stations.len(), 300);
    for s in &stations {
        assert!(s.region_code.starts_with("5101"), "{}", s.region_code);
        assert!((s.lat - 30.57).abs() <= 0.8, "{}", s.lat);
        assert!((s.lng - 104.07).abs() <= 0.8, "{}", s.lng);
        assert!(s.address.starts_with("四川省成都市"), "{}", s.address);
    }
    let shenzhen = generate_around("440300", 100, 7);
    assert!(shenzhen.iter().all(|s| s.region_code.starts_with("4403")));
    assert!(shenzhen
        .iter()
        .all(|s| s.address.starts_with("广东省深圳市")));
    assert!(generate_around("999999", 10, 1).is_empty());
    assert!(generate_around("51010", 10, 1).is_empty());
    // A city without districts is its own leaf.
    let dongguan = generate_around("441900", 20, 1);
    assert!(dongguan.iter().all(|s| s.region_code == "441900"));
    assert_eq!(dongguan.len(), 20);
}

#[test]
fn only_mainland_regions_with_coordinates_are_used() {
    let table = &*NATIONAL;
    assert!(table.leaves.len() > 2_500, "{}", table.leaves.len());
    for l in &table.leaves {
        let r = l.code.region();
        assert!(r.lat.is_some() && r.lng.is_some());
        let p = code_num(l.code) / 10_000;
        assert!(!matches!(p, 71 | 81 | 82));
        assert!(l.weight > 0.0);
    }
    // Municipalities do not repeat their name in addresses.
    let s = generate_around("110105", 1, 1);
    assert!(s[0].address.starts_with("北京市朝阳区"), "{}", s[0].address);
}
