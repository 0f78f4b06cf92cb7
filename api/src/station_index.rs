//! An in-memory spatial index of stations (or anything with an id and a position), for
//! "the nearest open stations with water and charging" at national scale.
//!
//! Points are indexed as 3-D unit vectors in an R*-tree ([`rstar`]), not as raw lat/lng: the
//! Euclidean (chord) distance between unit vectors is a monotonic function of great-circle
//! distance, so the tree's nearest-first order *is* the order on the ground, at any latitude
//! (a degree of longitude in 哈尔滨 is 40 % shorter than in 三亚; a lat/lng tree would rank
//! them as equal). Coordinates are `f64`, so ordering and radius errors are at the
//! nanometre scale; final distances are haversine metres, and results are re-checked
//! against the radius with them.
//!
//! Tree leaves hold the vector, the lat/lng and a slot number; ids and payloads live once,
//! in a slab (laid out in the tree's spatial order by [`StationIndex::bulk_load`], so a
//! query's slab reads are mostly cache hits), and a `HashMap` from id to slot makes upsert
//! and remove O(log n).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::mem::size_of;
use std::sync::Arc;

use rstar::{ParentNode, PointDistance, RTree, RTreeNode, RTreeObject, AABB};

use crate::geo::{chord_for_metres, haversine_m, to_unit_vector, LatLng};

/// Relative slack on squared chord distances, so that candidates whose chord and haversine
/// distances disagree by float rounding (about 1e-15 relative) are never lost.
const REL_EPS: f64 = 1e-9;
/// Absolute slack on squared chord distances (a chord of 1e-9, about 6 mm).
const ABS_EPS: f64 = 1e-18;
/// Padding of a bounding box's 3-D envelope (about 6 µm on the ground).
const BOX_PAD: f64 = 1e-12;

/// One result: borrowed from the index.
#[derive(Debug)]
pub struct Hit<'a, T> {
    pub id: &'a str,
    pub at: LatLng,
    /// Great-circle distance in metres from the query point ([`StationIndex::nearby`]) or
    /// from the centre of the box ([`StationIndex::within_bbox`]).
    pub distance_m: f64,
    pub payload: &'a T,
}

impl<T> Clone for Hit<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Hit<'_, T> {}

/// A bounding-box match, ordered by squared chord distance from the box centre, then id.
struct Candidate<'a> {
    d2: f64,
    id: &'a str,
    slot: usize,
}

impl Ord for Candidate<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.d2
            .total_cmp(&other.d2)
            .then_with(|| self.id.cmp(other.id))
    }
}

impl PartialOrd for Candidate<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate<'_> {}

/// What the tree stores: the unit vector, the position (free: a leaf takes the space of a
/// parent node, 72 bytes, anyway) and where the rest lives.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TreePoint {
    v: [f64; 3],
    at: LatLng,
    slot: usize,
}

impl RTreeObject for TreePoint {
    type Envelope = AABB<[f64; 3]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.v)
    }
}

impl PointDistance for TreePoint {
    fn distance_2(&self, point: &[f64; 3]) -> f64 {
        chord_2(&self.v, point)
    }

    fn contains_point(&self, point: &[f64; 3]) -> bool {
        self.v == *point
    }
}

/// Squared Euclidean distance between two 3-D points.
fn chord_2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    let dz = a[2] - b[2];
    dx * dx + dy * dy + dz * dz
}

struct Slot<T> {
    id: Arc<str>,
    at: LatLng,
    payload: T,
}

/// Whether a position can go in the tree (NaN would poison its envelopes). Entries at
/// non-finite positions are kept (and found by [`StationIndex::get`]) but never found
/// spatially; callers validate with [`crate::geo::parse_lat_lng`] first.
fn indexable(at: LatLng) -> bool {
    at.lat.is_finite() && at.lng.is_finite()
}

fn tree_point(at: LatLng, slot: usize) -> TreePoint {
    TreePoint {
        v: to_unit_vector(at),
        at,
        slot,
    }
}

/// A spatial index from id to (position, payload). See the module docs.
pub struct StationIndex<T> {
    tree: RTree<TreePoint>,
    slots: Vec<Option<Slot<T>>>,
    free: Vec<usize>,
    by_id: HashMap<Arc<str>, usize>,
}

impl<T> Default for StationIndex<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for StationIndex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StationIndex")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T> StationIndex<T> {
    pub fn new() -> Self {
        Self {
            tree: RTree::new(),
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    /// Builds the index in one go (much faster, and a better tree, than inserting one by
    /// one). A repeated id keeps its last entry.
    pub fn bulk_load(entries: Vec<(String, LatLng, T)>) -> Self {
        let mut slots: Vec<Option<Slot<T>>> = Vec::with_capacity(entries.len());
        let mut by_id: HashMap<Arc<str>, usize> = HashMap::with_capacity(entries.len());
        for (id, at, payload) in entries {
            if let Some(slot) = by_id
                .get(id.as_str())
                .and_then(|&i| slots.get_mut(i))
                .and_then(Option::as_mut)
            {
                slot.at = at;
                slot.payload = payload;
                continue;
            }
            let id: Arc<str> = Arc::from(id);
            by_id.insert(Arc::clone(&id), slots.len());
            slots.push(Some(Slot { id, at, payload }));
        }
        let points = slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.as_ref()
                    .filter(|s| indexable(s.at))
                    .map(|s| tree_point(s.at, i))
            })
            .collect();
        let mut index = Self {
            tree: RTree::bulk_load(points),
            slots,
            free: Vec::new(),
            by_id,
        };
        index.lay_out_slots_in_tree_order();
        index
    }

    /// Renumbers the slots in the tree's (spatially coherent) leaf order, so the entries a
    /// query visits together are together in memory: in insertion order each one is a
    /// cache miss, which dominates query time at national scale.
    fn lay_out_slots_in_tree_order(&mut self) {
        const NONE: usize = usize::MAX;
        let mut new_of_old = vec![NONE; self.slots.len()];
        let mut order: Vec<usize> = Vec::with_capacity(self.slots.len());
        for point in self.tree.iter() {
            if let Some(new) = new_of_old.get_mut(point.slot) {
                *new = order.len();
                order.push(point.slot);
            }
        }
        // Entries not in the tree (non-finite positions) go last.
        for (old, slot) in self.slots.iter().enumerate() {
            if slot.is_some() && new_of_old.get(old) == Some(&NONE) {
                new_of_old[old] = order.len();
                order.push(old);
            }
        }
        let mut old_slots = std::mem::take(&mut self.slots);
        self.slots = order
            .iter()
            .map(|&old| old_slots.get_mut(old).and_then(Option::take))
            .collect();
        self.free.clear();
        for point in self.tree.iter_mut() {
            point.slot = new_of_old.get(point.slot).copied().unwrap_or(NONE);
        }
        for slot in self.by_id.values_mut() {
            *slot = new_of_old.get(*slot).copied().unwrap_or(NONE);
        }
    }

    /// Inserts an entry, or replaces the one with this id (which may have moved).
    pub fn upsert(&mut self, id: String, at: LatLng, payload: T) {
        if let Some(&i) = self.by_id.get(id.as_str()) {
            if let Some(slot) = self.slots.get_mut(i).and_then(Option::as_mut) {
                if slot.at != at {
                    if indexable(slot.at) {
                        self.tree.remove(&tree_point(slot.at, i));
                    }
                    if indexable(at) {
                        self.tree.insert(tree_point(at, i));
                    }
                    slot.at = at;
                }
                slot.payload = payload;
                return;
            }
            // A map entry without a slot cannot happen; if it did, start afresh below.
            self.by_id.remove(id.as_str());
        }
        let id: Arc<str> = Arc::from(id);
        let slot = Slot {
            id: Arc::clone(&id),
            at,
            payload,
        };
        let i = match self.free.pop() {
            Some(i) if i < self.slots.len() => {
                self.slots[i] = Some(slot);
                i
            }
            _ => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.by_id.insert(id, i);
        if indexable(at) {
            self.tree.insert(tree_point(at, i));
        }
    }

    /// Removes an entry, returning its payload.
    pub fn remove(&mut self, id: &str) -> Option<T> {
        let i = self.by_id.remove(id)?;
        let slot = self.slots.get_mut(i)?.take()?;
        if indexable(slot.at) {
            self.tree.remove(&tree_point(slot.at, i));
        }
        self.free.push(i);
        Some(slot.payload)
    }

    pub fn get(&self, id: &str) -> Option<(&LatLng, &T)> {
        let slot = self.slot(*self.by_id.get(id)?)?;
        Some((&slot.at, &slot.payload))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every entry as (id, position, payload), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &LatLng, &T)> + '_ {
        self.slots
            .iter()
            .flatten()
            .map(|s| (&*s.id, &s.at, &s.payload))
    }

    /// Every payload, in no particular order (e.g. to add payload-owned heap to
    /// [`StationIndex::approx_heap_bytes`]).
    pub fn payloads(&self) -> impl Iterator<Item = &T> + '_ {
        self.slots.iter().flatten().map(|s| &s.payload)
    }

    fn slot(&self, i: usize) -> Option<&Slot<T>> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    fn hit(&self, i: usize, from: LatLng) -> Option<Hit<'_, T>> {
        let slot = self.slot(i)?;
        Some(Hit {
            id: &slot.id,
            at: slot.at,
            distance_m: haversine_m(from, slot.at),
            payload: &slot.payload,
        })
    }

    /// Nearest first, within `radius_m` (great-circle metres, haversine), only entries for
    /// which `filter` is true, at most `limit`. Equal distances are ordered by id.
    ///
    /// Walks the tree nearest-first and stops at the radius or as soon as `limit` entries
    /// have passed the filter (plus any within float rounding of the last one, so the
    /// order is exactly that of haversine distance, then id). The only allocations are
    /// the result and the walk's node queue.
    pub fn nearby(
        &self,
        at: LatLng,
        radius_m: f64,
        limit: usize,
        mut filter: impl FnMut(&T) -> bool,
    ) -> Vec<Hit<'_, T>> {
        if limit == 0 || !indexable(at) || radius_m.is_nan() || radius_m < 0.0 {
            return Vec::new();
        }
        let q = to_unit_vector(at);
        let chord = chord_for_metres(radius_m);
        let max_d2 = chord * chord * (1.0 + REL_EPS) + ABS_EPS;
        let mut cutoff = max_d2;
        let mut hits: Vec<Hit<'_, T>> = Vec::with_capacity(limit.min(128));
        for (point, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&q) {
            if d2 > cutoff {
                break;
            }
            let Some(slot) = self.slot(point.slot) else {
                continue;
            };
            if !filter(&slot.payload) {
                continue;
            }
            let distance_m = haversine_m(at, point.at);
            if distance_m > radius_m {
                continue;
            }
            hits.push(Hit {
                id: &slot.id,
                at: point.at,
                distance_m,
                payload: &slot.payload,
            });
            if hits.len() == limit {
                // Keep going only for near-ties with the last one.
                cutoff = cutoff.min(d2 * (1.0 + REL_EPS) + ABS_EPS);
            }
        }
        hits.sort_unstable_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then_with(|| a.id.cmp(b.id))
        });
        hits.truncate(limit);
        hits
    }

    /// Entries inside the box `min.lat..=max.lat`, `min.lng..=max.lng` for which `filter`
    /// is true: at most `cap` of them, and whether more matched (`truncated`). The hits are
    /// the `cap` nearest the centre of the box, nearest first (ties by id), with
    /// `distance_m` measured from that centre.
    ///
    /// The tree is searched with the (padded) 3-D bounding box of the lat/lng box's image on
    /// the sphere, then candidates are checked exactly against the lat/lng box. Work is
    /// proportional to the number of entries in the box (about 3–5 ms in release for all
    /// 150,000 of a national index, so the API should bound the box); memory to `cap`. A box with `min` greater than `max`
    /// in either coordinate (e.g. one crossing the antimeridian) matches nothing.
    pub fn within_bbox(
        &self,
        min: LatLng,
        max: LatLng,
        cap: usize,
        mut filter: impl FnMut(&T) -> bool,
    ) -> (Vec<Hit<'_, T>>, bool) {
        if !indexable(min) || !indexable(max) || min.lat > max.lat || min.lng > max.lng {
            return (Vec::new(), false);
        }
        let centre = LatLng {
            lat: (min.lat + max.lat) / 2.0,
            lng: (min.lng + max.lng) / 2.0,
        };
        let q = to_unit_vector(centre);
        let envelope = sphere_box_envelope(min, max);
        // The `cap` nearest matches so far, farthest on top; memory O(cap).
        let mut best: BinaryHeap<Candidate<'_>> = BinaryHeap::with_capacity(cap.min(1024));
        let mut matched = 0usize;
        for point in self.tree.locate_in_envelope(&envelope) {
            let p = point.at;
            if p.lat < min.lat || p.lat > max.lat || p.lng < min.lng || p.lng > max.lng {
                continue;
            }
            let Some(slot) = self.slot(point.slot) else {
                continue;
            };
            if !filter(&slot.payload) {
                continue;
            }
            matched += 1;
            let candidate = Candidate {
                d2: chord_2(&point.v, &q),
                id: &slot.id,
                slot: point.slot,
            };
            if best.len() < cap {
                best.push(candidate);
            } else if let Some(mut farthest) = best.peek_mut() {
                if candidate < *farthest {
                    *farthest = candidate;
                }
            }
        }
        let hits = best
            .into_sorted_vec()
            .into_iter()
            .filter_map(|c| self.hit(c.slot, centre))
            .collect();
        let truncated = matched > cap;
        (hits, truncated)
    }

    /// An estimate of the heap the index holds, in bytes: tree nodes, the slab (positions
    /// and `size_of::<T>()` payloads), id strings, the id map, each allocation rounded as
    /// glibc malloc does. Heap owned *by* payloads is not counted.
    pub fn approx_heap_bytes(&self) -> usize {
        let tree = parent_node_heap_bytes(self.tree.root());
        let slab = malloc_size(self.slots.capacity() * size_of::<Option<Slot<T>>>())
            + malloc_size(self.free.capacity() * size_of::<usize>());
        // Arc<str>: strong and weak counts, then the bytes.
        let ids: usize = self
            .slots
            .iter()
            .flatten()
            .map(|s| malloc_size(2 * size_of::<usize>() + s.id.len()))
            .sum();
        let map = hash_map_bytes::<Arc<str>, usize>(self.by_id.capacity());
        size_of::<Self>() + tree + slab + ids + map
    }
}

/// The bytes glibc malloc uses for a request of `n` (8-byte header, 16-byte granules,
/// 32-byte minimum); 0 for no allocation.
fn malloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

fn parent_node_heap_bytes(node: &ParentNode<TreePoint>) -> usize {
    let children = node.children();
    let own = malloc_size(std::mem::size_of_val(children));
    own + children
        .iter()
        .map(|child| match child {
            RTreeNode::Parent(p) => parent_node_heap_bytes(p),
            RTreeNode::Leaf(_) => 0,
        })
        .sum::<usize>()
}

/// hashbrown's table for `capacity`: a power-of-two number of buckets at most 7/8 full,
/// each a (K, V) and one control byte, plus a group of trailing control bytes.
fn hash_map_bytes<K, V>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity.saturating_mul(8) / 7).next_power_of_two()
    };
    malloc_size(buckets * (size_of::<(K, V)>() + 1) + 16)
}

/// The axis-aligned 3-D box that holds the image on the unit sphere of the lat/lng box
/// `[min.lat, max.lat] × [min.lng, max.lng]` (with `min <= max`, lng within ±180), padded
/// against rounding.
///
/// On the sphere x = cos φ · cos λ, y = cos φ · sin λ, z = sin φ, with φ and λ ranging
/// independently. z is monotonic in φ. cos φ (≥ 0) is extreme at the ends of the latitude
/// range or at the equator; cos λ and sin λ at the ends of the longitude range or where they
/// reach ±1 inside it. x and y are products of two independent factors, so their extremes
/// are among the products of the factors' extremes.
fn sphere_box_envelope(min: LatLng, max: LatLng) -> AABB<[f64; 3]> {
    use std::f64::consts::{FRAC_PI_2, PI};

    let (phi0, phi1) = (min.lat.to_radians(), max.lat.to_radians());
    let (lam0, lam1) = (
        min.lng.to_radians().clamp(-PI, PI),
        max.lng.to_radians().clamp(-PI, PI),
    );
    let contains = |lo: f64, hi: f64, v: f64| lo <= v && v <= hi;

    let cos_phi = (
        phi0.cos().min(phi1.cos()).max(0.0),
        if contains(phi0, phi1, 0.0) {
            1.0
        } else {
            phi0.cos().max(phi1.cos())
        },
    );
    let cos_lam = (
        lam0.cos().min(lam1.cos()),
        if contains(lam0, lam1, 0.0) {
            1.0
        } else {
            lam0.cos().max(lam1.cos())
        },
    );
    let sin_lam = (
        if contains(lam0, lam1, -FRAC_PI_2) {
            -1.0
        } else {
            lam0.sin().min(lam1.sin())
        },
        if contains(lam0, lam1, FRAC_PI_2) {
            1.0
        } else {
            lam0.sin().max(lam1.sin())
        },
    );
    let product_range = |a: (f64, f64), b: (f64, f64)| {
        let products = [a.0 * b.0, a.0 * b.1, a.1 * b.0, a.1 * b.1];
        let lo = products.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = products.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let x = product_range(cos_phi, cos_lam);
    let y = product_range(cos_phi, sin_lam);
    let z = (phi0.sin(), phi1.sin());
    AABB::from_corners(
        [x.0 - BOX_PAD, y.0 - BOX_PAD, z.0 - BOX_PAD],
        [x.1 + BOX_PAD, y.1 + BOX_PAD, z.1 + BOX_PAD],
    )
}

#[cfg(test)]
mod tests {
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
        for _ in 0..queries {
            let at = random_query(rng, all);
            // Log-uniform 100 m to 50 km.
            let radius_m = 100.0 * 500f64.powf(rng.unit());
            let limit = 1 + rng.below(100);
            let mask = random_filter(rng);
            let got: Vec<(&str, f64)> = index
                .nearby(at, radius_m, limit, |bits| bits & mask == mask)
                .iter()
                .map(|h| (h.id, h.distance_m))
                .collect();
            let want = brute_nearby(all, at, radius_m, limit, mask);
            assert_eq!(
                got, want,
                "at {at:?}, radius {radius_m}, limit {limit}, mask {mask:#x}"
            );
            nonempty += usize::from(!want.is_empty());
            full += usize::from(want.len() == limit);
        }
        // The data exercise both early stop at the limit and stop at the radius.
        assert!(nonempty > queries / 2, "{nonempty}");
        assert!(full > queries / 5, "{full}");
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
}
