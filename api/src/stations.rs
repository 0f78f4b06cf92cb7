//! The live station search of one process (ADR 011): every station in an in-memory spatial
//! index, built at start, caught up with the database every `GONGYOU_STATION_REFRESH_MS`
//! (stations whose `updated_at` is after the previous catch-up began, less an overlap for
//! late commits and clock skew between replicas), at once when any replica announces a
//! change on the key/value store's `stations.changed` channel, and rebuilt from scratch
//! every `GONGYOU_STATION_RESYNC_SECS` as a safety net.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use gongyou_db::kv::Kv;
use gongyou_db::stations::{self as db, Station};
use gongyou_db::{Db, DbError};
use gongyou_domain::clock::SharedClock;
use gongyou_domain::station::{
    open_now_local, AmenitySet, OpeningHours, StationStatus, StationType,
};

use crate::geo::LatLng;
use crate::station_index::{Hit, StationIndex};

/// The channel replicas announce station changes on.
pub const CHANGED: &str = "stations.changed";
/// Catch-ups re-read this much before the previous one began, so a write that committed late
/// (its `updated_at` older than that read) or came from a replica whose clock is behind is
/// not missed.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(5);

/// What search needs of a station, kept in the index.
#[derive(Debug)]
pub struct Entry {
    pub name: Box<str>,
    pub address: Box<str>,
    pub kind: StationType,
    pub amenities: AmenitySet,
    pub status: StationStatus,
    pub reopens_at: Option<DateTime<Utc>>,
    /// Shared between stations with the same hours.
    pub hours: Arc<OpeningHours>,
    /// The station's version: an older read never replaces a newer one.
    pub version: i32,
}

/// An instant, and the same in Asia/Shanghai (converted once per search).
#[derive(Debug, Clone, Copy)]
pub struct When {
    pub at: DateTime<Utc>,
    pub local: chrono::NaiveDateTime,
}

impl When {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            at,
            local: at.with_timezone(&chrono_tz::Asia::Shanghai).naive_local(),
        }
    }

    /// Today in Asia/Shanghai.
    pub fn today(&self) -> chrono::NaiveDate {
        self.local.date()
    }
}

impl Entry {
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
    pub fn build(stations: Vec<Station>, read_at: Option<NaiveDateTime>) -> Self {
        let search = Self {
            index: RwLock::new(StationIndex::new()),
            hours: Mutex::new(HashMap::new()),
            read_at: Mutex::new(read_at),
        };
        let entries: Vec<_> = stations
            .into_iter()
            .filter_map(|s| search.entry_of(s))
            .collect();
        if let Ok(mut index) = search.index.write() {
            *index = StationIndex::bulk_load(entries);
        }
        search
    }

    /// Loads every station from the database (`now`: this process's clock).
    pub async fn load(db: &Db, now: DateTime<Utc>) -> Result<Self, DbError> {
        let stations = db.run(db::all).await?;
        Ok(Self::build(stations, Some(now.naive_utc())))
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
        if let Ok(mut read_at) = self.read_at.lock() {
            if read_at.is_none_or(|r| r > now.naive_utc()) {
                *read_at = Some(now.naive_utc());
            }
        }
        Ok(n)
    }

    fn entry_of(&self, s: Station) -> Option<(String, LatLng, Entry)> {
        let parsed = (
            StationType::parse(&s.kind),
            StationStatus::parse(&s.status),
            AmenitySet::parse_list(&s.amenities),
        );
        let (Some(kind), Some(status), Ok(amenities)) = parsed else {
            tracing::warn!(station = %s.id, "station left out of search: unreadable kind, status or amenities");
            return None;
        };
        let hours = self.shared_hours(&s.hours)?;
        Some((
            s.id,
            LatLng {
                lat: s.lat,
                lng: s.lng,
            },
            Entry {
                name: s.name.into_boxed_str(),
                address: s.address.into_boxed_str(),
                kind,
                amenities,
                status,
                reopens_at: s.reopens_at.map(|t| t.and_utc()),
                hours,
                version: s.version,
            },
        ))
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
    pub fn apply(&self, changed: Vec<Station>) {
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
                index.upsert(id, at, entry);
            }
        }
    }

    /// Reads one station and applies it.
    pub async fn refresh_one(&self, db: &Db, id: String) -> Result<(), DbError> {
        if let Some(station) = db.run(move |conn| db::get(conn, &id)).await? {
            self.apply(vec![station]);
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

    /// After a committed change of station `id` through this process: apply it here now
    /// and tell the other replicas which station changed (they read it at once; a replica
    /// that misses the message finds it in its next catch-up).
    pub async fn changed(&self, db: &Db, kv: &Kv, id: &str) {
        if let Err(e) = self.refresh_one(db, id.to_owned()).await {
            tracing::warn!(error = %e, "station index refresh failed; the periodic catch-up will retry");
        }
        if let Err(e) = kv.publish(CHANGED, id).await {
            tracing::warn!(error = %e, "could not announce a station change; replicas catch up within the refresh period");
        }
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
            .map(|i| {
                i.approx_heap_bytes()
                    + i.payloads()
                        .map(|e| e.name.len() + e.address.len())
                        .sum::<usize>()
            })
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
        let hits = index.nearby(at, radius_m, limit, |e| matches(e, &filters, when));
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
        let (hits, truncated) = index.within_bbox(min, max, cap, |e| matches(e, &filters, when));
        answer(&hits, truncated)
    }
}

fn matches(e: &Entry, filters: &Filters, when: When) -> bool {
    e.amenities.contains_all(filters.amenities)
        && filters.kind.is_none_or(|k| k == e.kind)
        && (!filters.open_now || e.open_at(when))
}
