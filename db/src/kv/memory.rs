//! The in-process store used when no Redis is configured: correct for one replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use gongyou_domain::clock::SharedClock;
use tokio::sync::broadcast;

use super::{gcra_step, unwrap_expiring, Subscription};

#[derive(Default)]
struct State {
    values: HashMap<String, String>,
    /// Counter key → (count, window end in ms).
    counters: HashMap<String, (u64, i64)>,
    buckets: HashMap<String, i64>,
    channels: HashMap<String, broadcast::Sender<String>>,
    /// Entries at which the next sweep runs (doubles with what a sweep leaves alive, so a
    /// store with many live entries is not swept on every write).
    sweep_at: usize,
}

/// The fewest entries at which a sweep runs.
const SWEEP_FLOOR: usize = 10_000;

#[derive(Clone)]
pub struct MemoryKv {
    state: Arc<Mutex<State>>,
    clock: SharedClock,
}

impl std::fmt::Debug for MemoryKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryKv")
    }
}

impl MemoryKv {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            state: Arc::default(),
            clock,
        }
    }

    pub(super) fn clock(&self) -> &SharedClock {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops what has expired, so a long-running process does not grow without bound.
    fn sweep(state: &mut State, now_ms: i64) {
        let entries = |s: &State| s.values.len() + s.counters.len() + s.buckets.len();
        if entries(state) > state.sweep_at.max(SWEEP_FLOOR) {
            state
                .values
                .retain(|_, raw| unwrap_expiring(raw, now_ms).is_some());
            state.counters.retain(|_, (_, ends)| *ends > now_ms);
            state.buckets.retain(|_, tat| *tat > now_ms);
            state.sweep_at = (entries(state) * 2).max(SWEEP_FLOOR);
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<String> {
        self.lock().values.get(key).cloned()
    }

    pub(super) fn set(&self, key: &str, raw: String) {
        let now = self.clock.now().timestamp_millis();
        let mut state = self.lock();
        Self::sweep(&mut state, now);
        state.values.insert(key.to_owned(), raw);
    }

    pub(super) fn set_if_absent(&self, key: &str, raw: String, now_ms: i64) -> bool {
        let mut state = self.lock();
        let live = state
            .values
            .get(key)
            .is_some_and(|old| unwrap_expiring(old, now_ms).is_some());
        if !live {
            state.values.insert(key.to_owned(), raw);
        }
        !live
    }

    pub(super) fn take(&self, key: &str) -> Option<String> {
        self.lock().values.remove(key)
    }

    pub(super) fn incr(&self, key: &str, ends_ms: i64, now_ms: i64) -> u64 {
        let mut state = self.lock();
        Self::sweep(&mut state, now_ms);
        let entry = state.counters.entry(key.to_owned()).or_insert((0, ends_ms));
        if entry.1 <= now_ms {
            *entry = (0, ends_ms);
        }
        entry.0 += 1;
        entry.0
    }

    pub(super) fn count(&self, key: &str) -> u64 {
        self.lock().counters.get(key).map_or(0, |(count, _)| *count)
    }

    pub(super) fn clear_counter(&self, key: &str) {
        self.lock().counters.remove(key);
    }

    pub(super) fn gcra(&self, key: &str, now: i64, interval: i64, period: i64) -> i64 {
        let mut state = self.lock();
        Self::sweep(&mut state, now);
        match gcra_step(state.buckets.get(key).copied(), now, interval, period) {
            Ok(new_tat) => {
                state.buckets.insert(key.to_owned(), new_tat);
                0
            }
            Err(wait) => wait,
        }
    }

    pub(super) fn publish(&self, channel: &str, message: &str) {
        if let Some(tx) = self.lock().channels.get(channel) {
            // No receivers is fine: nobody is listening yet.
            let _ = tx.send(message.to_owned());
        }
    }

    pub(super) fn subscribe(&self, channel: &str) -> Subscription {
        self.lock()
            .channels
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }
}
