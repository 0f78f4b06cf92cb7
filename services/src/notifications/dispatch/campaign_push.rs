//! Campaign pushes (ADR 010): batches of up to 1,000 recipients of one campaign, sent as
//! JPush requests of up to 1,000 registration ids each. A campaign is an admin's notice or
//! a roster import's enrollment notices (its category says which).

use std::collections::HashSet;

use futures_util::StreamExt;
use gongyou_db::campaigns::{self, BatchOutcome, PushBatch};
use gongyou_db::notifications;
use gongyou_domain::notification::Category;
use gongyou_providers::jpush::{JpushError, PushMessage};
use serde::{Deserialize, Serialize};

use super::push::{drop_devices, push_failure, take_cids, wait_for_rate};
use super::{campaign_messages, delivery_lease, push_rate, unavailable};
use crate::error::ServiceResult;
use crate::Context;

/// Registration ids JPush takes in one request.
const JPUSH_MAX_AUDIENCE: usize = 1000;

/// Push batches claimed at once (and sent concurrently) by one dispatcher.
const PUSH_BATCHES_AT_ONCE: i64 = 8;

/// One JPush request of a campaign push batch, frozen before the first send.
#[derive(Serialize, Deserialize)]
struct FrozenPush {
    cid: String,
    registration_ids: Vec<String>,
}

/// One claim of due campaign push batches (ADR 010); false when none was due. Each batch
/// is up to 1,000 inbox rows of one campaign, sent as JPush requests of up to 1,000
/// registration ids each (JPush's limit), so a campaign to a million members takes about a
/// thousand requests instead of a million.
pub(super) async fn dispatch_campaign_pushes(ctx: &Context, worker: &str) -> ServiceResult<bool> {
    let now = ctx.clock.now();
    let lease = (now + delivery_lease(ctx)).naive_utc();
    let w = worker.to_owned();
    let batches = ctx
        .db
        .run(move |conn| {
            campaigns::claim_push_batches(conn, &w, PUSH_BATCHES_AT_ONCE, lease, now.naive_utc())
        })
        .await?;
    if batches.is_empty() {
        return Ok(false);
    }
    let ids: HashSet<String> = batches.iter().map(|b| b.campaign_id.clone()).collect();
    let messages = campaign_messages(ctx, ids).await?;
    let results: Vec<ServiceResult<Option<BatchOutcome>>> =
        futures_util::stream::iter(batches.into_iter().map(|b| {
            let message = messages.get(&b.campaign_id).cloned();
            push_campaign_batch(ctx, worker, b, message)
        }))
        .buffer_unordered(PUSH_BATCHES_AT_ONCE as usize)
        .collect()
        .await;
    let mut outcomes = Vec::new();
    for result in results {
        outcomes.extend(result?);
    }
    let w = worker.to_owned();
    let at = ctx.clock.now().naive_utc();
    ctx.db
        .run(move |conn| campaigns::record_push_batches(conn, &w, &outcomes, at))
        .await?;
    Ok(true)
}

/// Sends one claimed push batch: freezes its requests on the first attempt (audience from
/// the devices of its recipients who have not switched notices off, one cid per request),
/// then sends every request. A retry resends all of them with their cids: JPush does not
/// push a cid twice. None when the claim was lost before anything was sent.
async fn push_campaign_batch(
    ctx: &Context,
    worker: &str,
    batch: PushBatch,
    message: Option<(String, String, Category)>,
) -> ServiceResult<Option<BatchOutcome>> {
    let now = ctx.clock.now();
    let done = |status: &'static str, response: String, next| {
        Some(BatchOutcome {
            campaign_id: batch.campaign_id.clone(),
            first_notification_id: batch.first_notification_id.clone(),
            status,
            response,
            next_attempt_at: next,
        })
    };
    let Some(jpush) = &ctx.providers.jpush else {
        return Ok(done(
            notifications::SKIPPED,
            "push not configured".into(),
            None,
        ));
    };
    let Some((title, body, category)) = message else {
        return Ok(done(notifications::DEAD, "campaign missing".into(), None));
    };
    let requests: Vec<FrozenPush> = match &batch.requests {
        Some(frozen) => match serde_json::from_str(frozen) {
            Ok(requests) => requests,
            Err(e) => {
                return Ok(done(
                    notifications::DEAD,
                    format!("unreadable frozen requests: {e}"),
                    None,
                ))
            }
        },
        None => {
            let b = batch.clone();
            let audience = ctx
                .db
                .run(move |conn| {
                    campaigns::batch_audience(conn, &b, category.as_str(), category.critical())
                })
                .await?;
            let addressed = audience
                .iter()
                .map(|(user, _)| user.as_str())
                .collect::<HashSet<_>>()
                .len();
            let chunks: Vec<Vec<String>> = audience
                .chunks(JPUSH_MAX_AUDIENCE)
                .map(|c| c.iter().map(|(_, reg)| reg.clone()).collect())
                .collect();
            let mut cids = take_cids(ctx, jpush, chunks.len()).await?;
            let mut requests = Vec::new();
            for registration_ids in chunks {
                let Some(cid) = cids.pop() else {
                    return Err(unavailable(anyhow::anyhow!("no JPush cid available")));
                };
                requests.push(FrozenPush {
                    cid,
                    registration_ids,
                });
            }
            let frozen = serde_json::to_string(&requests)
                .map_err(|e| unavailable(anyhow::anyhow!("freezing requests: {e}")))?;
            let (b, w) = (batch.clone(), worker.to_owned());
            let addressed = i64::try_from(addressed).unwrap_or(i64::MAX);
            let kept = ctx
                .db
                .run(move |conn| campaigns::freeze_requests(conn, &b, &w, &frozen, addressed))
                .await?;
            if !kept {
                return Ok(None);
            }
            requests
        }
    };
    let message = PushMessage {
        title,
        alert: body,
        extras: [
            (
                "campaign_id".to_owned(),
                serde_json::Value::String(batch.campaign_id.clone()),
            ),
            (
                "category".to_owned(),
                serde_json::Value::String(category.as_str().to_owned()),
            ),
        ]
        .into_iter()
        .collect(),
    };
    let mut msg_ids = Vec::new();
    let mut invalid_devices = Vec::new();
    let mut retry: Option<(String, chrono::NaiveDateTime)> = None;
    let mut refused: Option<String> = None;
    for request in &requests {
        wait_for_rate(&ctx.kv, push_rate(ctx)).await;
        match jpush
            .push(&request.cid, &request.registration_ids, &message)
            .await
        {
            Ok(msg_id) => msg_ids.push(msg_id),
            Err(e) => {
                if matches!(e, JpushError::InvalidAudience) {
                    invalid_devices.extend(request.registration_ids.iter().cloned());
                }
                // One request's failure decides for the batch: refused beats retry, and an
                // audience JPush no longer knows is simply done.
                match push_failure(&e, batch.attempts, now) {
                    (notifications::DEAD, reason, _) => refused = Some(reason),
                    (notifications::FAILED, reason, Some(at)) => retry = Some((reason, at)),
                    _ => {}
                }
            }
        }
    }
    drop_devices(ctx, invalid_devices).await?;
    let summary = format!("{} of {} requests pushed", msg_ids.len(), requests.len());
    Ok(match (refused, retry) {
        (Some(reason), _) => done(notifications::DEAD, format!("{reason}; {summary}"), None),
        (None, Some((reason, at))) => done(
            notifications::FAILED,
            format!("retrying, {reason}; {summary}"),
            Some(at),
        ),
        (None, None) => done(
            notifications::SENT,
            format!("{summary}; msg_id {}", msg_ids.join(",")),
            None,
        ),
    })
}
