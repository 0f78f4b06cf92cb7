//! The Redis store: shared by every replica. Connections are made lazily and re-made after
//! failures, so a Redis outage makes readiness fail instead of stopping the process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use gongyou_domain::clock::SharedClock;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use tokio::sync::{broadcast, Mutex, OnceCell};

use super::{KvError, Subscription};

const TIMEOUT: Duration = Duration::from_secs(2);

/// GCRA in one round trip. KEYS[1] bucket; ARGV now, interval, period (ms). Returns the wait
/// in ms (0 = allowed). Mirrors `gcra_step`.
const GCRA: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > period then
  return new_tat - period - now
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(new_tat - now, 1) + 1000)
return 0
";

/// Set only when the key holds nothing live by the injected clock. KEYS[1]; ARGV value, now,
/// ttl in ms. Returns 1 when set.
const SET_IF_ABSENT: &str = r"
local old = redis.call('GET', KEYS[1])
if old then
  local sep = string.find(old, '|', 1, true)
  if sep and tonumber(string.sub(old, 1, sep - 1)) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

/// Counts one event; the key lives from its first event (works on Redis before 7, which
/// lacks `PEXPIRE … NX`). KEYS[1]; ARGV ttl in ms.
const INCR_WITH_TTL: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

#[derive(Clone)]
pub struct RedisKv {
    client: redis::Client,
    prefix: String,
    clock: SharedClock,
    manager: Arc<OnceCell<ConnectionManager>>,
    /// One Redis subscription per channel, fanned out to local receivers.
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>,
}

impl std::fmt::Debug for RedisKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKv")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

async fn timed<T>(
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, KvError> {
    match tokio::time::timeout(TIMEOUT, fut).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(KvError::Timeout),
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisKv {
    pub fn new(url: &str, prefix: &str, clock: SharedClock) -> Result<Self, KvError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            prefix: prefix.to_owned(),
            clock,
            manager: Arc::default(),
            channels: Arc::default(),
        })
    }

    pub(super) fn clock(&self) -> &SharedClock {
        &self.clock
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn conn(&self) -> Result<ConnectionManager, KvError> {
        let manager = self
            .manager
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_number_of_retries(1);
                timed(self.client.get_connection_manager_with_config(config)).await
            })
            .await?;
        Ok(manager.clone())
    }

    pub(super) async fn ping(&self) -> Result<(), KvError> {
        let mut conn = self.conn().await?;
        timed(redis::cmd("PING").query_async::<String>(&mut conn)).await?;
        Ok(())
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let mut conn = self.conn().await?;
        timed(conn.get(self.key(key))).await
    }

    pub(super) async fn set(&self, key: &str, raw: &str, ttl: Duration) -> Result<(), KvError> {
        let mut conn = self.conn().await?;
        timed(conn.pset_ex::<_, _, ()>(self.key(key), raw, ttl_ms(ttl))).await
    }

    pub(super) async fn set_if_absent(
        &self,
        key: &str,
        raw: &str,
        ttl: Duration,
        now_ms: i64,
    ) -> Result<bool, KvError> {
        let mut conn = self.conn().await?;
        let script = redis::Script::new(SET_IF_ABSENT);
        let mut invocation = script.key(self.key(key));
        invocation.arg(raw).arg(now_ms).arg(ttl_ms(ttl));
        let set: i64 = timed(invocation.invoke_async(&mut conn)).await?;
        Ok(set == 1)
    }

    pub(super) async fn take(&self, key: &str) -> Result<Option<String>, KvError> {
        let mut conn = self.conn().await?;
        timed(conn.get_del(self.key(key))).await
    }

    pub(super) async fn incr(&self, key: &str, window: Duration) -> Result<u64, KvError> {
        let mut conn = self.conn().await?;
        let script = redis::Script::new(INCR_WITH_TTL);
        let mut invocation = script.key(self.key(key));
        invocation.arg(ttl_ms(window));
        timed(invocation.invoke_async(&mut conn)).await
    }

    pub(super) async fn gcra(
        &self,
        key: &str,
        now: i64,
        interval: i64,
        period: i64,
    ) -> Result<i64, KvError> {
        let mut conn = self.conn().await?;
        let script = redis::Script::new(GCRA);
        let mut invocation = script.key(self.key(key));
        invocation.arg(now).arg(interval).arg(period);
        timed(invocation.invoke_async(&mut conn)).await
    }

    pub(super) async fn publish(&self, channel: &str, message: &str) -> Result<(), KvError> {
        let mut conn = self.conn().await?;
        timed(conn.publish::<_, _, ()>(self.key(channel), message)).await
    }

    pub(super) async fn subscribe(&self, channel: &str) -> Result<Subscription, KvError> {
        let mut channels = self.channels.lock().await;
        if let Some(tx) = channels.get(channel) {
            return Ok(tx.subscribe());
        }
        let (tx, rx) = broadcast::channel(1024);
        // Subscribe before returning, so nothing published after this call is missed.
        let pubsub = self.open_pubsub(channel).await?;
        channels.insert(channel.to_owned(), tx.clone());
        tokio::spawn(forward(self.clone(), channel.to_owned(), pubsub, tx));
        Ok(rx)
    }

    async fn open_pubsub(&self, channel: &str) -> Result<redis::aio::PubSub, KvError> {
        let mut pubsub = timed(self.client.get_async_pubsub()).await?;
        timed(pubsub.subscribe(self.key(channel))).await?;
        Ok(pubsub)
    }
}

/// Forwards one Redis channel to local receivers, re-subscribing after a lost connection,
/// until no local receiver is left.
async fn forward(
    kv: RedisKv,
    channel: String,
    first: redis::aio::PubSub,
    tx: broadcast::Sender<String>,
) {
    let mut pubsub = Some(first);
    loop {
        if let Some(ps) = pubsub.take() {
            let mut messages = ps.into_on_message();
            while let Some(msg) = messages.next().await {
                let Ok(payload) = msg.get_payload::<String>() else {
                    continue;
                };
                if tx.send(payload).is_err() {
                    kv.channels.lock().await.remove(&channel);
                    return;
                }
            }
            tracing::warn!(channel = %channel, "redis subscription lost; reconnecting");
        }
        if tx.receiver_count() == 0 {
            kv.channels.lock().await.remove(&channel);
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        match kv.open_pubsub(&channel).await {
            Ok(ps) => pubsub = Some(ps),
            Err(e) => tracing::warn!(channel = %channel, error = %e, "redis resubscribe failed"),
        }
    }
}
