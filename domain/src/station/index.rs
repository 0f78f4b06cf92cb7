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
//! Tree leaves hold the vector, the lat/lng, a slot number, and the caller's tag and memo
//! words (see [`Candidate`]); ids and payloads live once,
//! in a slab (laid out in the tree's spatial order by [`StationIndex::bulk_load`], so a
//! query's slab reads are mostly cache hits), and a `HashMap` from id to slot makes upsert
//! and remove O(log n).
//!
//! A search's filter sees each candidate's tag (e.g. amenity bits, type, whether it can be
//! open at all) and memo (e.g. a cached open/closed window) in the leaf the search has already
//! read, and reads the payload from the slab only when those cannot decide: at night, when
//! most candidates fail, the search touches little but the tree.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::mem::size_of;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use rstar::{ParentNode, PointDistance, RTree, RTreeNode, RTreeObject, RTreeParams, AABB};

use crate::geo::{chord_for_metres, haversine_m, to_unit_vector, LatLng};

/// Relative slack on squared chord distances, so that candidates whose chord and haversine
/// distances disagree by float rounding (about 1e-15 relative) are never lost.
const REL_EPS: f64 = 1e-9;
/// Absolute slack on squared chord distances (a chord of 1e-9, about 6 mm).
const ABS_EPS: f64 = 1e-18;
/// More than the rounding of a chord between two unit vectors (about 6e-7 m on the ground).
const CHORD_ROUNDING: f64 = 1e-13;
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
struct Ranked<'a> {
    d2: f64,
    id: &'a str,
    slot: usize,
}

impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.d2
            .total_cmp(&other.d2)
            .then_with(|| self.id.cmp(other.id))
    }
}

impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked<'_> {}

/// What the tree stores: the unit vector, the position, the caller's tag and memo (all
/// free: a leaf takes the space of a parent node, 72 bytes, anyway) and where the rest
/// lives.
#[derive(Debug)]
struct TreePoint {
    v: [f64; 3],
    at: LatLng,
    slot: usize,
    tag: u32,
    memo: AtomicU64,
}

/// A point is found again (to be removed) by its position and slot.
impl PartialEq for TreePoint {
    fn eq(&self, other: &Self) -> bool {
        self.v == other.v && self.slot == other.slot
    }
}

/// A candidate of a search, as its filter sees it: the tag and memo words kept in the
/// tree's leaf (read without touching the slab), and the payload on demand.
///
/// The tag is what the caller gave with the entry ([`StationIndex::upsert_tagged`]). The
/// memo starts at 0 whenever the entry is inserted or replaced, and is the caller's to
/// use as a cache of something derived from the payload alone (searches hold only a shared
/// borrow, hence an atomic; concurrent writers must each write a correct value).
pub struct Candidate<'a, T> {
    point: &'a TreePoint,
    slots: &'a [Option<Slot<T>>],
}

impl<'a, T> Candidate<'a, T> {
    pub fn tag(&self) -> u32 {
        self.point.tag
    }

    pub fn memo(&self) -> &'a AtomicU64 {
        &self.point.memo
    }

    /// The payload (a slab read).
    pub fn payload(&self) -> Option<&'a T> {
        self.slots
            .get(self.point.slot)
            .and_then(Option::as_ref)
            .map(|s| &s.payload)
    }
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

/// A squared chord, ordered (for the heap of the nearest passing so far).
#[derive(Debug, Clone, Copy, PartialEq)]
struct D2(f64);

impl Eq for D2 {}

impl PartialOrd for D2 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for D2 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The state of one descent of [`StationIndex::nearby_by`].
struct Descent<'t, 'f, T, F> {
    at: LatLng,
    radius_m: f64,
    q: [f64; 3],
    /// Squared chords below this are inside the radius whatever the rounding.
    inside: f64,
    limit: usize,
    /// Nothing farther (squared chord) can be in the answer.
    cutoff: f64,
    /// The squared chords of the `limit` nearest candidates that passed so far, farthest
    /// on top.
    nearest: BinaryHeap<D2>,
    /// Every candidate that passed and was within the cutoff when it did.
    passed: Vec<(f64, &'t TreePoint)>,
    /// The length of `passed` at which it is next compacted to the cutoff.
    compact_at: usize,
    slots: &'t [Option<Slot<T>>],
    filter: &'f mut F,
}

/// The most child nodes [`Descent::visit`] orders by distance, on the stack. Inserts keep a
/// node to [`Nodes::MAX_SIZE`] children, but bulk loading cuts each level into up to 3
/// slabs per axis and can leave 27 (rstar says so); were a node to have more than this,
/// the rest would be visited in their own order, which is as exact, only slower.
const ORDERED_CHILDREN: usize = 32;

impl<'t, T, F: FnMut(Candidate<'_, T>) -> bool> Descent<'t, '_, T, F> {
    fn visit(&mut self, node: &'t ParentNode<TreePoint>) {
        let children = node.children();
        let mut order = [(0.0f64, 0u8); ORDERED_CHILDREN];
        let mut parents = 0;
        for (i, child) in children.iter().enumerate() {
            match child {
                RTreeNode::Leaf(point) => {
                    let d2 = chord_2(&point.v, &self.q);
                    if d2 <= self.cutoff {
                        self.consider(point, d2);
                    }
                }
                RTreeNode::Parent(inner) => {
                    let d2 = inner.envelope().distance_2(&self.q);
                    if d2 > self.cutoff {
                        continue;
                    }
                    match (order.get_mut(parents), u8::try_from(i)) {
                        (Some(slot), Ok(i)) => {
                            *slot = (d2, i);
                            parents += 1;
                        }
                        _ => self.visit(inner),
                    }
                }
            }
        }
        let order = &mut order[..parents];
        // Insertion sort: a handful of children.
        for i in 1..order.len() {
            let mut j = i;
            while j > 0 && order[j - 1].0 > order[j].0 {
                order.swap(j - 1, j);
                j -= 1;
            }
        }
        // Each child's own list of children is elsewhere in memory, and at national scale
        // not in the CPU's cache. Read here, all of each list, in a loop whose reads do
        // not depend on each other, the CPU waits for the lists together, not for one per
        // descent. (Reading only each list's first entry was no faster.) Children that
        // this node's own leaves already put beyond the cutoff are not visited, nor read.
        let mut touched = 0usize;
        for &(_, i) in order.iter().take_while(|&&(d2, _)| d2 <= self.cutoff) {
            if let Some(RTreeNode::Parent(inner)) = children.get(usize::from(i)) {
                touched += inner
                    .children()
                    .iter()
                    .filter(|c| matches!(c, RTreeNode::Leaf(_)))
                    .count();
            }
        }
        std::hint::black_box(touched);
        for &(d2, i) in order.iter() {
            if d2 > self.cutoff {
                break;
            }
            if let Some(RTreeNode::Parent(inner)) = children.get(usize::from(i)) {
                self.visit(inner);
            }
        }
    }

    fn consider(&mut self, point: &'t TreePoint, d2: f64) {
        let candidate = Candidate {
            point,
            slots: self.slots,
        };
        if !(self.filter)(candidate) {
            return;
        }
        if d2 >= self.inside && haversine_m(self.at, point.at) > self.radius_m {
            return;
        }
        self.passed.push((d2, point));
        self.nearest.push(D2(d2));
        if self.nearest.len() > self.limit {
            self.nearest.pop();
        }
        if self.nearest.len() == self.limit {
            if let Some(kth) = self.nearest.peek() {
                self.cutoff = self.cutoff.min(kth.0 * (1.0 + REL_EPS) + ABS_EPS);
            }
        }
        // Keep the list to a few times the limit: drop what passed before the cutoff came
        // down. When more than that tie within the slack (a building of chargers), the
        // next compaction waits for the list to double, so compacting stays linear.
        if self.passed.len() >= self.compact_at {
            let cutoff = self.cutoff;
            self.passed.retain(|&(d2, _)| d2 <= cutoff);
            self.compact_at = self.compact_at.max(self.passed.len().saturating_mul(2));
        }
    }
}

/// The tree's node sizes: up to 16 children where rstar's default is 6, so a query reads
/// longer runs of neighbouring leaves and fewer separately allocated nodes (at night, 5 %
/// more searches a second at the benchmark's busy points, the same by day; ADR 026).
struct Nodes;

impl RTreeParams for Nodes {
    const MIN_SIZE: usize = 6;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = rstar::RStarInsertionStrategy;
}

struct Slot<T> {
    id: Arc<str>,
    at: LatLng,
    tag: u32,
    payload: T,
}

/// Whether a position can go in the tree (NaN would poison its envelopes). Entries at
/// non-finite positions are kept (and found by [`StationIndex::get`]) but never found
/// spatially; callers validate with [`crate::geo::parse_lat_lng`] first.
fn indexable(at: LatLng) -> bool {
    at.lat.is_finite() && at.lng.is_finite()
}

/// A fresh leaf (its memo cleared).
fn tree_point(at: LatLng, slot: usize, tag: u32) -> TreePoint {
    TreePoint {
        v: to_unit_vector(at),
        at,
        slot,
        tag,
        memo: AtomicU64::new(0),
    }
}

/// A spatial index from id to (position, payload). See the module docs.
pub struct StationIndex<T> {
    tree: RTree<TreePoint, Nodes>,
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
            tree: RTree::new_with_params(),
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    /// Builds the index in one go (much faster, and a better tree, than inserting one by
    /// one). A repeated id keeps its last entry. Every tag is 0.
    pub fn bulk_load(entries: Vec<(String, LatLng, T)>) -> Self {
        Self::bulk_load_tagged(
            entries
                .into_iter()
                .map(|(id, at, payload)| (id, at, 0, payload)),
        )
    }

    /// [`Self::bulk_load`] with each entry's tag (see [`Candidate`]).
    pub fn bulk_load_tagged(entries: impl IntoIterator<Item = (String, LatLng, u32, T)>) -> Self {
        let entries = entries.into_iter();
        let mut slots: Vec<Option<Slot<T>>> = Vec::with_capacity(entries.size_hint().0);
        let mut by_id: HashMap<Arc<str>, usize> = HashMap::with_capacity(entries.size_hint().0);
        for (id, at, tag, payload) in entries {
            if let Some(slot) = by_id
                .get(id.as_str())
                .and_then(|&i| slots.get_mut(i))
                .and_then(Option::as_mut)
            {
                slot.at = at;
                slot.tag = tag;
                slot.payload = payload;
                continue;
            }
            let id: Arc<str> = Arc::from(id);
            by_id.insert(Arc::clone(&id), slots.len());
            slots.push(Some(Slot {
                id,
                at,
                tag,
                payload,
            }));
        }
        let points = slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.as_ref()
                    .filter(|s| indexable(s.at))
                    .map(|s| tree_point(s.at, i, s.tag))
            })
            .collect();
        let mut index = Self {
            tree: RTree::bulk_load_with_params(points),
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

    /// Inserts an entry, or replaces the one with this id (which may have moved). Its tag
    /// is 0.
    pub fn upsert(&mut self, id: String, at: LatLng, payload: T) {
        self.upsert_tagged(id, at, 0, payload);
    }

    /// [`Self::upsert`] with the entry's tag; the leaf is replaced, so its memo starts
    /// afresh.
    pub fn upsert_tagged(&mut self, id: String, at: LatLng, tag: u32, payload: T) {
        if let Some(&i) = self.by_id.get(id.as_str()) {
            if let Some(slot) = self.slots.get_mut(i).and_then(Option::as_mut) {
                // In place when it has not moved (a catch-up re-reads unchanged stations
                // every second): the leaf gets the new tag and an empty memo, and the
                // bulk-loaded tree keeps its shape.
                let fresh = tree_point(at, i, tag);
                let in_place = slot.at == at
                    && indexable(at)
                    && self
                        .tree
                        .locate_all_at_point_mut(&fresh.v)
                        .find(|leaf| leaf.slot == i)
                        .map(|leaf| *leaf = tree_point(at, i, tag))
                        .is_some();
                if !in_place {
                    if indexable(slot.at) {
                        let removed = self.tree.remove(&tree_point(slot.at, i, slot.tag));
                        debug_assert!(removed.is_some(), "a slot's leaf is in the tree");
                    }
                    if indexable(at) {
                        self.tree.insert(fresh);
                    }
                }
                slot.at = at;
                slot.tag = tag;
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
            tag,
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
            self.tree.insert(tree_point(at, i, tag));
        }
    }

    /// Removes an entry, returning its payload.
    pub fn remove(&mut self, id: &str) -> Option<T> {
        let i = self.by_id.remove(id)?;
        let slot = self.slots.get_mut(i)?.take()?;
        if indexable(slot.at) {
            let removed = self.tree.remove(&tree_point(slot.at, i, slot.tag));
            debug_assert!(removed.is_some(), "a slot's leaf is in the tree");
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

    fn candidate<'a>(&'a self, point: &'a TreePoint) -> Candidate<'a, T> {
        Candidate {
            point,
            slots: &self.slots,
        }
    }

    fn hit(&self, i: usize, from: LatLng) -> Option<Hit<'_, T>> {
        let mut hit = self.unmeasured_hit(i)?;
        hit.distance_m = haversine_m(from, hit.at);
        Some(hit)
    }

    /// The hit for slot `i` before its distance is measured (0 until then).
    fn unmeasured_hit(&self, i: usize) -> Option<Hit<'_, T>> {
        let slot = self.slot(i)?;
        Some(Hit {
            id: &slot.id,
            at: slot.at,
            distance_m: 0.0,
            payload: &slot.payload,
        })
    }

    /// Nearest first, within `radius_m` (great-circle metres, haversine), only entries for
    /// which `filter` is true, at most `limit`. Equal distances are ordered by id.
    ///
    /// See [`Self::nearby_by`] for how. The only allocations are the result and the list
    /// of candidates that passed (a few times `limit`, or twice the stations tied at the
    /// `limit`-th distance when more than that tie).
    pub fn nearby(
        &self,
        at: LatLng,
        radius_m: f64,
        limit: usize,
        mut filter: impl FnMut(&T) -> bool,
    ) -> Vec<Hit<'_, T>> {
        self.nearby_by(at, radius_m, limit, |c| {
            c.payload().is_some_and(&mut filter)
        })
    }

    /// [`Self::nearby`] with a filter that sees the leaf first ([`Candidate`]).
    ///
    /// One depth-first descent of the tree, nearer subtrees first (branch and bound): a
    /// subtree is skipped when its box lies beyond the radius or, once `limit` candidates
    /// have passed the filter, beyond the `limit`-th nearest of them. By day near a town
    /// centre, `limit` stations pass within a few dozen and the rest of the tree is cut
    /// off; at night, when few pass, it visits each leaf in the radius once, a few
    /// comparisons each, with no priority queue (the nearest-first walk it replaced took
    /// every candidate through one, three times the cost). Candidates within float rounding
    /// of the `limit`-th are kept, and the answer is ranked by haversine distance then id,
    /// so it is exactly the nearest-first order whatever the order of the visit.
    pub fn nearby_by(
        &self,
        at: LatLng,
        radius_m: f64,
        limit: usize,
        mut filter: impl FnMut(Candidate<'_, T>) -> bool,
    ) -> Vec<Hit<'_, T>> {
        if limit == 0 || !indexable(at) || radius_m.is_nan() || radius_m < 0.0 {
            return Vec::new();
        }
        let chord = chord_for_metres(radius_m);
        let mut descent = Descent {
            at,
            radius_m,
            q: to_unit_vector(at),
            // Chords below this are inside the radius whatever the rounding: a relative
            // margin, and an absolute one for the unit vectors' own rounding (about 1e-15
            // each), which outweighs the relative one below a radius of about a metre.
            inside: (chord - CHORD_ROUNDING).max(0.0).powi(2) * (1.0 - 4.0 * REL_EPS),
            limit,
            cutoff: chord * chord * (1.0 + REL_EPS) + ABS_EPS,
            nearest: BinaryHeap::with_capacity(limit.min(128).saturating_add(1)),
            passed: Vec::with_capacity(limit.min(128)),
            compact_at: limit.saturating_mul(4).max(64),
            slots: &self.slots,
            filter: &mut filter,
        };
        descent.visit(self.tree.root());
        let Descent { passed, cutoff, .. } = descent;
        // The slots first, then the distances: at national scale a hit's slot is a cache
        // miss, and in a loop that only reads the slots the CPU waits for them together;
        // with each haversine in the same loop, for one after another.
        let mut hits: Vec<Hit<'_, T>> = passed
            .into_iter()
            .filter(|&(d2, _)| d2 <= cutoff)
            .filter_map(|(_, point)| self.unmeasured_hit(point.slot))
            .collect();
        for hit in &mut hits {
            hit.distance_m = haversine_m(at, hit.at);
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
        self.within_bbox_by(min, max, cap, |c| c.payload().is_some_and(&mut filter))
    }

    /// [`Self::within_bbox`] with a filter that sees the leaf first ([`Candidate`]).
    pub fn within_bbox_by(
        &self,
        min: LatLng,
        max: LatLng,
        cap: usize,
        mut filter: impl FnMut(Candidate<'_, T>) -> bool,
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
        let mut best: BinaryHeap<Ranked<'_>> = BinaryHeap::with_capacity(cap.min(1024));
        let mut matched = 0usize;
        for point in self.tree.locate_in_envelope(&envelope) {
            let p = point.at;
            if p.lat < min.lat || p.lat > max.lat || p.lng < min.lng || p.lng > max.lng {
                continue;
            }
            if !filter(self.candidate(point)) {
                continue;
            }
            let Some(slot) = self.slot(point.slot) else {
                continue;
            };
            matched += 1;
            let candidate = Ranked {
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
#[path = "index_tests.rs"]
mod tests;
