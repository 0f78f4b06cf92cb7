//! The API's jobs: handlers that need the API's domain logic, registered beside the job
//! crate's own (housekeeping). `gongyou worker` and `gongyou demo` run this registry.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use gongyou_db::campaigns::{self, BatchOutcome, PushBatch};
use gongyou_db::jobs::{self as store, NewJob};
use gongyou_db::kv::{Kv, Rate, RateDecision};
use gongyou_db::membership as db;
use gongyou_db::notifications::{self, Delivery, Notification, Outcome};
use gongyou_db::{write_tx, DbConnection, DbError};
use gongyou_domain::notification::{Category, Channel};
use gongyou_jobs::{JobContext, JobError, Registry};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::ApiError;
use crate::providers::jpush::{JpushClient, JpushError, PushMessage};
use crate::providers::sms::{SmsError, SmsGateway};
use crate::providers::subscribe_fields::fit;
use crate::providers::wechat::{WechatClient, WechatError};
use crate::routes::membership::worker::approve_in_tx;
use crate::routes::membership::Actor;

pub const AUTO_APPROVE: &str = "membership.auto_approve";

#[derive(Serialize, Deserialize)]
struct AutoApproval {
    application_id: String,
}

/// Enqueues the auto-approval of an application (inside the submission's transaction).
pub fn enqueue_auto_approval(
    conn: &mut DbConnection,
    application_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let payload = serde_json::to_string(&AutoApproval {
        application_id: application_id.to_owned(),
    })
    .unwrap_or_default();
    store::enqueue(
        conn,
        &NewJob {
            name: AUTO_APPROVE.into(),
            queue: "default".into(),
            priority: 10,
            dedup_key: Some(format!("{AUTO_APPROVE}:{application_id}")),
            payload,
            max_attempts: 5,
            run_at: now.naive_utc(),
        },
        now.naive_utc(),
    )?;
    Ok(())
}

async fn auto_approve(ctx: JobContext, payload: String) -> Result<(), JobError> {
    let job: AutoApproval =
        serde_json::from_str(&payload).map_err(|e| JobError::Permanent(e.into()))?;
    let now = ctx.clock.now();
    let outcome = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> Result<&'static str, ApiError> {
                let Some(app) = db::application(conn, &job.application_id)? else {
                    return Ok("gone");
                };
                // Decided meanwhile, flagged, or the union turned auto-approval off: leave it.
                if app.status != db::APP_PENDING
                    || app.identity_conflict
                    || !db::auto_approve(conn, &app.org_id)?
                {
                    return Ok("skipped");
                }
                approve_in_tx(conn, &app, Actor::Staff("auto-approval"), now)?;
                Ok("approved")
            })
        })
        .await;
    match outcome {
        Ok(result) => {
            tracing::info!(result, "membership auto-approval");
            Ok(())
        }
        // A rule refused it (already a member, identity in use): a person reviews it.
        Err(e) if e.is_client_error() => {
            tracing::info!(code = %e.code(), "membership auto-approval declined; left for review");
            Ok(())
        }
        Err(e) => Err(JobError::Retry(anyhow::anyhow!(
            "auto-approval failed: {e}"
        ))),
    }
}

/// What jobs need beyond the database: providers and the shared key/value store.
#[derive(Clone)]
pub struct Services {
    pub kv: Kv,
    pub jpush: Option<JpushClient>,
    pub wechat: Option<WechatClient>,
    /// Subscribe-message template per category.
    pub wechat_templates: HashMap<String, String>,
    pub sms: Option<SmsGateway>,
    pub sms_notice_template: Option<String>,
    pub push_rate: Rate,
    /// Campaign recipients written per transaction.
    pub fan_out_batch: i64,
    /// How long a claimed delivery is held before another dispatcher may take it over.
    pub delivery_lease: chrono::Duration,
}

impl Services {
    pub fn from_config(config: &Config, kv: Kv) -> anyhow::Result<Self> {
        let http = crate::providers::http_client()?;
        Ok(Self {
            wechat: config
                .wechat
                .clone()
                .map(|w| WechatClient::new(w, http.clone(), kv.clone())),
            wechat_templates: config.wechat_templates.clone(),
            sms: config.sms.clone().map(|s| SmsGateway::new(s, http.clone())),
            sms_notice_template: config.sms_notice_template_id.clone(),
            kv,
            jpush: config.jpush.clone().map(|s| JpushClient::new(s, http)),
            push_rate: Rate {
                limit: config.jpush_rate_per_sec,
                period: Duration::from_secs(1),
            },
            fan_out_batch: config.campaign_batch,
            delivery_lease: chrono::Duration::seconds(config.delivery_lease_secs),
        })
    }
}

pub const FAN_OUT: &str = "campaigns.fan_out";

#[derive(Serialize, Deserialize)]
struct FanOut {
    campaign_id: String,
}

/// Enqueues a campaign's fan-out (inside the campaign's creating transaction).
pub fn enqueue_fan_out(
    conn: &mut DbConnection,
    campaign_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let payload = serde_json::to_string(&FanOut {
        campaign_id: campaign_id.to_owned(),
    })
    .unwrap_or_default();
    store::enqueue(
        conn,
        &NewJob {
            name: FAN_OUT.into(),
            queue: "default".into(),
            priority: 0,
            dedup_key: Some(format!("{FAN_OUT}:{campaign_id}")),
            payload,
            max_attempts: 10,
            run_at: now.naive_utc(),
        },
        now.naive_utc(),
    )?;
    Ok(())
}

/// Writes a campaign's inbox rows and push deliveries batch by batch (each batch one
/// transaction that also moves the cursor), waking the dispatcher as it goes.
async fn fan_out(ctx: JobContext, payload: String, batch: i64) -> Result<(), JobError> {
    let job: FanOut = serde_json::from_str(&payload).map_err(|e| JobError::Permanent(e.into()))?;
    loop {
        let (id, now) = (job.campaign_id.clone(), ctx.clock.now());
        let written = ctx
            .db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let n =
                        gongyou_db::campaigns::fan_out_batch(conn, &id, batch, now.naive_utc())?;
                    if n > 0 {
                        crate::notify::wake_dispatcher(conn, now)?;
                    }
                    Ok::<_, DbError>(n)
                })
            })
            .await?;
        if written == 0 {
            tracing::info!(campaign = %job.campaign_id, "campaign fanned out");
            return Ok(());
        }
    }
}

/// Every job Gongyou runs.
pub fn registry(services: Services) -> Registry {
    let mut registry = gongyou_jobs::registry();
    registry.register(AUTO_APPROVE, auto_approve);
    let batch = services.fan_out_batch;
    registry.register(FAN_OUT, move |ctx, payload| fan_out(ctx, payload, batch));
    registry.register(crate::notify::DISPATCH, move |ctx, _payload| {
        dispatch(ctx, services.clone())
    });
    registry
}

/// Gongyou's periodic jobs: housekeeping, and the dispatcher as a safety net.
pub fn periodic(config: &Config) -> Vec<gongyou_jobs::Periodic> {
    let mut periodic = gongyou_jobs::periodic(config.housekeeping_interval);
    periodic.push(gongyou_jobs::Periodic {
        name: crate::notify::DISPATCH.into(),
        schedule: gongyou_jobs::Schedule::Every(Duration::from_secs(60)),
        payload: "{}".into(),
    });
    periodic
}

const BATCH: i64 = 500;
const SEND_CONCURRENCY: usize = 64;
const MAX_PUSH_ATTEMPTS: i32 = 8;
const CID_PREFETCH: u32 = 1000;
/// Registration ids JPush takes in one request.
const JPUSH_MAX_AUDIENCE: usize = 1000;

/// Delivers due work until none is due, taking turns so a campaign never holds up a single
/// notification: one claim of each external channel's deliveries, then one of campaign push
/// batches, and again.
///
/// Per channel: claim a batch of deliveries in one statement, decide per delivery (no
/// device, switched off → skipped), give each push a JPush `cid` before sending (stored
/// first, so a resend after a crash reuses it and JPush does not push twice), send
/// concurrently under the shared rate limit, record the batch in one statement.
async fn dispatch(ctx: JobContext, services: Services) -> Result<(), JobError> {
    let worker = format!("dispatch-{}", ctx.job_id);
    loop {
        let mut busy = false;
        for channel in Channel::EXTERNAL {
            busy |= dispatch_channel(&ctx, &services, &worker, channel).await?;
        }
        busy |= dispatch_campaign_pushes(&ctx, &services, &worker).await?;
        if !busy {
            return Ok(());
        }
    }
}

/// One claim of a channel's due deliveries; false when none was due.
async fn dispatch_channel(
    ctx: &JobContext,
    services: &Services,
    worker: &str,
    channel: Channel,
) -> Result<bool, JobError> {
    let now = ctx.clock.now();
    let lease = (now + services.delivery_lease).naive_utc();
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
        Channel::Push => push_batch(ctx, services, &batch).await?,
        Channel::Wechat => wechat_batch(ctx, services, &batch).await?,
        Channel::Sms => sms_batch(ctx, services, &batch).await?,
        Channel::Inbox => Vec::new(),
    };
    let w = worker.to_owned();
    let at = ctx.clock.now().naive_utc();
    ctx.db
        .run(move |conn| notifications::record(conn, &w, &outcomes, at))
        .await?;
    Ok(true)
}

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
async fn dispatch_campaign_pushes(
    ctx: &JobContext,
    services: &Services,
    worker: &str,
) -> Result<bool, JobError> {
    let now = ctx.clock.now();
    let lease = (now + services.delivery_lease).naive_utc();
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
    let messages = ctx
        .db
        .run(move |conn| {
            let mut messages = HashMap::new();
            for id in ids {
                if let Some(c) = campaigns::get(conn, &id)? {
                    messages.insert(id, (c.title, c.body));
                }
            }
            Ok::<_, DbError>(messages)
        })
        .await?;
    let results: Vec<Result<Option<BatchOutcome>, JobError>> =
        futures_util::stream::iter(batches.into_iter().map(|b| {
            let message = messages.get(&b.campaign_id).cloned();
            push_campaign_batch(ctx, services, worker, b, message)
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
    ctx: &JobContext,
    services: &Services,
    worker: &str,
    batch: PushBatch,
    message: Option<(String, String)>,
) -> Result<Option<BatchOutcome>, JobError> {
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
    let Some(jpush) = &services.jpush else {
        return Ok(done(
            notifications::SKIPPED,
            "push not configured".into(),
            None,
        ));
    };
    let Some((title, body)) = message else {
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
            let category = Category::Notice;
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
                    return Err(JobError::Retry(anyhow::anyhow!("no JPush cid available")));
                };
                requests.push(FrozenPush {
                    cid,
                    registration_ids,
                });
            }
            let frozen = serde_json::to_string(&requests)
                .map_err(|e| JobError::Retry(anyhow::anyhow!("freezing requests: {e}")))?;
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
                serde_json::Value::String(Category::Notice.as_str().to_owned()),
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
        wait_for_rate(&services.kv, services.push_rate).await;
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

/// What every channel needs about a batch: its notifications, the recipients' contacts,
/// and who switched the channel off (critical categories ignore that).
struct BatchContext {
    notes: HashMap<String, Notification>,
    phones: HashMap<String, String>,
    openids: HashMap<String, String>,
    opted_out: HashSet<(String, String)>,
}

async fn batch_context(
    ctx: &JobContext,
    batch: &[Delivery],
    channel: Channel,
) -> Result<BatchContext, JobError> {
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

fn backoff_after(attempts: i32, now: DateTime<Utc>) -> Option<chrono::NaiveDateTime> {
    let delay = 5i64.saturating_mul(1 << attempts.clamp(0, 10)).min(3600);
    Some((now + chrono::Duration::seconds(delay)).naive_utc())
}

/// WeChat subscribe messages: only with a credit for the category's template (one credit,
/// one message). 43101 means the credit is gone: recorded, not retried.
async fn wechat_batch(
    ctx: &JobContext,
    services: &Services,
    batch: &[Delivery],
) -> Result<Vec<Outcome>, JobError> {
    let now = ctx.clock.now();
    let Some(wechat) = &services.wechat else {
        return Ok(batch
            .iter()
            .map(|d| outcome(&d.id, notifications::SKIPPED, "wechat not configured", None))
            .collect());
    };
    let bc = batch_context(ctx, batch, Channel::Wechat).await?;
    let mut outcomes = Vec::new();
    for d in batch {
        let Some(n) = bc.notes.get(&d.notification_id) else {
            outcomes.push(outcome(
                &d.id,
                notifications::DEAD,
                "notification missing",
                None,
            ));
            continue;
        };
        let Some(template) = services.wechat_templates.get(&n.category).cloned() else {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "no template for this category",
                None,
            ));
            continue;
        };
        if bc
            .opted_out
            .contains(&(d.user_id.clone(), n.category.clone()))
        {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "switched off by the user",
                None,
            ));
            continue;
        }
        let Some(openid) = bc.openids.get(&d.user_id).cloned() else {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "no WeChat account",
                None,
            ));
            continue;
        };
        let (user, t) = (d.user_id.clone(), template.clone());
        let at = now.naive_utc();
        if !ctx
            .db
            .run(move |conn| notifications::take_credit(conn, &user, &t, at))
            .await?
        {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "no subscription credit",
                None,
            ));
            continue;
        }
        let date = crate::routes::membership::china_date(now)
            .format("%Y年%m月%d日")
            .to_string();
        let data: Vec<(String, String)> = [
            ("thing1", n.title.as_str()),
            ("thing2", n.body.as_str()),
            ("time3", date.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), fit(k, v)))
        .collect();
        let sent = wechat
            .send_subscribe_message(&openid, &template, Some("pages/notifications/index"), &data)
            .await;
        let result = match sent {
            Ok(()) => outcome(&d.id, notifications::SENT, "ok", None),
            Err(WechatError::NotSubscribed) => outcome(
                &d.id,
                notifications::SKIPPED,
                "43101: no longer subscribed",
                None,
            ),
            Err(e) if e.is_retryable() && d.attempts < MAX_PUSH_ATTEMPTS => {
                let (user, t) = (d.user_id.clone(), template);
                ctx.db
                    .run(move |conn| notifications::return_credit(conn, &user, &t, at))
                    .await?;
                outcome(
                    &d.id,
                    notifications::FAILED,
                    format!("retrying: {e}"),
                    backoff_after(d.attempts, now),
                )
            }
            Err(e) => outcome(&d.id, notifications::DEAD, format!("refused: {e}"), None),
        };
        outcomes.push(result);
    }
    Ok(outcomes)
}

/// SMS for urgent categories, through the notice template (title, text).
async fn sms_batch(
    ctx: &JobContext,
    services: &Services,
    batch: &[Delivery],
) -> Result<Vec<Outcome>, JobError> {
    let now = ctx.clock.now();
    let (Some(sms), Some(template)) = (&services.sms, &services.sms_notice_template) else {
        return Ok(batch
            .iter()
            .map(|d| {
                outcome(
                    &d.id,
                    notifications::SKIPPED,
                    "sms notices not configured",
                    None,
                )
            })
            .collect());
    };
    let bc = batch_context(ctx, batch, Channel::Sms).await?;
    let mut outcomes = Vec::new();
    for d in batch {
        let Some(n) = bc.notes.get(&d.notification_id) else {
            outcomes.push(outcome(
                &d.id,
                notifications::DEAD,
                "notification missing",
                None,
            ));
            continue;
        };
        if bc
            .opted_out
            .contains(&(d.user_id.clone(), n.category.clone()))
        {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "switched off by the user",
                None,
            ));
            continue;
        }
        let Some(phone) = bc.phones.get(&d.user_id) else {
            outcomes.push(outcome(&d.id, notifications::SKIPPED, "no phone", None));
            continue;
        };
        let text: String = n.body.chars().take(60).collect();
        let result = match sms
            .send_template(phone, template, &[n.title.clone(), text])
            .await
        {
            Ok(()) => outcome(&d.id, notifications::SENT, "ok", None),
            Err(SmsError::RateLimited) => outcome(
                &d.id,
                notifications::FAILED,
                "rate limited",
                Some((now + chrono::Duration::seconds(60)).naive_utc()),
            ),
            Err(SmsError::Unavailable(e)) if d.attempts < MAX_PUSH_ATTEMPTS => outcome(
                &d.id,
                notifications::FAILED,
                format!("unavailable: {e}"),
                backoff_after(d.attempts, now),
            ),
            Err(e) => outcome(&d.id, notifications::DEAD, format!("refused: {e}"), None),
        };
        outcomes.push(result);
    }
    Ok(outcomes)
}

fn outcome(
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

async fn push_batch(
    ctx: &JobContext,
    services: &Services,
    batch: &[Delivery],
) -> Result<Vec<Outcome>, JobError> {
    let now = ctx.clock.now();
    let Some(jpush) = &services.jpush else {
        return Ok(batch
            .iter()
            .map(|d| outcome(&d.id, notifications::SKIPPED, "push not configured", None))
            .collect());
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
    let BatchContext {
        notes, opted_out, ..
    } = batch_context(ctx, batch, Channel::Push).await?;

    let mut outcomes = Vec::new();
    let mut to_send = Vec::new();
    for d in batch {
        let Some(n) = notes.get(&d.notification_id) else {
            outcomes.push(outcome(
                &d.id,
                notifications::DEAD,
                "notification missing",
                None,
            ));
            continue;
        };
        if opted_out.contains(&(d.user_id.clone(), n.category.clone())) {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "switched off by the user",
                None,
            ));
            continue;
        }
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
                return Err(JobError::Retry(anyhow::anyhow!("no JPush cid available")));
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
            let (jpush, kv, rate) = (jpush.clone(), services.kv.clone(), services.push_rate);
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
fn push_failure(
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
            Some(
                (now + chrono::Duration::seconds(i64::try_from(*retry_after_secs).unwrap_or(60)))
                    .naive_utc(),
            ),
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
async fn drop_devices(ctx: &JobContext, devices: Vec<String>) -> Result<(), JobError> {
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
async fn wait_for_rate(kv: &Kv, rate: Rate) {
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
async fn take_cids(
    ctx: &JobContext,
    jpush: &JpushClient,
    n: usize,
) -> Result<Vec<String>, JobError> {
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
            .map_err(|e| JobError::Retry(anyhow::anyhow!("fetching JPush cids: {e}")))?;
        if fetched.is_empty() {
            return Err(JobError::Retry(anyhow::anyhow!("JPush returned no cids")));
        }
        let at = ctx.clock.now().naive_utc();
        ctx.db
            .run(move |conn| notifications::add_cids(conn, &fetched, at))
            .await?;
    }
    Err(JobError::Retry(anyhow::anyhow!(
        "could not gather JPush cids"
    )))
}
