//! The live station search of one process (ADR 011): every station in an in-memory spatial
//! index, built at start, caught up with the database every `GONGYOU_STATION_REFRESH_MS`
//! (stations changed since the last catch-up, with an overlap), and at once when any
//! replica announces a change on the key/value store's `stations.changed` channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use gongyou_db::kv::Kv;
use gongyou_db::stations::{self as db, Station};
use gongyou_db::{Db, DbError};
use gongyou_domain::station::{
    open_now, AmenitySet, OpeningHours, Span, StationStatus, StationType,
};

use crate::geo::LatLng;
use crate::station_index::StationIndex;

/// The channel replicas announce station changes on.
pub const CHANGED: &str = "stations.changed";
/// Catch-ups re-read this much before the last change seen, so a write that committed late
/// (its `updated_at` older than a change already seen) is not missed.
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
}

impl Entry {
    pub fn open_at(&self, at: DateTime<Utc>) -> bool {
        open_now(self.status, self.reopens_at, &self.hours, at)
    }
}

/// A search result, owned (the index lock is not held while it is answered).
#[derive(Debug, Clone)]
pub struct Found {
    pub id: String,
    pub at: LatLng,
    pub distance_m: f64,
    pub name: String,
    pub address: String,
    pub kind: StationType,
    pub amenities: AmenitySet,
    pub status: StationStatus,
    pub open_now: bool,
    pub today: Vec<Span>,
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
    /// The newest `updated_at` applied.
    seen: Mutex<Option<NaiveDateTime>>,
}

impl std::fmt::Debug for StationSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationSearch")
            .field("stations", &self.len())
            .finish()
    }
}

impl StationSearch {
    /// An index of `stations` (those whose stored data does not parse are left out, logged).
    pub fn build(stations: Vec<Station>) -> Self {
        let search = Self {
            index: RwLock::new(StationIndex::new()),
            hours: Mutex::new(HashMap::new()),
            seen: Mutex::new(None),
        };
        let newest = stations.iter().map(|s| s.updated_at).max();
        let entries: Vec<_> = stations
            .into_iter()
            .filter_map(|s| search.entry_of(s))
            .collect();
        if let Ok(mut index) = search.index.write() {
            *index = StationIndex::bulk_load(entries);
        }
        if let Ok(mut seen) = search.seen.lock() {
            *seen = newest;
        }
        search
    }

    /// Loads every station from the database.
    pub async fn load(db: &Db) -> Result<Self, DbError> {
        let stations = db.run(db::all).await?;
        Ok(Self::build(stations))
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
        let newest = changed.iter().map(|s| s.updated_at).max();
        let entries: Vec<_> = changed
            .into_iter()
            .filter_map(|s| self.entry_of(s))
            .collect();
        if let Ok(mut index) = self.index.write() {
            for (id, at, entry) in entries {
                index.upsert(id, at, entry);
            }
        }
        if let (Some(newest), Ok(mut seen)) = (newest, self.seen.lock()) {
            if seen.is_none_or(|s| newest > s) {
                *seen = Some(newest);
            }
        }
    }

    /// Reads the stations changed since the last one seen (with an overlap) and applies
    /// them; returns how many were read.
    pub async fn catch_up(&self, db: &Db) -> Result<usize, DbError> {
        let since = self
            .seen
            .lock()
            .ok()
            .and_then(|s| *s)
            // Nothing seen yet: from the epoch (PostgreSQL's timestamps do not reach
            // NaiveDateTime::MIN).
            .map_or(chrono::DateTime::UNIX_EPOCH.naive_utc(), |s| s - OVERLAP);
        let changed = db.run(move |conn| db::changed_since(conn, since)).await?;
        let n = changed.len();
        self.apply(changed);
        Ok(n)
    }

    /// After a change through this process: apply it here now and tell the other replicas.
    pub async fn changed(&self, db: &Db, kv: &Kv) {
        if let Err(e) = self.catch_up(db).await {
            tracing::warn!(error = %e, "station index catch-up failed; the periodic one will retry");
        }
        if let Err(e) = kv.publish(CHANGED, "1").await {
            tracing::warn!(error = %e, "could not announce a station change; replicas catch up within the refresh period");
        }
    }

    /// Keeps the index current: a catch-up every `period`, and one as soon as a change is
    /// announced. Runs until the runtime stops.
    pub fn spawn_refresher(self: &Arc<Self>, db: Db, kv: Kv, period: Duration) {
        let search = Arc::downgrade(self);
        tokio::spawn(async move {
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
                match &mut announced {
                    Some(sub) => {
                        tokio::select! {
                            _ = tick.tick() => {}
                            message = sub.recv() => {
                                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = message {
                                    announced = None;
                                }
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
                if let Err(e) = search.catch_up(&db).await {
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

    /// Nearest first within `radius_m`, at most `limit`, open and today's hours as of `now`
    /// (today is `today` in Asia/Shanghai).
    pub fn nearby(
        &self,
        at: LatLng,
        radius_m: f64,
        limit: usize,
        filters: Filters,
        now: DateTime<Utc>,
        today: chrono::NaiveDate,
    ) -> Vec<Found> {
        let Ok(index) = self.index.read() else {
            return Vec::new();
        };
        index
            .nearby(at, radius_m, limit, |e| matches(e, &filters, now))
            .into_iter()
            .map(|hit| found(hit.id, hit.at, hit.distance_m, hit.payload, now, today))
            .collect()
    }

    /// Inside the box, at most `cap`; true when there were more.
    pub fn within_bbox(
        &self,
        min: LatLng,
        max: LatLng,
        cap: usize,
        filters: Filters,
        now: DateTime<Utc>,
        today: chrono::NaiveDate,
    ) -> (Vec<Found>, bool) {
        let Ok(index) = self.index.read() else {
            return (Vec::new(), false);
        };
        let (hits, truncated) = index.within_bbox(min, max, cap, |e| matches(e, &filters, now));
        (
            hits.into_iter()
                .map(|hit| found(hit.id, hit.at, hit.distance_m, hit.payload, now, today))
                .collect(),
            truncated,
        )
    }
}

fn matches(e: &Entry, filters: &Filters, now: DateTime<Utc>) -> bool {
    e.amenities.contains_all(filters.amenities)
        && filters.kind.is_none_or(|k| k == e.kind)
        && (!filters.open_now || e.open_at(now))
}

fn found(
    id: &str,
    at: LatLng,
    distance_m: f64,
    e: &Entry,
    now: DateTime<Utc>,
    today: chrono::NaiveDate,
) -> Found {
    Found {
        id: id.to_owned(),
        at,
        distance_m,
        name: e.name.to_string(),
        address: e.address.to_string(),
        kind: e.kind,
        amenities: e.amenities,
        status: e.status,
        open_now: e.open_at(now),
        today: e.hours.hours_on(today),
    }
}
