//! Finding stations: the nearest ones with what a rider needs, and a map view's box. Public
//! (riders look before they sign in), answered from the process's in-memory index without
//! touching the database.
//!
//! The live station search of one process (ADR 011): every station in an in-memory spatial
//! index, built at start, caught up with the database every `GONGYOU_STATION_REFRESH_MS`
//! (stations whose `updated_at` is after the previous catch-up began, less an overlap for
//! late commits and clock skew between replicas), at once when any replica announces a
//! change on the key/value store's `stations.changed` channel, and rebuilt from scratch
//! every `GONGYOU_STATION_RESYNC_SECS` as a safety net.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use gongyou_db::kv::{Kv, Rate, RateDecision};
use gongyou_db::stations::{self as db, SearchRow};
use gongyou_db::{Db, DbError};
use gongyou_domain::clock::SharedClock;
use gongyou_domain::geo::{self, LatLng};
use gongyou_domain::station::index::{Candidate, Hit, StationIndex};
use gongyou_domain::station::{
    open_now_local, Amenity, AmenitySet, OpeningHours, StationStatus, StationType,
};
use gongyou_domain::time::china_local;
use serde::Serialize;
use serde_json::value::{to_raw_value, RawValue};
use utoipa::ToSchema;

use super::bad;
use super::views::{hhmm, SpanView};
use crate::error::{ServiceError, ServiceResult};

/// The channel replicas announce station changes on.
pub const CHANGED: &str = "stations.changed";
/// Catch-ups re-read this much before the previous one began, so a write that committed late
/// (its `updated_at` older than that read) or came from a replica whose clock is behind is
/// not missed.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(5);

/// What search needs of a station, kept in the index.
#[derive(Debug)]
pub struct Entry {
    /// The id, the name and the address as JSON strings, one after the other: escaped once
    /// when the station is read rather than in every answer that lists it, and in one
    /// allocation, so an answer reads one place in memory for them, not three (at national
    /// scale a search's stations are not in the CPU's cache, and each place is a miss).
    text: Box<str>,
    /// Where the id's and the name's JSON end in `text`.
    id_end: u32,
    name_end: u32,
    pub kind: StationType,
    pub amenities: AmenitySet,
    /// The amenity codes as a JSON array, shared between stations with the same set.
    pub amenities_json: Arc<RawValue>,
    pub status: StationStatus,
    pub reopens_at: Option<DateTime<Utc>>,
    /// Shared between stations with the same hours.
    pub hours: Arc<OpeningHours>,
    /// The station's version: an older read never replaces a newer one.
    pub version: i32,
}

/// How many stations the index reads from the database at a time when it (re)builds.
const LOAD_PAGE: i64 = 5000;

/// An instant, and the same in Asia/Shanghai (converted once per search).
#[derive(Debug, Clone, Copy)]
pub struct When {
    pub at: DateTime<Utc>,
    pub local: chrono::NaiveDateTime,
    /// `local` in whole minutes since 1970-01-01 00:00 (Beijing wall clock), and the
    /// same at that day's midnight: the scale of the cached open windows (none when out
    /// of its range).
    minute: Option<(u32, u32)>,
}

impl When {
    pub fn new(at: DateTime<Utc>) -> Self {
        let local = china_local(at);
        let minute = u32::try_from(local.and_utc().timestamp().div_euclid(60))
            .ok()
            .and_then(|m| Some((m, m.checked_sub(local.hour() * 60 + local.minute())?)));
        Self { at, local, minute }
    }

    /// Today in Asia/Shanghai.
    pub fn today(&self) -> chrono::NaiveDate {
        self.local.date()
    }
}

impl Entry {
    /// The id, name and address as JSON strings, in one allocation.
    fn text(id: &str, name: &str, address: &str) -> Option<(Box<str>, u32, u32)> {
        let parts = [
            to_raw_value(id).ok()?,
            to_raw_value(name).ok()?,
            to_raw_value(address).ok()?,
        ];
        // Allocated at its exact size: a grown string shrunk afterwards can keep its larger
        // block (megabytes over a national index).
        let mut text = String::with_capacity(parts.iter().map(|p| p.get().len()).sum());
        text.push_str(parts[0].get());
        let id_end = u32::try_from(text.len()).ok()?;
        text.push_str(parts[1].get());
        let name_end = u32::try_from(text.len()).ok()?;
        text.push_str(parts[2].get());
        Some((text.into_boxed_str(), id_end, name_end))
    }

    fn part(&self, from: u32, to: u32) -> &str {
        self.text.get(from as usize..to as usize).unwrap_or("\"\"")
    }

    /// The id as a JSON string.
    pub fn id_json(&self) -> &str {
        self.part(0, self.id_end)
    }

    /// The name as a JSON string.
    pub fn name_json(&self) -> &str {
        self.part(self.id_end, self.name_end)
    }

    /// The address as a JSON string.
    pub fn address_json(&self) -> &str {
        self.text.get(self.name_end as usize..).unwrap_or("\"\"")
    }

    pub fn open_at(&self, when: When) -> bool {
        open_now_local(
            self.status,
            self.reopens_at,
            &self.hours,
            when.at,
            when.local,
        )
    }
}

/// Filters of a search.
#[derive(Debug, Clone, Copy)]
pub struct Filters {
    pub amenities: AmenitySet,
    pub kind: Option<StationType>,
    pub open_now: bool,
}

pub struct StationSearch {
    index: RwLock<StationIndex<Entry>>,
    hours: Mutex<HashMap<String, Arc<OpeningHours>>>,
    amenity_lists: Mutex<HashMap<AmenitySet, Arc<RawValue>>>,
    /// When the last full load or catch-up read began (this process's clock).
    read_at: Mutex<Option<NaiveDateTime>>,
}

impl std::fmt::Debug for StationSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationSearch")
            .field("stations", &self.len())
            .finish()
    }
}

impl StationSearch {
    /// An index of `stations` (those whose stored data does not parse are left out, logged),
    /// read from the database at `read_at`.
    pub fn build(stations: Vec<SearchRow>, read_at: Option<NaiveDateTime>) -> Self {
        let search = Self::empty(read_at);
        let entries: Vec<_> = stations
            .into_iter()
            .filter_map(|s| search.entry_of(s))
            .collect();
        search.replace_index(entries);
        search
    }

    fn empty(read_at: Option<NaiveDateTime>) -> Self {
        Self {
            index: RwLock::new(StationIndex::new()),
            hours: Mutex::new(HashMap::new()),
            amenity_lists: Mutex::new(HashMap::new()),
            read_at: Mutex::new(read_at),
        }
    }

    fn replace_index(&self, entries: Vec<(String, LatLng, Entry)>) {
        let index = StationIndex::bulk_load_tagged(
            entries
                .into_iter()
                .map(|(id, at, entry)| (id, at, Tag::of(&entry).0, entry)),
        );
        if let Ok(mut held) = self.index.write() {
            *held = index;
        }
    }

    /// Loads every station from the database (`now`: this process's clock), a page at a
    /// time: only the columns search needs, each page parsed into entries before the next
    /// is read, so the process never holds more than the index and one page of rows.
    pub async fn load(db: &Db, now: DateTime<Utc>) -> Result<Self, DbError> {
        let search = Self::empty(Some(now.naive_utc()));
        // Sized once: grown by doubling, the list would leave its earlier copies (tens of
        // MB at national scale) with the allocator.
        let expected = db.run(db::count).await?;
        let mut entries =
            Vec::with_capacity(usize::try_from(expected.clamp(0, 10_000_000)).unwrap_or(0));
        let mut after: Option<String> = None;
        loop {
            let from = after.clone();
            let page = db
                .run(move |conn| db::search_page(conn, from.as_deref(), LOAD_PAGE))
                .await?;
            let full = page.len() as i64 == LOAD_PAGE;
            after = page.last().map(|s| s.id.clone());
            entries.extend(page.into_iter().filter_map(|s| search.entry_of(s)));
            if !full {
                break;
            }
        }
        search.replace_index(entries);
        Ok(search)
    }

    /// Rebuilds the index from every station and swaps it in (the periodic safety net).
    /// Changes applied while it loaded are read again by the next catch-up.
    pub async fn resync(&self, db: &Db, now: DateTime<Utc>) -> Result<usize, DbError> {
        let fresh = Self::load(db, now).await?;
        let rebuilt = fresh.index.into_inner().unwrap_or_default();
        let n = rebuilt.len();
        if let Ok(mut index) = self.index.write() {
            *index = rebuilt;
        }
        if let (Ok(mut hours), Ok(fresh_hours)) = (self.hours.lock(), fresh.hours.into_inner()) {
            *hours = fresh_hours;
        }
        if let (Ok(mut lists), Ok(fresh_lists)) =
            (self.amenity_lists.lock(), fresh.amenity_lists.into_inner())
        {
            *lists = fresh_lists;
        }
        if let Ok(mut read_at) = self.read_at.lock() {
            if read_at.is_none_or(|r| r > now.naive_utc()) {
                *read_at = Some(now.naive_utc());
            }
        }
        Ok(n)
    }

    fn entry_of(&self, s: SearchRow) -> Option<(String, LatLng, Entry)> {
        let parsed = (
            StationType::parse(&s.kind),
            StationStatus::parse(&s.status),
            AmenitySet::parse_stored(&s.amenities),
        );
        let (Some(kind), Some(status), Ok(amenities)) = parsed else {
            tracing::warn!(station = %s.id, "station left out of search: unreadable kind, status or amenities");
            return None;
        };
        let hours = self.shared_hours(&s.hours)?;
        let amenities_json = self.shared_amenity_list(amenities)?;
        let Some((text, id_end, name_end)) = Entry::text(&s.id, &s.name, &s.address) else {
            tracing::warn!(station = %s.id, "station left out of search: name or address not writable as JSON");
            return None;
        };
        Some((
            s.id,
            LatLng {
                lat: s.lat,
                lng: s.lng,
            },
            Entry {
                text,
                id_end,
                name_end,
                kind,
                amenities,
                amenities_json,
                status,
                reopens_at: s.reopens_at.map(|t| t.and_utc()),
                hours,
                version: s.version,
            },
        ))
    }

    /// The JSON of an amenity set, one copy per distinct set.
    fn shared_amenity_list(&self, set: AmenitySet) -> Option<Arc<RawValue>> {
        let mut cache = self.amenity_lists.lock().ok()?;
        if let Some(json) = cache.get(&set) {
            return Some(json.clone());
        }
        let json: Arc<RawValue> = Arc::from(to_raw_value(&set).ok()?);
        cache.insert(set, json.clone());
        Some(json)
    }

    /// Parsed hours, one copy per distinct JSON text.
    fn shared_hours(&self, json: &str) -> Option<Arc<OpeningHours>> {
        let mut cache = self.hours.lock().ok()?;
        if let Some(hours) = cache.get(json) {
            return Some(hours.clone());
        }
        let parsed = serde_json::from_str::<serde_json::Value>(json)
            .ok()
            .and_then(|v| OpeningHours::from_json(&v).ok());
        let Some(hours) = parsed else {
            tracing::warn!("station left out of search: unreadable opening hours");
            return None;
        };
        let hours = Arc::new(hours);
        cache.insert(json.to_owned(), hours.clone());
        Some(hours)
    }

    /// Applies changed stations (inserted or updated).
    pub fn apply(&self, changed: Vec<SearchRow>) {
        if changed.is_empty() {
            return;
        }
        let entries: Vec<_> = changed
            .into_iter()
            .filter_map(|s| self.entry_of(s))
            .collect();
        if let Ok(mut index) = self.index.write() {
            for (id, at, entry) in entries {
                if index
                    .get(&id)
                    .is_some_and(|(_, held)| held.version > entry.version)
                {
                    continue;
                }
                let tag = Tag::of(&entry).0;
                index.upsert_tagged(id, at, tag, entry);
            }
        }
    }

    /// Reads one station and applies it.
    pub async fn refresh_one(&self, db: &Db, id: String) -> Result<(), DbError> {
        if let Some(row) = db.run(move |conn| db::search_row(conn, &id)).await? {
            self.apply(vec![row]);
        }
        Ok(())
    }

    /// Reads the stations changed since the previous read began (less the overlap) and
    /// applies them; returns how many were read. `now` is this process's clock.
    pub async fn catch_up(&self, db: &Db, now: DateTime<Utc>) -> Result<usize, DbError> {
        let previous = self.read_at.lock().ok().and_then(|r| *r);
        // Nothing read yet: from the epoch (PostgreSQL's timestamps do not reach
        // NaiveDateTime::MIN).
        let since = previous.map_or(chrono::DateTime::UNIX_EPOCH.naive_utc(), |r| r - OVERLAP);
        let changed = db.run(move |conn| db::changed_since(conn, since)).await?;
        let n = changed.len();
        self.apply(changed);
        if let Ok(mut read_at) = self.read_at.lock() {
            if read_at.is_none_or(|r| r < now.naive_utc()) {
                *read_at = Some(now.naive_utc());
            }
        }
        Ok(n)
    }

    /// Keeps the index current: a catch-up every `period` and as soon as a change is
    /// announced, a full rebuild every `resync`. Runs until the runtime stops.
    pub fn spawn_refresher(
        self: &Arc<Self>,
        db: Db,
        kv: Kv,
        clock: SharedClock,
        period: Duration,
        resync: Duration,
    ) {
        let search = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last_resync = std::time::Instant::now();
            let mut announced = match kv.subscribe(CHANGED).await {
                Ok(sub) => Some(sub),
                Err(e) => {
                    tracing::warn!(error = %e, "station change announcements unavailable; catching up every period only");
                    None
                }
            };
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // A station named in an announcement is read at once; a tick (or a lost
                // announcement) means a catch-up.
                let mut named = None;
                match &mut announced {
                    Some(sub) => {
                        tokio::select! {
                            _ = tick.tick() => {}
                            message = sub.recv() => match message {
                                Ok(id) => named = Some(id),
                                Err(tokio::sync::broadcast::error::RecvError::Closed) => announced = None,
                                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                            }
                        }
                    }
                    None => {
                        tick.tick().await;
                    }
                }
                let Some(search) = search.upgrade() else {
                    return;
                };
                if let Some(id) = named {
                    if let Err(e) = search.refresh_one(&db, id).await {
                        tracing::warn!(error = %e, "station refresh failed; the catch-up will retry");
                    }
                    continue;
                }
                let now = clock.now();
                if last_resync.elapsed() >= resync {
                    last_resync = std::time::Instant::now();
                    match search.resync(&db, now).await {
                        Ok(n) => tracing::info!(stations = n, "station index rebuilt"),
                        Err(e) => tracing::warn!(error = %e, "station index rebuild failed"),
                    }
                } else if let Err(e) = search.catch_up(&db, now).await {
                    tracing::warn!(error = %e, "station index catch-up failed");
                }
            }
        });
    }

    pub fn len(&self) -> usize {
        self.index.read().map(|i| i.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An estimate of the index's memory: the tree, ids and entries (with their names and
    /// addresses) and the shared hours.
    pub fn approx_bytes(&self) -> usize {
        let index = self
            .index
            .read()
            .map(|i| i.approx_heap_bytes() + i.payloads().map(|e| e.text.len()).sum::<usize>())
            .unwrap_or(0);
        let hours = self
            .hours
            .lock()
            .map(|h| {
                h.keys()
                    .map(|k| k.len() + std::mem::size_of::<OpeningHours>() + 512)
                    .sum::<usize>()
            })
            .unwrap_or(0);
        index + hours
    }

    /// Nearest first within `radius_m`, at most `limit`; `answer` sees the hits while the
    /// index is read-locked (so the response is written without copying the stations).
    pub fn nearby<R>(
        &self,
        at: LatLng,
        radius_m: f64,
        limit: usize,
        filters: Filters,
        when: When,
        answer: impl FnOnce(&[Hit<'_, Entry>]) -> R,
    ) -> R {
        let Ok(index) = self.index.read() else {
            return answer(&[]);
        };
        let hits = index.nearby_by(at, radius_m, limit, |c| matches(&c, &filters, &when));
        answer(&hits)
    }

    /// Inside the box, at most `cap` (the nearest the box's centre when there are more, and
    /// then `truncated`).
    pub fn within_bbox<R>(
        &self,
        min: LatLng,
        max: LatLng,
        cap: usize,
        filters: Filters,
        when: When,
        answer: impl FnOnce(&[Hit<'_, Entry>], bool) -> R,
    ) -> R {
        let Ok(index) = self.index.read() else {
            return answer(&[], false);
        };
        let (hits, truncated) =
            index.within_bbox_by(min, max, cap, |c| matches(&c, &filters, &when));
        answer(&hits, truncated)
    }
}

/// What a search decides from the index's leaf, without reading the entry: the amenity
/// bits (0–23), the type (24–26) and the gate (28–29), which says what "open now" depends
/// on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Closed, or temporarily closed with no reopening time.
    Never = 0,
    /// Open, and its hours cover every minute.
    Always = 1,
    /// Open: the hours decide.
    Hours = 2,
    /// Temporarily closed until `reopens_at` (an exact instant, read from the entry);
    /// then the hours decide.
    AfterReopening = 3,
}

const AMENITY_BITS: u32 = (1 << 24) - 1;
const _: () = assert!(Amenity::ALL.len() <= 24 && StationType::ALL.len() <= 8);

impl Tag {
    fn of(e: &Entry) -> Self {
        let gate = match e.status {
            StationStatus::Closed => Gate::Never,
            StationStatus::TemporarilyClosed if e.reopens_at.is_none() => Gate::Never,
            StationStatus::TemporarilyClosed => Gate::AfterReopening,
            StationStatus::Open if e.hours.always_open() => Gate::Always,
            StationStatus::Open => Gate::Hours,
        };
        let kind = StationType::ALL
            .iter()
            .position(|k| *k == e.kind)
            .unwrap_or(0) as u32;
        Self((e.amenities.bits() & AMENITY_BITS) | (kind << 24) | ((gate as u32) << 28))
    }

    fn amenities(self) -> AmenitySet {
        AmenitySet::from_bits(self.0 & AMENITY_BITS)
    }

    fn kind(self) -> Option<StationType> {
        StationType::ALL.get(((self.0 >> 24) & 7) as usize).copied()
    }

    fn gate(self) -> Gate {
        match (self.0 >> 28) & 3 {
            0 => Gate::Never,
            1 => Gate::Always,
            2 => Gate::Hours,
            _ => Gate::AfterReopening,
        }
    }
}

/// A station's open/closed state cached in its leaf's memo word, valid over a window of
/// local minutes (the scale of [`When`]): bit 63 open, bits 32–62 the window's first
/// minute, bits 0–31 the minute after its last. 0, an empty window, is "nothing cached"
/// (a fresh leaf after every insert or change). The window comes from
/// [`OpeningHours::steady_at`], so within it the hours give the same answer at every
/// minute: reading it is exact, not an approximation.
fn cached_open(word: u64, minute: u32) -> Option<bool> {
    let from = ((word >> 32) & 0x7fff_ffff) as u32;
    let until = word as u32;
    (from <= minute && minute < until).then_some(word >> 63 == 1)
}

fn open_word(open: bool, from: u32, until: u32) -> Option<u64> {
    (from <= 0x7fff_ffff)
        .then_some((u64::from(open) << 63) | (u64::from(from) << 32) | u64::from(until))
}

/// Whether the hours have the station open at `when`: the cached window when it covers
/// `when`, else the hours, evaluated once for the window and cached.
fn hours_open<'a>(
    memo: &AtomicU64,
    entry: impl FnOnce() -> Option<&'a Entry>,
    when: &When,
) -> bool {
    if let Some((minute, _)) = when.minute {
        if let Some(open) = cached_open(memo.load(Ordering::Relaxed), minute) {
            return open;
        }
    }
    let Some(entry) = entry() else {
        return false;
    };
    let steady = entry.hours.steady_at(when.local);
    if let Some((_, midnight)) = when.minute {
        let word = open_word(
            steady.open,
            midnight.saturating_add(u32::from(steady.from)),
            midnight.saturating_add(u32::from(steady.until)),
        );
        if let Some(word) = word {
            memo.store(word, Ordering::Relaxed);
        }
    }
    steady.open
}

/// Cheapest first: the leaf's tag (amenities, type, whether the station can be open at
/// all), then its cached open window; the entry is read only when the cache does not
/// cover `when` or a reopening time must be compared.
fn matches(c: &Candidate<'_, Entry>, filters: &Filters, when: &When) -> bool {
    let tag = Tag(c.tag());
    if !tag.amenities().contains_all(filters.amenities)
        || filters.kind.is_some_and(|k| Some(k) != tag.kind())
    {
        return false;
    }
    if !filters.open_now {
        return true;
    }
    match tag.gate() {
        Gate::Never => false,
        Gate::Always => true,
        Gate::Hours => hours_open(c.memo(), || c.payload(), when),
        Gate::AfterReopening => c.payload().is_some_and(|e| {
            e.reopens_at.is_some_and(|r| when.at >= r) && hours_open(c.memo(), || Some(e), when)
        }),
    }
}

// The use-cases

/// The largest search radius.
pub const MAX_RADIUS_M: u32 = 50_000;
/// The most results of a nearby search.
pub const MAX_LIMIT: usize = 100;
/// The most stations a box listing returns (`truncated` says there were more).
pub const MAX_BOX: usize = 1000;

// Borrowed from the index: the response is written while the index is read-locked,
// without copying the station.
/// A station found, with its distance and whether it is open now.
#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyStation<'a> {
    pub id: &'a str,
    #[schema(value_type = String)]
    pub name: &'a RawValue,
    /// `fixed`, `movable`, `workers_home` or `partner_shop`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[schema(value_type = String)]
    pub address: &'a RawValue,
    /// GCJ-02.
    pub lat: f64,
    pub lng: f64,
    /// Great-circle distance in metres.
    pub distance_m: u32,
    /// Amenity codes.
    #[schema(value_type = Vec<String>)]
    pub amenities: &'a RawValue,
    /// `open`, `temporarily_closed` or `closed`.
    pub status: &'static str,
    pub open_now: bool,
    /// The spans starting today (Asia/Shanghai).
    pub today_hours: Vec<SpanView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyStations<'a> {
    /// Nearest first.
    pub items: Vec<NearbyStation<'a>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoxStations<'a> {
    pub items: Vec<NearbyStation<'a>>,
    /// More stations are in the box than were returned: zoom in.
    pub truncated: bool,
}

/// What to look for, as a client sends it (checked by [`nearby`] and [`within_box`]).
#[derive(Debug, Clone, Default)]
pub struct Wanted<'a> {
    /// Comma-separated amenity codes, all required.
    pub amenities: Option<&'a str>,
    /// A station type.
    pub kind: Option<&'a str>,
    /// Only stations open now.
    pub open_now: Option<bool>,
}

fn filters(wanted: &Wanted<'_>) -> ServiceResult<Filters> {
    let amenities = match wanted.amenities.filter(|a| !a.is_empty()) {
        None => AmenitySet::default(),
        Some(list) => {
            let mut set = AmenitySet::default();
            for code in list.split(',') {
                let amenity = Amenity::parse(code).ok_or_else(|| {
                    bad(
                        "station.amenity_unknown",
                        format!("未知的设施：{}", code.chars().take(40).collect::<String>()),
                    )
                })?;
                set.insert(amenity);
            }
            set
        }
    };
    let kind = wanted
        .kind
        .map(|k| {
            StationType::parse(k).ok_or_else(|| {
                bad(
                    "station.invalid_type",
                    "type 须为 fixed、movable、workers_home 或 partner_shop",
                )
            })
        })
        .transpose()?;
    Ok(Filters {
        amenities,
        kind,
        open_now: wanted.open_now.unwrap_or(false),
    })
}

/// The contract of an `amenities` query: empty, or codes of the vocabulary joined by commas.
pub fn amenity_list_schema() -> utoipa::openapi::schema::Object {
    let codes = Amenity::ALL
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join("|");
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(format!("^(?:(?:{codes})(?:,(?:{codes}))*)?$")))
        .build()
}

/// The answer's items: the JSON that serializing [`NearbyStation`]s gives, byte for byte
/// (the unit test `written_answers_are_the_serialized_ones` holds them equal), written
/// straight from the index: the id, name and address as stored, the codes as the static
/// words they are, today's hours from the shared hours. A search that asked for open
/// stations only found open ones, so their hours are not evaluated again.
fn write_items(
    out: &mut Vec<u8>,
    hits: &[Hit<'_, Entry>],
    filters: Filters,
    when: When,
) -> ServiceResult<()> {
    let today = when.today();
    warm(hits);
    out.push(b'[');
    for (i, hit) in hits.iter().enumerate() {
        let e = hit.payload;
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(e.id_json().as_bytes());
        out.extend_from_slice(b",\"name\":");
        out.extend_from_slice(e.name_json().as_bytes());
        out.extend_from_slice(b",\"type\":\"");
        out.extend_from_slice(e.kind.as_str().as_bytes());
        out.extend_from_slice(b"\",\"address\":");
        out.extend_from_slice(e.address_json().as_bytes());
        out.extend_from_slice(b",\"lat\":");
        number(out, hit.at.lat)?;
        out.extend_from_slice(b",\"lng\":");
        number(out, hit.at.lng)?;
        out.extend_from_slice(b",\"distance_m\":");
        number(out, distance_m(hit))?;
        out.extend_from_slice(b",\"amenities\":");
        out.extend_from_slice(e.amenities_json.get().as_bytes());
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(e.status.as_str().as_bytes());
        out.extend_from_slice(if filters.open_now || e.open_at(when) {
            b"\",\"open_now\":true,\"today_hours\":["
        } else {
            b"\",\"open_now\":false,\"today_hours\":["
        });
        for (k, span) in e.hours.spans_on(today).iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"open\":\"");
            out.extend_from_slice(hhmm(span.open_minute()).as_bytes());
            out.extend_from_slice(b"\",\"close\":\"");
            out.extend_from_slice(hhmm(span.close_minute()).as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"]}");
    }
    out.push(b']');
    Ok(())
}

/// Reads each hit's text (where each of its three parts starts, and its end: a few cache
/// lines) before the items are written. At national scale it is not in the CPU's cache;
/// read here, in a loop whose reads do not depend on each other, the CPU waits for all of
/// it at once, where the writing loop, long for each item, would wait for it one line at a
/// time.
fn warm(hits: &[Hit<'_, Entry>]) {
    let mut touched = 0usize;
    for hit in hits {
        let e = hit.payload;
        let text = e.text.as_bytes();
        for at in [
            0,
            e.id_end as usize,
            e.name_end as usize,
            text.len().wrapping_sub(1),
        ] {
            touched ^= usize::from(text.get(at).copied().unwrap_or(0));
        }
    }
    std::hint::black_box(touched);
}

/// A number as serde_json writes it (the same float formatting as a serialized struct).
fn number(out: &mut Vec<u8>, n: impl Serialize) -> ServiceResult<()> {
    serde_json::to_writer(out, &n).map_err(ServiceError::internal)
}

/// Whole metres, as an answer gives them.
fn distance_m(hit: &Hit<'_, Entry>) -> u32 {
    hit.distance_m.round().clamp(0.0, f64::from(u32::MAX)) as u32
}

/// An answer: `{"items":[…]` and what `rest` adds, then `}`, in a buffer sized for its
/// items (an item is about 450 bytes), so writing it does not grow and copy the buffer.
fn answer(
    hits: &[Hit<'_, Entry>],
    filters: Filters,
    when: When,
    rest: &[u8],
) -> ServiceResult<Vec<u8>> {
    let mut out = Vec::with_capacity(64 + hits.len() * 512);
    out.extend_from_slice(b"{\"items\":");
    write_items(&mut out, hits, filters, when)?;
    out.extend_from_slice(rest);
    out.push(b'}');
    Ok(out)
}

/// Where to look around, as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct Near<'a> {
    pub lat: f64,
    pub lng: f64,
    /// `gcj02` (default) or `wgs84` (converted).
    pub coord: Option<&'a str>,
    /// 1–50000, default 3000.
    pub radius_m: Option<u32>,
    /// 1–100, default 20.
    pub limit: Option<usize>,
}

/// The nearest stations, nearest first, with the distance, whether each is open at `now` and
/// today's hours: the answer's JSON ([`NearbyStations`]), written while the index is
/// read-locked so no station is copied.
pub fn nearby(
    search: &StationSearch,
    near: &Near<'_>,
    wanted: &Wanted<'_>,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<u8>> {
    let at = super::parse_point(near.lat, near.lng, near.coord)?;
    let radius = near.radius_m.unwrap_or(3000);
    if radius == 0 || radius > MAX_RADIUS_M {
        return Err(bad(
            "station.invalid_radius",
            "radius_m 须在 1 至 50000 米之间",
        ));
    }
    let limit = near.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad("station.invalid_limit", "limit 须在 1 至 100 之间"));
    }
    let filters = filters(wanted)?;
    let when = When::new(now);
    search.nearby(at, f64::from(radius), limit, filters, when, |hits| {
        answer(hits, filters, when, b"")
    })
}

/// The widest box the map view answers, in degrees either way (about 200 km): a wider one
/// would walk a province's stations under the index's lock for one request.
pub const MAX_BOX_DEGREES: f64 = 2.0;

/// A decimal number of degrees as the contract writes it: an optional `-`, 1–3 digits, and
/// optionally `.` and 1–15 digits.
fn parse_degrees(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (digits, None),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let ok = (1..=3).contains(&int.len())
        && all_digits(int)
        && frac.is_none_or(|f| (1..=15).contains(&f.len()) && all_digits(f));
    ok.then(|| s.parse().ok()).flatten()
}

/// `min_lng,min_lat,max_lng,max_lat` (GCJ-02), the minimum below the maximum, at most
/// [`MAX_BOX_DEGREES`] across either way.
fn parse_bbox(bbox: &str) -> ServiceResult<(LatLng, LatLng)> {
    let malformed = || {
        bad(
            "station.invalid_bbox",
            "bbox 须为 min_lng,min_lat,max_lng,max_lat 四个十进制数",
        )
    };
    let parts: Vec<f64> = bbox
        .split(',')
        .map(parse_degrees)
        .collect::<Option<_>>()
        .ok_or_else(malformed)?;
    let [min_lng, min_lat, max_lng, max_lat] = parts[..] else {
        return Err(malformed());
    };
    // Well-formed, then the rules the pattern cannot state: 422.
    let rule = |e: geo::GeoError| ServiceError::rule(e.code(), e.detail());
    let min = geo::parse_lat_lng(min_lat, min_lng).map_err(rule)?;
    let max = geo::parse_lat_lng(max_lat, max_lng).map_err(rule)?;
    if min.lat >= max.lat || min.lng >= max.lng {
        return Err(ServiceError::rule(
            "station.bbox_empty",
            "bbox 的最小值须小于最大值",
        ));
    }
    if max.lat - min.lat > MAX_BOX_DEGREES || max.lng - min.lng > MAX_BOX_DEGREES {
        return Err(ServiceError::rule(
            "station.bbox_too_large",
            "地图范围过大，请放大地图后再查看（经纬度跨度均不超过 2 度）",
        ));
    }
    Ok((min, max))
}

/// Stations inside `bbox`, for the map view; at most `limit` (1–1000, default 500),
/// `truncated` when there were more: the answer's JSON ([`BoxStations`]).
pub fn within_box(
    search: &StationSearch,
    bbox: &str,
    limit: Option<usize>,
    wanted: &Wanted<'_>,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<u8>> {
    let (min, max) = parse_bbox(bbox)?;
    let limit = limit.unwrap_or(500);
    if limit == 0 || limit > MAX_BOX {
        return Err(bad("station.invalid_limit", "limit 须在 1 至 1000 之间"));
    }
    let filters = filters(wanted)?;
    let when = When::new(now);
    search.within_bbox(min, max, limit, filters, when, |hits, truncated| {
        let rest: &[u8] = if truncated {
            b",\"truncated\":true"
        } else {
            b",\"truncated\":false"
        };
        answer(hits, filters, when, rest)
    })
}

/// The public search limit: searches per client network per minute, counted in this process
/// only, so the hot path makes no round trip. With N replicas behind a balancer a network
/// gets up to N times the rate; the bound on work per search (the box's area, the limits on
/// radius and results) holds on every replica regardless.
pub struct SearchLimiter {
    store: Kv,
    rate: Option<Rate>,
}

impl SearchLimiter {
    /// `per_minute` = 0 turns the limit off (e.g. for `make bench-stations`).
    pub fn new(per_minute: u32, clock: SharedClock) -> Self {
        Self {
            store: Kv::Memory(gongyou_db::kv::MemoryKv::new(clock)),
            rate: (per_minute > 0).then(|| Rate::per_minute(per_minute)),
        }
    }

    /// One search by `ip`'s network, or 429 `station.search_rate_limited`.
    pub async fn check(&self, ip: Option<std::net::IpAddr>) -> ServiceResult<()> {
        let (Some(rate), Some(ip)) = (self.rate, ip) else {
            return Ok(());
        };
        let key = crate::network::ClientNetwork::of(ip).to_string();
        match self.store.rate_limit(&key, rate).await? {
            RateDecision::Allowed => Ok(()),
            RateDecision::Limited { retry_after } => Err(ServiceError::rate_limited(
                "station.search_rate_limited",
                retry_after,
            )
            .with_detail("查询过于频繁，请稍后再试")),
        }
    }
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
