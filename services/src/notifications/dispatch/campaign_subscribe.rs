//! Campaign subscribe messages (ADR 021): WeChat takes one message per request and has no
//! idempotency key, so a batch is sent in order, [`WINDOW`] messages in flight, and its
//! progress through the frozen recipient list is recorded every [`CHECKPOINT_EVERY`]
//! messages (or second) without stopping the sending. A dispatcher that dies mid-batch
//! leaves at most `WINDOW + CHECKPOINT_EVERY` messages of it unrecorded: the one that takes
//! the lapsed claim over resumes at the recorded progress, so only those can go out twice.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gongyou_db::notifications;
use gongyou_db::subscribe_batches::{
    self as store, Finish, Progress, Recipient, Retry, SubscribeBatch,
};
use gongyou_domain::notification::Category;
use gongyou_domain::time::china_date;
use gongyou_providers::subscribe_fields::fit;
use gongyou_providers::wechat::WechatError;

use super::{backoff_after, campaign_messages, delivery_lease, unavailable, MAX_PUSH_ATTEMPTS};
use crate::error::ServiceResult;
use crate::Context;

/// Batches claimed at once (and sent concurrently) by one dispatcher: three, so that one
/// batch's freeze or tail does not leave the cores idle (ADR 022).
const BATCHES_AT_ONCE: i64 = 3;
/// Messages of one batch in flight at once.
pub const WINDOW: usize = 16;
/// Messages done between two recorded checkpoints (at most; also every second).
pub const CHECKPOINT_EVERY: usize = 64;
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Consecutive retryable failures after which a batch pauses: WeChat is down or limiting,
/// and retrying each message on its own would only add load.
const PAUSE_AFTER: usize = WINDOW;
/// Where tapping the message leads in the mini-program.
const PAGE: &str = "pages/notifications/index";

/// One claim of due campaign subscribe batches; false when none was due.
pub(super) async fn dispatch_campaign_messages(ctx: &Context, worker: &str) -> ServiceResult<bool> {
    let now = ctx.clock.now();
    let lease = (now + delivery_lease(ctx)).naive_utc();
    let w = worker.to_owned();
    let batches = ctx
        .db
        .run(move |conn| store::claim(conn, &w, BATCHES_AT_ONCE, lease, now.naive_utc()))
        .await?;
    if batches.is_empty() {
        return Ok(false);
    }
    let ids: HashSet<String> = batches.iter().map(|b| b.campaign_id.clone()).collect();
    let messages = campaign_messages(ctx, ids).await?;
    let results: Vec<ServiceResult<()>> =
        futures_util::stream::iter(batches.into_iter().map(|b| {
            let message = messages.get(&b.campaign_id).cloned();
            send_batch(ctx, worker, b, message)
        }))
        .buffer_unordered(BATCHES_AT_ONCE as usize)
        .collect()
        .await;
    for result in results {
        result?;
    }
    Ok(true)
}

/// How the recipients done since the last checkpoint went.
#[derive(Default)]
struct Tally {
    sent: i32,
    skipped: i32,
    dead: Vec<String>,
    retries: Vec<Retry>,
    /// Retryable failures in a row, at the end of `retries`.
    failing: usize,
}

impl Tally {
    fn progress(&mut self, at: usize, finish: Option<Finish>) -> Progress {
        let t = std::mem::take(self);
        let mut return_credits: Vec<String> = t.retries.iter().map(|r| r.user_id.clone()).collect();
        return_credits.extend(t.dead.iter().cloned());
        Progress {
            progress: i32::try_from(at).unwrap_or(i32::MAX),
            sent: t.sent,
            skipped: t.skipped,
            dead: i32::try_from(t.dead.len()).unwrap_or(i32::MAX),
            retries: t.retries,
            return_credits,
            finish,
        }
    }
}

/// Records a checkpoint; false when the claim was lost.
async fn record(
    ctx: &Context,
    batch: &SubscribeBatch,
    worker: &str,
    progress: Progress,
) -> ServiceResult<bool> {
    let now = ctx.clock.now();
    let lease = (now + delivery_lease(ctx)).naive_utc();
    let (b, w) = (batch.clone(), worker.to_owned());
    Ok(ctx
        .db
        .run(move |conn| store::checkpoint(conn, &b, &w, &progress, lease, now.naive_utc()))
        .await?)
}

/// Ends the batch without sending (more): `status` for the reason; the credits of the
/// recipients not reached go back.
async fn end_unsent(
    ctx: &Context,
    batch: &SubscribeBatch,
    worker: &str,
    recipients: &[Recipient],
    status: &'static str,
    response: String,
) -> ServiceResult<()> {
    let at = usize::try_from(batch.progress).unwrap_or(0);
    let now = ctx.clock.now().naive_utc();
    let progress = Progress {
        progress: batch.progress,
        return_credits: recipients
            .iter()
            .skip(at)
            .map(|r| r.user_id.clone())
            .collect(),
        finish: Some(Finish {
            status,
            response,
            next_attempt_at: now,
        }),
        ..Progress::default()
    };
    record(ctx, batch, worker, progress).await?;
    Ok(())
}

/// Sends one claimed batch from its recorded progress: freezes its recipients first on the
/// first claim (taking their credits).
async fn send_batch(
    ctx: &Context,
    worker: &str,
    batch: SubscribeBatch,
    message: Option<(String, String, Category)>,
) -> ServiceResult<()> {
    let now = ctx.clock.now();
    // Recipients frozen by an earlier claim (resumed), if any.
    let frozen = match &batch.frozen {
        Some(frozen) => match store::decode(frozen) {
            Some(list) => Some(list),
            None => {
                let response = "unreadable frozen recipients".to_owned();
                return end_unsent(ctx, &batch, worker, &[], notifications::DEAD, response).await;
            }
        },
        None => None,
    };
    // Checked before any credit is taken; a resumed batch gives its unreached ones back.
    let unreached = frozen.as_deref().unwrap_or_default();
    let Some(wechat) = &ctx.providers.wechat else {
        let response = "wechat not configured".to_owned();
        return end_unsent(
            ctx,
            &batch,
            worker,
            unreached,
            notifications::SKIPPED,
            response,
        )
        .await;
    };
    let Some((title, body, category)) = message else {
        let response = "campaign missing".to_owned();
        return end_unsent(
            ctx,
            &batch,
            worker,
            unreached,
            notifications::DEAD,
            response,
        )
        .await;
    };
    let recipients = match frozen {
        Some(list) => list,
        None => {
            let (b, w) = (batch.clone(), worker.to_owned());
            let frozen = ctx
                .db
                .run(move |conn| {
                    store::freeze(
                        conn,
                        &b,
                        &w,
                        category.as_str(),
                        category.critical(),
                        now.naive_utc(),
                    )
                })
                .await?;
            match frozen {
                Some(list) => list,
                None => return Ok(()), // the claim was lost: another dispatcher has it
            }
        }
    };
    let start = usize::try_from(batch.progress)
        .unwrap_or(0)
        .min(recipients.len());
    let sender = match wechat.subscribe_sender().await {
        Ok(sender) => sender,
        Err(e) => return pause(ctx, &batch, worker, start, &recipients, &e).await,
    };
    let date = china_date(now).format("%Y年%m月%d日").to_string();
    let data: Vec<(String, String)> = [
        ("thing1", title.as_str()),
        ("thing2", body.as_str()),
        ("time3", date.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), fit(k, v)))
    .collect();
    let shared = std::sync::Arc::new((sender, data, batch.template_id.clone()));
    let mut results = futures_util::stream::iter(recipients[start..].to_vec())
        .map(move |r| {
            let shared = shared.clone();
            async move {
                let (sender, data, template) = &*shared;
                let sent = sender.send(&r.openid, template, Some(PAGE), data).await;
                (r, sent)
            }
        })
        .buffered(WINDOW);
    let mut tally = Tally::default();
    let mut at = start;
    let mut since_checkpoint = 0usize;
    let mut last_checkpoint = Instant::now();
    // The checkpoint being written while the sending goes on.
    let mut writing: Option<tokio::task::JoinHandle<ServiceResult<bool>>> = None;
    let mut last_error: Option<WechatError> = None;
    while let Some((r, result)) = results.next().await {
        at += 1;
        since_checkpoint += 1;
        match result {
            Ok(()) => {
                tally.sent += 1;
                tally.failing = 0;
            }
            Err(WechatError::NotSubscribed) => {
                tally.skipped += 1;
                tally.failing = 0;
            }
            Err(e) if e.is_retryable() => {
                tally.retries.push(Retry {
                    notification_id: r.notification_id.clone(),
                    user_id: r.user_id.clone(),
                    next_attempt_at: backoff_after(0, ctx.clock.now()).unwrap_or(now.naive_utc()),
                    response: format!("retrying: {e}"),
                });
                tally.failing += 1;
                last_error = Some(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, "wechat refused a campaign message");
                tally.dead.push(r.user_id.clone());
                tally.failing = 0;
            }
        }
        if tally.failing >= PAUSE_AFTER {
            // Those failures were not sent: resent when the batch resumes, not one by one.
            let failing = tally.failing;
            tally.retries.truncate(tally.retries.len() - failing);
            at -= failing;
            drop(results);
            if let Some(previous) = writing.take() {
                if !joined(previous).await? {
                    return Ok(());
                }
            }
            let error = last_error.unwrap_or(WechatError::Busy);
            let response = format!("{failing} failures in a row: {error}");
            let last = batch.attempts >= MAX_PUSH_ATTEMPTS;
            let next = backoff_after(batch.attempts, ctx.clock.now()).unwrap_or(now.naive_utc());
            let finish = Finish {
                status: if last {
                    notifications::DEAD
                } else {
                    notifications::FAILED
                },
                response: if last {
                    format!("gave up after {} attempts, {response}", batch.attempts)
                } else {
                    format!("paused, {response}")
                },
                next_attempt_at: next,
            };
            let mut progress = tally.progress(at, Some(finish));
            if last {
                // Never reached: their credits go back.
                progress
                    .return_credits
                    .extend(recipients[at..].iter().map(|r| r.user_id.clone()));
            }
            record(ctx, &batch, worker, progress).await?;
            return Ok(());
        }
        if since_checkpoint >= CHECKPOINT_EVERY || last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL
        {
            if let Some(previous) = writing.take() {
                if !joined(previous).await? {
                    return Ok(()); // the claim was lost: stop sending
                }
            }
            let progress = tally.progress(at, None);
            let (c, b, w) = (ctx.clone(), batch.clone(), worker.to_owned());
            writing = Some(tokio::spawn(
                async move { record(&c, &b, &w, progress).await },
            ));
            since_checkpoint = 0;
            last_checkpoint = Instant::now();
        }
    }
    if let Some(previous) = writing.take() {
        if !joined(previous).await? {
            return Ok(());
        }
    }
    let finish = Finish {
        status: notifications::SENT,
        response: format!("{} recipients", recipients.len()),
        next_attempt_at: ctx.clock.now().naive_utc(),
    };
    record(ctx, &batch, worker, tally.progress(at, Some(finish))).await?;
    Ok(())
}

async fn joined(handle: tokio::task::JoinHandle<ServiceResult<bool>>) -> ServiceResult<bool> {
    handle
        .await
        .map_err(|e| unavailable(anyhow::anyhow!("checkpoint task: {e}")))?
}

/// WeChat could not be asked at all (no access token): the batch waits with backoff at its
/// progress, or, after its last attempt, ends with the credits of those not reached given
/// back.
async fn pause(
    ctx: &Context,
    batch: &SubscribeBatch,
    worker: &str,
    at: usize,
    recipients: &[Recipient],
    error: &WechatError,
) -> ServiceResult<()> {
    if !error.is_retryable() || batch.attempts >= MAX_PUSH_ATTEMPTS {
        let response = format!("refused: {error}");
        return end_unsent(
            ctx,
            batch,
            worker,
            recipients,
            notifications::DEAD,
            response,
        )
        .await;
    }
    let now = ctx.clock.now();
    let finish = Finish {
        status: notifications::FAILED,
        response: format!("retrying: {error}"),
        next_attempt_at: backoff_after(batch.attempts, now).unwrap_or(now.naive_utc()),
    };
    let progress = Progress {
        progress: i32::try_from(at).unwrap_or(i32::MAX),
        finish: Some(finish),
        ..Progress::default()
    };
    record(ctx, batch, worker, progress).await?;
    Ok(())
}
