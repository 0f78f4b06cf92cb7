//! What Redis holds, behind one small interface: values with an expiry, counters per time
//! window, rate-limit buckets and pub/sub for cache invalidation between replicas. With
//! `GONGYOU_REDIS_URL` unset the same interface runs in-process (one replica only).
//!
//! Expiry follows the injected clock, not Redis's own: every stored value carries its
//! `expires_at`, windows are numbered from the clock, and rate buckets take "now" as an
//! argument, so tests that move the clock see the same behaviour on both implementations.
//! Redis TTLs are still set, only to clean up.

mod memory;
mod redis_kv;

use std::time::Duration;

use chrono::{DateTime, Utc};
use gongyou_domain::clock::SharedClock;

pub use memory::MemoryKv;
pub use redis_kv::RedisKv;

/// Errors of the key/value store.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("redis unavailable")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer in time")]
    Timeout,
}

/// A rate: at most `limit` events per `period`, with bursts up to `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u32,
    pub period: Duration,
}

impl Rate {
    pub fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(60),
        }
    }
    pub fn per_hour(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(3600),
        }
    }
    pub fn per_day(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(86_400),
        }
    }
    /// Milliseconds between events at a steady rate (GCRA's emission interval).
    fn interval_ms(&self) -> i64 {
        let period = i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX);
        period / i64::from(self.limit.max(1))
    }
    fn period_ms(&self) -> i64 {
        i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The answer of a rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after: Duration },
}

/// Messages arriving on a pub/sub channel. Lagging receivers skip what they missed (callers
/// keep a periodic catch-up for exactly that reason).
pub type Subscription = tokio::sync::broadcast::Receiver<String>;

/// The store: Redis when configured, in-process otherwise.
#[derive(Clone, Debug)]
pub enum Kv {
    Redis(RedisKv),
    Memory(MemoryKv),
}

impl Kv {
    /// Redis at `url` with every key and channel under `prefix`, or in-process when `url` is `None`.
    pub fn new(url: Option<&str>, prefix: &str, clock: SharedClock) -> Result<Self, KvError> {
        match url {
            Some(url) => Ok(Kv::Redis(RedisKv::new(url, prefix, clock)?)),
            None => Ok(Kv::Memory(MemoryKv::new(clock))),
        }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self, Kv::Redis(_))
    }

    fn now(&self) -> DateTime<Utc> {
        match self {
            Kv::Redis(r) => r.clock().now(),
            Kv::Memory(m) => m.clock().now(),
        }
    }

    /// Whether the store answers (always true in-process).
    pub async fn ping(&self) -> Result<(), KvError> {
        match self {
            Kv::Redis(r) => r.ping().await,
            Kv::Memory(_) => Ok(()),
        }
    }

    /// The value under `key`, unless absent or expired by the clock.
    pub async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let now = self.now().timestamp_millis();
        let raw = match self {
            Kv::Redis(r) => r.get(key).await?,
            Kv::Memory(m) => m.get(key),
        };
        Ok(raw.and_then(|raw| unwrap_expiring(&raw, now)))
    }

    /// Stores `value` under `key` for `ttl`.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), KvError> {
        let raw = wrap_expiring(value, self.expiry_ms(ttl));
        match self {
            Kv::Redis(r) => r.set(key, &raw, ttl).await,
            Kv::Memory(m) => {
                m.set(key, raw);
                Ok(())
            }
        }
    }

    /// Stores `value` only if `key` holds nothing live; returns whether it did (a lock).
    pub async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, KvError> {
        let now = self.now().timestamp_millis();
        let raw = wrap_expiring(value, self.expiry_ms(ttl));
        match self {
            Kv::Redis(r) => r.set_if_absent(key, &raw, ttl, now).await,
            Kv::Memory(m) => Ok(m.set_if_absent(key, raw, now)),
        }
    }

    /// Deletes `key`; returns whether it held a live value.
    pub async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let now = self.now().timestamp_millis();
        let raw = match self {
            Kv::Redis(r) => r.take(key).await?,
            Kv::Memory(m) => m.take(key),
        };
        Ok(raw.and_then(|raw| unwrap_expiring(&raw, now)).is_some())
    }

    /// Counts one more event in the current fixed window of length `window` (windows are
    /// numbered from the Unix epoch by the clock); returns the count and when the window ends.
    pub async fn incr_in_window(
        &self,
        key: &str,
        window: Duration,
    ) -> Result<(u64, DateTime<Utc>), KvError> {
        let (windowed, ends, ends_ms) = self.window_key(key, window);
        let count = match self {
            Kv::Redis(r) => r.incr(&windowed, window).await?,
            Kv::Memory(m) => m.incr(&windowed, ends_ms, self.now().timestamp_millis()),
        };
        Ok((count, ends))
    }

    /// Reads the count of the current window without counting (see `incr_in_window`).
    pub async fn count_in_window(
        &self,
        key: &str,
        window: Duration,
    ) -> Result<(u64, DateTime<Utc>), KvError> {
        let (windowed, ends, _) = self.window_key(key, window);
        let count = match self {
            Kv::Redis(r) => r
                .get(&windowed)
                .await?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            Kv::Memory(m) => m.count(&windowed),
        };
        Ok((count, ends))
    }

    /// Forgets the current window's count (e.g. failures, after a success).
    pub async fn clear_window(&self, key: &str, window: Duration) -> Result<(), KvError> {
        let (windowed, _, _) = self.window_key(key, window);
        match self {
            Kv::Redis(r) => {
                r.take(&windowed).await?;
            }
            Kv::Memory(m) => m.clear_counter(&windowed),
        }
        Ok(())
    }

    /// Counts one more event under `key`, which lives `ttl` from its first event; returns
    /// the count. For counts tied to something that itself expires by the clock (tries of a
    /// one-time code); use windows where the count's own expiry matters.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, KvError> {
        let ends = self.expiry_ms(ttl);
        match self {
            Kv::Redis(r) => r.incr(key, ttl).await,
            Kv::Memory(m) => Ok(m.incr(key, ends, self.now().timestamp_millis())),
        }
    }

    fn window_key(&self, key: &str, window: Duration) -> (String, DateTime<Utc>, i64) {
        let now = self.now();
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
        let index = now.timestamp_millis().div_euclid(window_ms);
        let ends = DateTime::<Utc>::from_timestamp_millis((index + 1) * window_ms).unwrap_or(now);
        (format!("{key}:w{index}"), ends, (index + 1) * window_ms)
    }

    /// Takes one event from the bucket `key` at `rate` (GCRA: smooth, with bursts up to the limit).
    pub async fn rate_limit(&self, key: &str, rate: Rate) -> Result<RateDecision, KvError> {
        let now = self.now().timestamp_millis();
        let wait_ms = match self {
            Kv::Redis(r) => {
                r.gcra(key, now, rate.interval_ms(), rate.period_ms())
                    .await?
            }
            Kv::Memory(m) => m.gcra(key, now, rate.interval_ms(), rate.period_ms()),
        };
        Ok(if wait_ms <= 0 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
            }
        })
    }

    /// Sends `message` to every subscriber of `channel` (on every replica, with Redis).
    pub async fn publish(&self, channel: &str, message: &str) -> Result<(), KvError> {
        match self {
            Kv::Redis(r) => r.publish(channel, message).await,
            Kv::Memory(m) => {
                m.publish(channel, message);
                Ok(())
            }
        }
    }

    /// Starts receiving what is published on `channel`.
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, KvError> {
        match self {
            Kv::Redis(r) => r.subscribe(channel).await,
            Kv::Memory(m) => Ok(m.subscribe(channel)),
        }
    }

    fn expiry_ms(&self, ttl: Duration) -> i64 {
        self.now().timestamp_millis() + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
    }
}

/// Stored form of a value: `<expires_at_ms>|<value>`.
fn wrap_expiring(value: &str, expires_ms: i64) -> String {
    format!("{expires_ms}|{value}")
}

fn unwrap_expiring(raw: &str, now_ms: i64) -> Option<String> {
    let (expires, value) = raw.split_once('|')?;
    let expires: i64 = expires.parse().ok()?;
    (expires > now_ms).then(|| value.to_owned())
}

/// The GCRA step shared by both implementations (the Redis Lua script does the same):
/// returns the new theoretical arrival time to store, or how long to wait.
fn gcra_step(stored_tat: Option<i64>, now: i64, interval: i64, period: i64) -> Result<i64, i64> {
    let tat = stored_tat.unwrap_or(now).max(now);
    let new_tat = tat + interval;
    if new_tat - now > period {
        Err(new_tat - period - now)
    } else {
        Ok(new_tat)
    }
}
