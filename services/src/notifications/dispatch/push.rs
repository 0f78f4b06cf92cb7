//! App push (JPush): each delivery to the user's registered devices, with a `cid` fixed
//! before the first send so a resend is not pushed twice.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use gongyou_db::kv::{Kv, Rate, RateDecision};
use gongyou_db::notifications::{self, Delivery, Outcome};
use gongyou_domain::notification::Channel;
use gongyou_providers::jpush::{JpushClient, JpushError, PushMessage};

use super::{
    backoff_after, batch_context, outcome, push_rate, skip_all, unavailable, MAX_PUSH_ATTEMPTS,
};
use crate::error::ServiceResult;
use crate::Context;

/// Pushes sent at once by one dispatcher.
const SEND_CONCURRENCY: usize = 64;
/// JPush ids fetched ahead into the pool at a time.
const CID_PREFETCH: u32 = 1000;

pub(super) async fn push_batch(ctx: &Context, batch: &[Delivery]) -> ServiceResult<Vec<Outcome>> {
    let now = ctx.clock.now();
    let Some(jpush) = &ctx.providers.jpush else {
        return Ok(skip_all(batch, "push not configured"));
    };
    let users: Vec<String> = batch.iter().map(|d| d.user_id.clone()).collect();
    let devices = ctx
        .db
        .run(move |conn| notifications::devices_of_many(conn, &users))
        .await?;
    let mut devices_of: HashMap<String, Vec<String>> = HashMap::new();
    for (user, device) in devices {
        devices_of.entry(user).or_default().push(device);
    }
    let bc = batch_context(ctx, batch, Channel::Push).await?;

    let mut outcomes = Vec::new();
    let mut to_send = Vec::new();
    for d in batch {
        let n = match bc.deliverable(d) {
            Ok(n) => n,
            Err(skipped) => {
                outcomes.push(skipped);
                continue;
            }
        };
        let Some(targets) = devices_of.get(&d.user_id).filter(|t| !t.is_empty()) else {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "no registered device",
                None,
            ));
            continue;
        };
        to_send.push((d.clone(), n.clone(), targets.clone()));
    }

    // Idempotency ids: a delivery keeps the cid it was first given.
    let need = to_send
        .iter()
        .filter(|(d, _, _)| d.provider_ref.is_none())
        .count();
    let mut fresh = take_cids(ctx, jpush, need).await?;
    let mut assigned = Vec::new();
    for (d, _, _) in to_send.iter_mut() {
        if d.provider_ref.is_none() {
            let Some(cid) = fresh.pop() else {
                return Err(unavailable(anyhow::anyhow!("no JPush cid available")));
            };
            d.provider_ref = Some(cid.clone());
            assigned.push((d.id.clone(), cid));
        }
    }
    ctx.db
        .run(move |conn| notifications::set_provider_refs(conn, &assigned))
        .await?;

    let sends: Vec<(Delivery, Vec<String>, Result<String, JpushError>)> =
        futures_util::stream::iter(to_send.into_iter().map(|(d, n, targets)| {
            let (jpush, kv, rate) = (jpush.clone(), ctx.kv.clone(), push_rate(ctx));
            async move {
                wait_for_rate(&kv, rate).await;
                let message = PushMessage {
                    title: n.title.clone(),
                    alert: n.body.clone(),
                    extras: [
                        (
                            "notification_id".to_owned(),
                            serde_json::Value::String(n.id.clone()),
                        ),
                        (
                            "category".to_owned(),
                            serde_json::Value::String(n.category.clone()),
                        ),
                    ]
                    .into_iter()
                    .collect(),
                };
                let cid = d.provider_ref.clone().unwrap_or_default();
                let result = jpush.push(&cid, &targets, &message).await;
                (d, targets, result)
            }
        }))
        .buffer_unordered(SEND_CONCURRENCY)
        .collect()
        .await;

    let mut invalid_devices = Vec::new();
    for (d, targets, result) in sends {
        outcomes.push(match result {
            Ok(msg_id) => outcome(&d.id, notifications::SENT, format!("msg_id {msg_id}"), None),
            Err(e) => {
                if matches!(e, JpushError::InvalidAudience) {
                    invalid_devices.extend(targets);
                }
                let (status, reason, next) = push_failure(&e, d.attempts, now);
                outcome(&d.id, status, reason, next)
            }
        });
    }
    drop_devices(ctx, invalid_devices).await?;
    Ok(outcomes)
}

/// What a JPush error means for a delivery after `attempts`: its status, the reason
/// recorded, and when to try again.
pub(super) fn push_failure(
    e: &JpushError,
    attempts: i32,
    now: DateTime<Utc>,
) -> (&'static str, String, Option<chrono::NaiveDateTime>) {
    match e {
        JpushError::InvalidAudience => (
            notifications::SKIPPED,
            "registration ids no longer valid (dropped)".into(),
            None,
        ),
        JpushError::RateLimited { retry_after_secs } => (
            notifications::FAILED,
            "rate limited".into(),
            Some({
                // Bounded by the client already; checked again so no value can overflow.
                let secs = i64::try_from(*retry_after_secs).unwrap_or(60).min(3_600);
                let wait = chrono::Duration::try_seconds(secs).unwrap_or(chrono::Duration::MAX);
                now.checked_add_signed(wait).unwrap_or(now).naive_utc()
            }),
        ),
        JpushError::Unavailable(e) if attempts < MAX_PUSH_ATTEMPTS => (
            notifications::FAILED,
            format!("unavailable: {e}"),
            backoff_after(attempts, now),
        ),
        JpushError::Unavailable(e) => (
            notifications::DEAD,
            format!("unavailable, gave up: {e}"),
            None,
        ),
        JpushError::Rejected { code, message } => (
            notifications::DEAD,
            format!("refused {code}: {message}"),
            None,
        ),
    }
}

/// Forgets registration ids JPush no longer knows.
pub(super) async fn drop_devices(ctx: &Context, devices: Vec<String>) -> ServiceResult<()> {
    if devices.is_empty() {
        return Ok(());
    }
    let dropped = ctx
        .db
        .run(move |conn| notifications::remove_devices(conn, &devices))
        .await?;
    tracing::info!(dropped, "dropped push registrations JPush no longer knows");
    Ok(())
}

/// Waits for a slot of the shared push rate (Redis when configured, so all workers share it).
pub(super) async fn wait_for_rate(kv: &Kv, rate: Rate) {
    loop {
        match kv.rate_limit("provider:jpush:push", rate).await {
            Ok(RateDecision::Allowed) => return,
            Ok(RateDecision::Limited { retry_after }) => tokio::time::sleep(retry_after).await,
            Err(e) => {
                tracing::warn!(error = %e, "push rate limit unavailable; sending unthrottled");
                return;
            }
        }
    }
}

/// `n` JPush ids, from the pool or fetched ahead (in batches) into it. Ids older than a day
/// are no longer valid at JPush and are discarded.
pub(super) async fn take_cids(
    ctx: &Context,
    jpush: &JpushClient,
    n: usize,
) -> ServiceResult<Vec<String>> {
    let mut taken = Vec::new();
    if n == 0 {
        return Ok(taken);
    }
    let stale_before = (ctx.clock.now() - chrono::Duration::hours(23)).naive_utc();
    ctx.db
        .run(move |conn| notifications::discard_cids_before(conn, stale_before))
        .await?;
    for _ in 0..1000 {
        let want = i64::try_from(n - taken.len()).unwrap_or(i64::MAX);
        taken.extend(
            ctx.db
                .run(move |conn| notifications::take_cids(conn, want))
                .await?,
        );
        if taken.len() >= n {
            return Ok(taken);
        }
        let fetched = jpush
            .fetch_cids(CID_PREFETCH)
            .await
            .map_err(|e| unavailable(anyhow::anyhow!("fetching JPush cids: {e}")))?;
        if fetched.is_empty() {
            return Err(unavailable(anyhow::anyhow!("JPush returned no cids")));
        }
        let at = ctx.clock.now().naive_utc();
        ctx.db
            .run(move |conn| notifications::add_cids(conn, &fetched, at))
            .await?;
    }
    Err(unavailable(anyhow::anyhow!("could not gather JPush cids")))
}
