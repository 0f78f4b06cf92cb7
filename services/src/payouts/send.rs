//! Sending payouts to WeChat Pay and learning how they end: the send job (per approved batch,
//! or per retried payout), the periodic check of attempts whose outcome is not known or whose
//! callback has not come, and the application of a verified callback.
//!
//! An attempt is marked `outcome_unknown` (with a check due) in the same commit that precedes
//! its request, so a worker killed at any point leaves something the check finds; what the
//! check does first is query. Only a query that finds no bill leads to a send again, under
//! the same number with the parameters stored on the attempt.

use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use gongyou_db::jobs::Job;
use gongyou_db::payouts::{self as db, Attempt, AttemptChange, Change, Payout};
use gongyou_db::{write_tx, DbConnection};
use gongyou_domain::money::from_fen;
use gongyou_domain::notification::Category;
use gongyou_domain::payout::{needs_user_name, Channel, PayoutStatus, TransferState};
use gongyou_providers::wechatpay::{
    TransferBill, TransferNotice, TransferRequest, WechatPayClient, WechatPayError,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{apply_move, channel_of, follow_claim, internal, status_of, Move, Who};
use crate::error::{ServiceError, ServiceResult};
use crate::notifications::outbox::notify;
use crate::Context;

/// The answer body of a callback that was not taken (WeChat Pay retries it).
pub const NOTIFY_ANSWER_FAIL: &str = "FAIL";

/// How long a WeChat transfer waits for the rider before WeChat Pay closes it.
const CONFIRM_WINDOW_HOURS: i64 = 24;
/// Sends of one request within a job run after a "try again" answer (same number).
const SENDS_PER_RUN: u32 = 3;

/// Sends the payouts of an approved batch, or one retried payout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendPayouts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
}

impl Job for SendPayouts {
    const NAME: &'static str = "payouts.send";
    const PRIORITY: i32 = 30;
    const MAX_ATTEMPTS: i32 = 10;

    fn dedup_key(&self) -> Option<String> {
        match (&self.batch_id, &self.payout_id) {
            (Some(b), _) => Some(format!("{}:batch:{b}", Self::NAME)),
            (None, Some(p)) => Some(format!("{}:payout:{p}", Self::NAME)),
            (None, None) => None,
        }
    }
}

/// Queries attempts whose outcome is not known, or whose callback has not come.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckPayouts {}

impl Job for CheckPayouts {
    const NAME: &'static str = "payouts.check";
    const PRIORITY: i32 = 25;
    const MAX_ATTEMPTS: i32 = 3;
}

pub(crate) fn enqueue_batch(
    conn: &mut DbConnection,
    batch_id: &str,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    SendPayouts {
        batch_id: Some(batch_id.to_owned()),
        payout_id: None,
    }
    .enqueue(conn, now.naive_utc())?;
    Ok(())
}

pub(crate) fn enqueue_payout(
    conn: &mut DbConnection,
    payout_id: &str,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    SendPayouts {
        batch_id: None,
        payout_id: Some(payout_id.to_owned()),
    }
    .enqueue(conn, now.naive_utc())?;
    Ok(())
}

/// A provider error as a service error (for a request finance made).
pub(crate) fn provider_error(e: &WechatPayError) -> ServiceError {
    match e {
        WechatPayError::Refused { code, message, .. } => ServiceError::rule(
            "payout.provider_refused",
            format!("微信支付拒绝了请求（{code}）：{message}"),
        ),
        WechatPayError::NotFound => {
            ServiceError::rule("payout.provider_not_found", "微信支付查无此单")
        }
        other => super::unavailable(
            "payout.provider_unavailable",
            "微信支付暂时无法处理，请稍后重试",
        )
        .with_detail(format!(
            "微信支付暂时无法处理，请稍后重试（{}）",
            kind_of(other)
        )),
    }
}

fn kind_of(e: &WechatPayError) -> &'static str {
    match e {
        WechatPayError::Unknown(_) => "结果未知",
        WechatPayError::Retry { .. } => "稍后重试",
        WechatPayError::NotFound => "查无此单",
        WechatPayError::Refused { .. } => "被拒绝",
        WechatPayError::Config(_) => "配置错误",
        WechatPayError::NotReady { .. } => "账单未生成",
        WechatPayError::HashMismatch { .. } => "账单校验失败",
    }
}

fn client(ctx: &Context) -> ServiceResult<WechatPayClient> {
    ctx.providers
        .wechatpay
        .clone()
        .ok_or_else(|| super::unavailable("payout.wechatpay_unavailable", "本服务未配置微信支付"))
}

/// The send job: every payout of the batch (or the one payout) that is still to be sent or
/// whose send did not end, one after the other.
pub async fn send_payouts(ctx: &Context, job: SendPayouts) -> ServiceResult<()> {
    let ids: Vec<String> = match (&job.batch_id, &job.payout_id) {
        (Some(batch), _) => {
            let batch = batch.clone();
            ctx.db
                .run(move |conn| -> ServiceResult<Vec<String>> {
                    let b = db::batch(conn, &batch)?.ok_or_else(|| internal("batch"))?;
                    if b.status != "approved" || b.channel != "wechat" {
                        return Ok(Vec::new());
                    }
                    Ok(db::of_batch(conn, &batch)?
                        .into_iter()
                        .filter(|p| p.status == "pending" || p.status == "sending")
                        .map(|p| p.id)
                        .collect())
                })
                .await?
        }
        (None, Some(p)) => vec![p.clone()],
        (None, None) => Vec::new(),
    };
    let mut first_error = None;
    for id in ids {
        if let Err(e) = send_one(ctx, &id).await {
            tracing::warn!(payout = %id, error = %e, "payout not sent yet");
            if e.is_retryable() && first_error.is_none() {
                first_error = Some(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Sends one payout: a new attempt when it is pending, or the open attempt driven on.
async fn send_one(ctx: &Context, payout_id: &str) -> ServiceResult<()> {
    let now = ctx.now();
    let (ctx2, id) = (ctx.clone(), payout_id.to_owned());
    let attempt = ctx
        .db
        .run(move |conn| write_tx(conn, |conn| start_attempt(&ctx2, conn, &id, now)))
        .await?;
    match attempt {
        Some(a) => drive(ctx, a).await,
        None => Ok(()),
    }
}

/// The attempt to drive for a payout: its open one, or a new one when it is pending (the
/// payout moves to `sending`). None when there is nothing to send.
fn start_attempt(
    ctx: &Context,
    conn: &mut DbConnection,
    payout_id: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Option<Attempt>> {
    let p = db::get(conn, payout_id)?.ok_or_else(|| internal("payout"))?;
    if let Some(open) = &p.open_attempt_id {
        let a = db::attempt(conn, open)?.ok_or_else(|| internal("attempt"))?;
        if a.final_at.is_none() {
            return Ok((a.channel == "wechat").then_some(a));
        }
    }
    if status_of(&p)? != PayoutStatus::Pending {
        return Ok(None);
    }
    let (channel, blockers) = channel_of(ctx, conn, &p)?;
    if channel != Channel::Wechat {
        return Ok(None);
    }
    if let Some(b) = blockers.first() {
        // The payee cannot be paid this way any more: finance switches it or retries.
        let code = b.code().to_owned();
        apply_move(
            conn,
            Move {
                payout: &p,
                to: PayoutStatus::Failed,
                change: Change {
                    failure_code: Some(Some(code.clone())),
                    failure_detail: Some(Some(b.zh().to_owned())),
                    ..Change::default()
                },
                who: Who::System,
                action: "blocked",
                attempt_id: None,
                reason_code: Some(code.clone()),
                note: None,
            },
            now,
        )?;
        follow_claim(ctx, conn, &p, PayoutStatus::Failed, Some(&code), now)?;
        return Ok(None);
    }
    let pay = client(ctx)?;
    let openid = super::payee_openid(ctx, conn, &p.claimant_id)?
        .ok_or_else(|| internal("openid vanished"))?;
    let mut a = super::new_attempt(&p, Channel::Wechat, now);
    let id = a.id.clone();
    if needs_user_name(p.amount_fen) {
        let claim = gongyou_db::claims::get(conn, &p.claim_id)?.ok_or_else(|| internal("claim"))?;
        let member = gongyou_db::membership::membership(conn, &claim.membership_id)?
            .ok_or_else(|| internal("membership"))?;
        a.user_name_enc = Some(seal_name(ctx, &id, &member.real_name)?);
    }
    a.appid = Some(pay.appid().to_owned());
    a.openid = Some(openid);
    a.next_check_at = Some((now + Span::seconds(30)).naive_utc());
    db::insert_attempt(conn, &a)?;
    let moved = apply_move(
        conn,
        Move {
            payout: &p,
            to: PayoutStatus::Sending,
            change: Change {
                open_attempt_id: Some(Some(id.clone())),
                attempts: Some(p.attempts + 1),
                ..Change::default()
            },
            who: Who::System,
            action: "send",
            attempt_id: Some(id),
            reason_code: None,
            note: None,
        },
        now,
    )?;
    if !moved {
        return Err(ServiceError::conflict("payout.changed", "支付记录刚被处理")
            .retry_after(Duration::from_secs(1)));
    }
    Ok(Some(a))
}

fn seal_name(ctx: &Context, attempt_id: &str, name: &str) -> ServiceResult<String> {
    ctx.crypto
        .seal_text(name, &format!("payout_attempt:{attempt_id}:user_name"))
        .map_err(ServiceError::internal)
}

fn unseal_name(ctx: &Context, attempt_id: &str, stored: &str) -> ServiceResult<String> {
    ctx.crypto
        .unseal_text(stored, &format!("payout_attempt:{attempt_id}:user_name"))
        .map_err(ServiceError::internal)
}

/// The request of an attempt, from what it stored: identical on every send.
fn request_of(ctx: &Context, a: &Attempt) -> ServiceResult<TransferRequest> {
    Ok(TransferRequest {
        out_bill_no: a.out_bill_no.clone(),
        openid: a
            .openid
            .clone()
            .ok_or_else(|| internal("attempt without openid"))?,
        amount_fen: a.amount_fen,
        remark: a.remark.clone(),
        user_name: a
            .user_name_enc
            .as_deref()
            .map(|s| unseal_name(ctx, &a.id, s))
            .transpose()?,
    })
}

/// Moves an open WeChat attempt on: query first when a send may have happened, send (the
/// same number, the same parameters) only when there is no bill.
async fn drive(ctx: &Context, a: Attempt) -> ServiceResult<()> {
    let pay = client(ctx)?;
    if a.sends > 0 || a.outcome_unknown {
        match pay.query_by_out_bill_no(&a.out_bill_no).await {
            Ok(bill) => return apply_bill(ctx, &a.out_bill_no, &bill, Who::Provider, None).await,
            Err(WechatPayError::NotFound) => {}
            Err(e) => {
                later(ctx, &a, Span::seconds(60)).await?;
                return Err(transient(&e));
            }
        }
    }
    send(ctx, &pay, a).await
}

fn transient(e: &WechatPayError) -> ServiceError {
    super::unavailable("payout.provider_unavailable", "微信支付暂时无法处理")
        .with_detail(format!("微信支付暂时无法处理：{e}"))
        .retry_after(Duration::from_secs(30))
}

/// Checks the attempt again after `after`.
async fn later(ctx: &Context, a: &Attempt, after: Span) -> ServiceResult<()> {
    let now = ctx.now();
    let id = a.id.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<()> {
            db::update_attempt(
                conn,
                &id,
                &AttemptChange {
                    next_check_at: Some(Some((now + after).naive_utc())),
                    ..AttemptChange::default()
                },
                now.naive_utc(),
            )?;
            Ok(())
        })
        .await
}

/// Sends the attempt's request, recording the send before it leaves.
async fn send(ctx: &Context, pay: &WechatPayClient, a: Attempt) -> ServiceResult<()> {
    let request = request_of(ctx, &a)?;
    let mut sends = a.sends;
    for round in 0..SENDS_PER_RUN {
        let now = ctx.now();
        sends += 1;
        let (id, n) = (a.id.clone(), sends);
        let recorded = ctx
            .db
            .run(move |conn| -> ServiceResult<bool> {
                Ok(db::update_attempt(
                    conn,
                    &id,
                    &AttemptChange {
                        outcome_unknown: Some(true),
                        sends: Some(n),
                        sent_at: Some(Some(now.naive_utc())),
                        next_check_at: Some(Some((now + Span::seconds(30)).naive_utc())),
                        ..AttemptChange::default()
                    },
                    now.naive_utc(),
                )?)
            })
            .await?;
        if !recorded {
            // Final meanwhile (a callback or a query won): nothing to send.
            return Ok(());
        }
        match pay.create_transfer(&request).await {
            Ok(bill) => {
                return apply_bill(ctx, &a.out_bill_no, &bill, Who::Provider, None).await;
            }
            Err(WechatPayError::Retry { .. }) if round + 1 < SENDS_PER_RUN => {
                tokio::time::sleep(Duration::from_millis(200 * (1 << round))).await;
            }
            Err(
                e @ (WechatPayError::Retry { .. }
                | WechatPayError::Unknown(_)
                | WechatPayError::NotFound
                | WechatPayError::NotReady { .. }
                | WechatPayError::HashMismatch { .. }),
            ) => {
                // Left `outcome_unknown` with a check due: the check queries before anything.
                return Err(transient(&e));
            }
            Err(WechatPayError::Refused { code, message, .. }) => {
                tracing::warn!(out_bill_no = %a.out_bill_no, %code, %message, "transfer refused");
                let bill = TransferBill {
                    out_bill_no: a.out_bill_no.clone(),
                    transfer_bill_no: None,
                    state: TransferState::Fail,
                    package_info: None,
                    fail_reason: Some(code),
                    create_time: None,
                    update_time: None,
                    amount_fen: None,
                    openid: None,
                };
                return apply_bill(ctx, &a.out_bill_no, &bill, Who::Provider, None).await;
            }
            Err(e @ WechatPayError::Config(_)) => {
                return Err(ServiceError::internal(anyhow::anyhow!("wechat pay: {e}")));
            }
        }
    }
    Ok(())
}

/// The periodic check: every open attempt due is queried (and sent again under its own
/// number only if WeChat Pay has no bill for it). Returns how many were checked.
pub async fn check_due(ctx: &Context) -> ServiceResult<usize> {
    if ctx.providers.wechatpay.is_none() {
        return Ok(0);
    }
    let now = ctx.now();
    let due = ctx
        .db
        .run(move |conn| -> ServiceResult<Vec<Attempt>> {
            Ok(db::due_checks(conn, now.naive_utc(), 200)?)
        })
        .await?;
    let mut checked = 0;
    for a in due {
        if a.channel != "wechat" {
            continue;
        }
        let (bill, id) = (a.out_bill_no.clone(), a.id.clone());
        if let Err(e) = drive(ctx, a).await {
            tracing::warn!(out_bill_no = %bill, error = %e, "payout check did not settle");
        }
        if let Err(e) = remind_if_due(ctx, &id).await {
            tracing::warn!(out_bill_no = %bill, error = %e, "rider not reminded");
        }
        checked += 1;
    }
    Ok(checked)
}

/// Applies a verified callback (idempotent: a final attempt never changes again).
pub async fn apply_notice(ctx: &Context, notice: TransferNotice) -> ServiceResult<()> {
    let bill = notice.bill;
    apply_bill(ctx, &bill.out_bill_no.clone(), &bill, Who::Provider, None).await
}

/// When to look at an attempt next, by its state.
fn next_check(
    state: TransferState,
    now: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match state {
        s if s.is_final() => None,
        TransferState::WaitUserConfirm => {
            // Hourly, and at the points that matter: the reminder, and just after the close.
            let hourly = now + Span::hours(1);
            let points = expires
                .map(|e| [e - Span::hours(REMIND_BEFORE_HOURS), e + Span::minutes(10)])
                .unwrap_or_default();
            Some(
                points
                    .into_iter()
                    .filter(|t| *t > now && *t < hourly)
                    .min()
                    .unwrap_or(hourly),
            )
        }
        _ => Some(now + Span::seconds(60)),
    }
}

/// Applies what WeChat Pay says about the attempt numbered `out_bill_no`: the attempt's
/// state, and the payout's (and the claim's) when it moves. Unknown numbers are ignored.
pub(crate) async fn apply_bill(
    ctx: &Context,
    out_bill_no: &str,
    bill: &TransferBill,
    who: Who,
    note: Option<String>,
) -> ServiceResult<()> {
    let now = ctx.now();
    let (ctx2, number, bill) = (ctx.clone(), out_bill_no.to_owned(), bill.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<()> {
                apply_bill_in(&ctx2, conn, &number, &bill, &who, note.clone(), now)
            })
        })
        .await
}

fn apply_bill_in(
    ctx: &Context,
    conn: &mut DbConnection,
    out_bill_no: &str,
    bill: &TransferBill,
    who: &Who,
    note: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    // One outcome of an attempt at a time: a create's answer and a callback for the same
    // bill can arrive together, and the later must see what the earlier wrote.
    gongyou_db::lock(conn, &format!("payout_attempt:{out_bill_no}"))?;
    let Some(a) = db::attempt_by_bill(conn, out_bill_no)? else {
        tracing::warn!(out_bill_no, "a bill for no attempt of ours");
        return Ok(());
    };
    if a.final_at.is_some() {
        return Ok(());
    }
    if let Some(amount) = bill.amount_fen {
        if amount != a.amount_fen {
            tracing::error!(
                out_bill_no,
                amount,
                expected = a.amount_fen,
                "bill amount differs from the attempt"
            );
            return Err(ServiceError::internal(anyhow::anyhow!(
                "bill {out_bill_no}: amount {amount} differs from {}",
                a.amount_fen
            )));
        }
    }
    let state = bill.state;
    let expires = match (state, a.expires_at) {
        (_, Some(e)) => Some(e.and_utc()),
        (TransferState::WaitUserConfirm, None) => {
            Some(bill.create_time.unwrap_or(now) + Span::hours(CONFIRM_WINDOW_HOURS))
        }
        _ => None,
    };
    // Final when WeChat Pay says it became so (its update_time, the bill's 记账时间), so the
    // attempt belongs to the day whose statement carries it; else when we learnt it.
    let final_at = state.is_final().then_some(
        bill.update_time
            .filter(|t| *t <= now)
            .unwrap_or(now)
            .naive_utc(),
    );
    let updated = db::update_attempt(
        conn,
        &a.id,
        &AttemptChange {
            state: Some(state.as_str().to_owned()),
            outcome_unknown: Some(false),
            transfer_bill_no: bill.transfer_bill_no.clone().map(Some),
            package_info: bill.package_info.clone().map(Some),
            fail_reason: bill.fail_reason.clone().map(Some),
            expires_at: Some(expires.map(|e| e.naive_utc())),
            next_check_at: Some(next_check(state, now, expires).map(|t| t.naive_utc())),
            final_at: Some(final_at),
            ..AttemptChange::default()
        },
        now.naive_utc(),
    )?;
    if !updated {
        // Final meanwhile: what came first stands.
        return Ok(());
    }
    let p = db::get(conn, &a.payout_id)?.ok_or_else(|| internal("payout"))?;
    if p.open_attempt_id.as_deref() != Some(a.id.as_str()) {
        return Ok(());
    }
    let to = state.payout_status();
    let from = status_of(&p)?;
    if to == from {
        return Ok(());
    }
    let failure = bill.fail_reason.clone();
    let change = match to {
        PayoutStatus::Paid => Change {
            paid_at: Some(Some(now.naive_utc())),
            ..Change::default()
        },
        PayoutStatus::Failed | PayoutStatus::Cancelled => Change {
            failure_code: Some(failure.clone()),
            failure_detail: Some(failure.as_deref().map(super::failure_zh)),
            ..Change::default()
        },
        _ => Change::default(),
    };
    let moved = apply_move(
        conn,
        Move {
            payout: &p,
            to,
            change,
            who: who.clone(),
            action: action_of(to),
            attempt_id: Some(a.id.clone()),
            reason_code: failure.clone(),
            note,
        },
        now,
    )?;
    if !moved {
        return Err(ServiceError::conflict("payout.changed", "支付记录刚被处理")
            .retry_after(Duration::from_secs(1)));
    }
    match to {
        PayoutStatus::AwaitingConfirmation => tell_awaiting(conn, &p, expires, now)?,
        PayoutStatus::Paid | PayoutStatus::Failed | PayoutStatus::Cancelled => {
            follow_claim(ctx, conn, &p, to, failure.as_deref(), now)?;
        }
        _ => {}
    }
    Ok(())
}

/// Tells the rider a transfer waits for their confirmation, and until when.
fn tell_awaiting(
    conn: &mut DbConnection,
    p: &Payout,
    expires: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let claim = gongyou_db::claims::get(conn, &p.claim_id)?.ok_or_else(|| internal("claim"))?;
    let benefit = crate::claims::benefit_name(conn, &claim)?;
    let expires = expires
        .map(|e| {
            gongyou_domain::time::china_local(e)
                .format("%Y年%m月%d日 %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    notify(
        conn,
        &p.claimant_id,
        Category::PayoutAwaitingConfirmation,
        json!({"claim_id": p.claim_id, "payout_id": p.id, "benefit": benefit,
               "amount": from_fen(p.amount_fen).to_string(), "expires": expires}),
        now,
    )?;
    Ok(())
}

/// Within this of its window's end, a transfer still unconfirmed is brought up to its rider
/// once more.
const REMIND_BEFORE_HOURS: i64 = 3;

/// Reminds the rider of a transfer still waiting for them when its window closes soon (once).
async fn remind_if_due(ctx: &Context, attempt_id: &str) -> ServiceResult<bool> {
    let now = ctx.now();
    let id = attempt_id.to_owned();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<bool> {
                let Some(a) = db::attempt(conn, &id)? else {
                    return Ok(false);
                };
                let due = a.state == "WAIT_USER_CONFIRM"
                    && a.reminded_at.is_none()
                    && a.final_at.is_none()
                    && a.expires_at.is_some_and(|e| {
                        now.naive_utc() >= e - Span::hours(REMIND_BEFORE_HOURS)
                            && now.naive_utc() < e
                    });
                if !due {
                    return Ok(false);
                }
                let p = db::get(conn, &a.payout_id)?.ok_or_else(|| internal("payout"))?;
                if p.open_attempt_id.as_deref() != Some(a.id.as_str())
                    || !db::mark_reminded(conn, &a.id, now.naive_utc())?
                {
                    return Ok(false);
                }
                tell_awaiting(conn, &p, a.expires_at.map(|e| e.and_utc()), now)?;
                Ok(true)
            })
        })
        .await
}

fn action_of(to: PayoutStatus) -> &'static str {
    match to {
        PayoutStatus::AwaitingConfirmation => "awaiting_confirmation",
        PayoutStatus::Paid => "paid",
        PayoutStatus::Failed => "failed",
        PayoutStatus::Cancelled => "cancelled",
        PayoutStatus::Sending => "accepted",
        PayoutStatus::Pending => "pending",
    }
}

/// Settles a bank attempt from the bank's result file (in the import's transaction).
pub(crate) fn settle_bank(
    ctx: &Context,
    conn: &mut DbConnection,
    a: &Attempt,
    paid: bool,
    reason: Option<&str>,
    who: &Who,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    if a.final_at.is_some() {
        return Ok(false);
    }
    let bill = TransferBill {
        out_bill_no: a.out_bill_no.clone(),
        transfer_bill_no: None,
        state: if paid {
            TransferState::Success
        } else {
            TransferState::Fail
        },
        package_info: None,
        fail_reason: (!paid).then(|| reason.unwrap_or("BANK_FAIL").to_owned()),
        create_time: None,
        update_time: None,
        amount_fen: None,
        openid: None,
    };
    apply_bill_in(
        ctx,
        conn,
        &a.out_bill_no,
        &bill,
        who,
        reason.map(str::to_owned),
        now,
    )?;
    Ok(true)
}
