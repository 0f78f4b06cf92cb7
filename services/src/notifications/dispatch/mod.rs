//! The dispatcher: delivers what the outbox wrote — each external channel's deliveries
//! (app push, WeChat subscribe messages, SMS) and campaign push batches — with retries and
//! backoff, per-provider rate limits, and idempotency ids so a delivery claimed again after
//! a worker died is not sent twice (ADR 009, ADR 010).

mod campaign_push;
mod campaign_subscribe;
mod push;
mod sms;
mod wechat;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gongyou_db::kv::Rate;
use gongyou_db::notifications::{self, Delivery, Notification, Outcome};
use gongyou_db::DbError;
use gongyou_domain::notification::{Category, Channel};

use crate::error::{ServiceError, ServiceResult};
use crate::Context;
use campaign_push::dispatch_campaign_pushes;
use campaign_subscribe::dispatch_campaign_messages;
pub use campaign_subscribe::{CHECKPOINT_EVERY, WINDOW};
use push::push_batch;
use sms::sms_batch;
use wechat::wechat_batch;

/// How long a claimed delivery is held before another dispatcher may take it over.
fn delivery_lease(ctx: &Context) -> chrono::Duration {
    chrono::Duration::seconds(ctx.config.delivery_lease_secs)
}

/// JPush requests per second, shared by every worker (through Redis when configured).
fn push_rate(ctx: &Context) -> Rate {
    Rate {
        limit: ctx.config.jpush_rate_per_sec,
        period: Duration::from_secs(1),
    }
}

/// A provider failure worth retrying the whole dispatch for.
fn unavailable(cause: anyhow::Error) -> ServiceError {
    ServiceError::unavailable("notifications.provider_unavailable", cause)
}

/// Deliveries of one channel claimed at once.
const BATCH: i64 = 500;
/// Attempts of a delivery before it is dead.
const MAX_PUSH_ATTEMPTS: i32 = 8;

/// Delivers due work until none is due, taking turns so a campaign never holds up a single
/// notification: one claim of each external channel's deliveries, then one of campaign push
/// batches, one of campaign subscribe batches, and again.
///
/// Per channel: claim a batch of deliveries in one statement, decide per delivery (no
/// device, switched off → skipped), give each push a JPush `cid` before sending (stored
/// first, so a resend after a crash reuses it and JPush does not push twice), send
/// concurrently under the shared rate limit, record the batch in one statement.
///
/// `worker` names this dispatcher on the deliveries and batches it claims.
pub async fn dispatch(ctx: &Context, worker: &str) -> ServiceResult<()> {
    loop {
        let mut busy = false;
        for channel in Channel::EXTERNAL {
            busy |= dispatch_channel(ctx, worker, channel).await?;
        }
        busy |= dispatch_campaign_pushes(ctx, worker).await?;
        busy |= dispatch_campaign_messages(ctx, worker).await?;
        if !busy {
            return Ok(());
        }
    }
}

/// One claim of a channel's due deliveries; false when none was due.
async fn dispatch_channel(ctx: &Context, worker: &str, channel: Channel) -> ServiceResult<bool> {
    let now = ctx.clock.now();
    let lease = (now + delivery_lease(ctx)).naive_utc();
    let w = worker.to_owned();
    let batch = ctx
        .db
        .run(move |conn| {
            notifications::claim(conn, channel.as_str(), &w, BATCH, lease, now.naive_utc())
        })
        .await?;
    if batch.is_empty() {
        return Ok(false);
    }
    let outcomes = match channel {
        Channel::Push => push_batch(ctx, &batch).await?,
        Channel::Wechat => wechat_batch(ctx, &batch).await?,
        Channel::Sms => sms_batch(ctx, &batch).await?,
        Channel::Inbox => Vec::new(),
    };
    let w = worker.to_owned();
    let at = ctx.clock.now().naive_utc();
    ctx.db
        .run(move |conn| notifications::record(conn, &w, &outcomes, at))
        .await?;
    Ok(true)
}

/// The title, body and category of each campaign in `ids` (missing ones left out).
pub(super) async fn campaign_messages(
    ctx: &Context,
    ids: HashSet<String>,
) -> ServiceResult<HashMap<String, (String, String, Category)>> {
    Ok(ctx
        .db
        .run(move |conn| {
            let mut messages = HashMap::new();
            for id in ids {
                if let Some(c) = gongyou_db::campaigns::get(conn, &id)? {
                    let category = Category::parse(&c.category).unwrap_or(Category::Notice);
                    messages.insert(id, (c.title, c.body, category));
                }
            }
            Ok::<_, DbError>(messages)
        })
        .await?)
}

pub(super) fn backoff_after(attempts: i32, now: DateTime<Utc>) -> Option<chrono::NaiveDateTime> {
    let delay = 5i64.saturating_mul(1 << attempts.clamp(0, 10)).min(3600);
    Some((now + chrono::Duration::seconds(delay)).naive_utc())
}

pub(super) fn outcome(
    id: &str,
    status: &'static str,
    response: impl Into<String>,
    next: Option<chrono::NaiveDateTime>,
) -> Outcome {
    Outcome {
        id: id.to_owned(),
        status,
        response: Some(response.into()),
        next_attempt_at: next,
    }
}

/// What every channel needs about a batch: its notifications, the recipients' contacts,
/// and who switched the channel off (critical categories ignore that).
pub(super) struct BatchContext {
    pub(super) notes: HashMap<String, Notification>,
    pub(super) phones: HashMap<String, String>,
    pub(super) openids: HashMap<String, String>,
    pub(super) opted_out: HashSet<(String, String)>,
}

impl BatchContext {
    /// The delivery's notification; or, when it is missing (dead) or the user switched this
    /// channel off for its category (skipped), the outcome to record instead.
    pub(super) fn deliverable(&self, d: &Delivery) -> Result<&Notification, Outcome> {
        let Some(n) = self.notes.get(&d.notification_id) else {
            return Err(outcome(
                &d.id,
                notifications::DEAD,
                "notification missing",
                None,
            ));
        };
        if self
            .opted_out
            .contains(&(d.user_id.clone(), n.category.clone()))
        {
            return Err(outcome(
                &d.id,
                notifications::SKIPPED,
                "switched off by the user",
                None,
            ));
        }
        Ok(n)
    }
}

/// Every delivery of a batch skipped, for `reason` (a channel that is not configured).
pub(super) fn skip_all(batch: &[Delivery], reason: &str) -> Vec<Outcome> {
    batch
        .iter()
        .map(|d| outcome(&d.id, notifications::SKIPPED, reason, None))
        .collect()
}

pub(super) async fn batch_context(
    ctx: &Context,
    batch: &[Delivery],
    channel: Channel,
) -> ServiceResult<BatchContext> {
    let ids: Vec<String> = batch.iter().map(|d| d.notification_id.clone()).collect();
    let users: Vec<String> = batch.iter().map(|d| d.user_id.clone()).collect();
    let (notes, contacts) = ctx
        .db
        .run(move |conn| {
            Ok::<_, DbError>((
                notifications::notifications_by_id(conn, &ids)?,
                notifications::contacts(conn, &users)?,
            ))
        })
        .await?;
    let notes: HashMap<String, Notification> =
        notes.into_iter().map(|n| (n.id.clone(), n)).collect();
    let mut phones = HashMap::new();
    let mut openids = HashMap::new();
    for (user, phone, openid) in contacts {
        if let Some(phone) = phone {
            phones.insert(user.clone(), phone);
        }
        if let Some(openid) = openid {
            openids.insert(user, openid);
        }
    }
    let mut by_category: HashMap<String, Vec<String>> = HashMap::new();
    for d in batch {
        if let Some(n) = notes.get(&d.notification_id) {
            by_category
                .entry(n.category.clone())
                .or_default()
                .push(d.user_id.clone());
        }
    }
    let mut opted_out = HashSet::new();
    for (category, users) in by_category {
        if Category::parse(&category).is_some_and(Category::critical) {
            continue;
        }
        let c = category.clone();
        let out = ctx
            .db
            .run(move |conn| notifications::opted_out(conn, &users, &c, channel.as_str()))
            .await?;
        opted_out.extend(out.into_iter().map(|u| (u, category.clone())));
    }
    Ok(BatchContext {
        notes,
        phones,
        openids,
        opted_out,
    })
}
