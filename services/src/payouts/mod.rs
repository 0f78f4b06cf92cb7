//! Payouts (支付, ADR 019): every payable claim gets one payout; finance puts payouts into
//! batches that a second finance approver approves; jobs send each payout to WeChat Pay (a
//! merchant transfer the rider confirms in the mini-program) or export it in the union's bank
//! file; callbacks, queries and the bank's result file settle it; the claim follows.
//!
//! The rules that keep money from leaving twice:
//! - each attempt at paying has its own `out_bill_no`; at most one attempt of a payout is
//!   open, and a new one starts only after the previous one is final (FAIL or CANCELLED,
//!   learnt from a query or a verified callback);
//! - a send is recorded (`outcome_unknown`) before the request leaves, so a worker killed
//!   mid-send leaves an attempt that is queried before anything else, and re-sent only
//!   under the same number with the same parameters;
//! - every change of a payout is compare-and-set on its revision, and a final attempt never
//!   changes again, so duplicate callbacks and racing workers apply once.

mod bank;
mod batches;
mod send;

pub use bank::{
    bank_file, import_bank_results, payout_settings, put_payout_settings, read_result_file,
    statement_template_for,
};
pub use bank::{BankFile, BankImportReport, PayoutSettingsBody, PayoutSettingsView};
pub use batches::{
    approve_batch, batch, batches, create_batch, BatchBody, BatchChannel, BatchView, BatchesQuery,
    StatusSum,
};
/// What a WeChat Pay callback carries and why one is refused (the API reads the headers).
pub use gongyou_providers::wechatpay::{NotificationError, NotificationHeaders};
pub use send::{
    apply_notice, check_due, send_payouts, CheckPayouts, SendPayouts, NOTIFY_ANSWER_FAIL,
};

use chrono::{DateTime, NaiveDateTime, Utc};
use gongyou_db::claims::{self as claims_db, Claim};
use gongyou_db::payouts::{self as db, Attempt, Change, Event, Payout};
use gongyou_db::{write_tx, DbConnection};
use gongyou_domain::claim::{transition, Action, ClaimStatus};
use gongyou_domain::money::{from_fen, parse_fen};
use gongyou_domain::notification::Category;
use gongyou_domain::org::OrgPath;
use gongyou_domain::payout::{
    channel_for_wechat_payee, out_bill_no, transfer_remark, Channel, PayoutStatus, MIN_TRANSFER_FEN,
};
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::actor::{Actor, Subject};
use crate::authz;
use crate::claims::PayeeKind;
use crate::error::{ServiceError, ServiceResult};
use crate::notifications::outbox::notify;
use crate::page::{Page, PageRequest};
use crate::text::{PayeeBank, PayeeHolder, PayeeReason, ReviewNote};
use crate::Context;

pub(crate) fn not_found() -> ServiceError {
    ServiceError::not_found("payout.not_found", "支付记录不存在")
}

fn internal(what: &str) -> ServiceError {
    ServiceError::internal(anyhow::anyhow!("payout storage: {what}"))
}

/// 503 with a zh-CN detail (the detail is also the logged cause).
pub(crate) fn unavailable(code: &'static str, detail: &'static str) -> ServiceError {
    ServiceError::unavailable(code, anyhow::anyhow!(detail)).with_detail(detail)
}

fn changed() -> ServiceError {
    ServiceError::conflict("payout.changed", "支付记录刚被处理，请刷新后查看")
}

pub(crate) fn status_of(p: &Payout) -> ServiceResult<PayoutStatus> {
    PayoutStatus::parse(&p.status).ok_or_else(|| internal("unknown status"))
}

/// The zh-CN name of a payout status.
pub fn status_zh(s: PayoutStatus) -> &'static str {
    match s {
        PayoutStatus::Pending => "待支付",
        PayoutStatus::Sending => "支付中",
        PayoutStatus::AwaitingConfirmation => "待收款人确认",
        PayoutStatus::Paid => "已支付",
        PayoutStatus::Failed => "支付失败",
        PayoutStatus::Cancelled => "已撤销",
    }
}

/// The zh-CN meaning of a WeChat Pay `fail_reason` (or a refusal code).
pub fn failure_zh(code: &str) -> String {
    match code {
        "OVERDUE_CLOSE" => "超过 24 小时未确认收款，款项已退回".into(),
        "MCH_CANCEL" => "工会已撤销这笔转账".into(),
        "NAME_NOT_CORRECT" | "REAL_NAME_CHECK_FAIL" => "收款人姓名与微信实名不一致".into(),
        "TRANSFER_RISK" | "TRANSFER_QUOTA_EXCEED" => "微信支付风控或限额拦截了这笔转账".into(),
        "OPENID_INVALID" | "NO_AUTH" => "收款人的微信账户无法收款".into(),
        "BANK_FAIL" => "银行退回了这笔转账".into(),
        other => format!("支付未成功（{other}）"),
    }
}

/// Who changed a payout, for its events.
#[derive(Debug, Clone)]
pub(crate) enum Who {
    Staff(String),
    System,
    Provider,
}

impl Who {
    fn of(actor: &Actor) -> Self {
        match actor.subject() {
            Subject::Staff { id, .. } => Who::Staff(id.clone()),
            Subject::User { .. } => Who::System,
        }
    }

    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            Who::Staff(id) => ("staff", Some(id.clone())),
            Who::System => ("system", None),
            Who::Provider => ("provider", None),
        }
    }
}

/// One transition of a payout, applied compare-and-set with its event.
pub(crate) struct Move<'a> {
    pub payout: &'a Payout,
    pub to: PayoutStatus,
    pub change: Change,
    pub who: Who,
    pub action: &'static str,
    pub attempt_id: Option<String>,
    pub reason_code: Option<String>,
    pub note: Option<String>,
}

/// Applies a move; false when the payout changed meanwhile (nothing written).
pub(crate) fn apply_move(
    conn: &mut DbConnection,
    m: Move<'_>,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    // A paid payout is never moved again (a late answer or a race must not reopen it).
    if m.payout.status == PayoutStatus::Paid.as_str() && m.to != PayoutStatus::Paid {
        tracing::error!(payout = %m.payout.id, to = m.to.as_str(), "refused to move a paid payout");
        return Ok(false);
    }
    let mut change = m.change;
    change.status = Some(m.to.as_str().to_owned());
    if !db::apply(
        conn,
        &m.payout.id,
        m.payout.revision,
        &change,
        now.naive_utc(),
    )? {
        return Ok(false);
    }
    let (kind, id) = m.who.parts();
    db::insert_event(
        conn,
        &Event {
            id: gongyou_domain::id::new_id(),
            payout_id: m.payout.id.clone(),
            attempt_id: m.attempt_id,
            at: now.naive_utc(),
            actor_kind: kind.into(),
            actor_id: id,
            action: m.action.into(),
            from_status: Some(m.payout.status.clone()),
            to_status: m.to.as_str().into(),
            reason_code: m.reason_code,
            note: m.note,
        },
    )?;
    Ok(true)
}

/// Opens the payout of a claim that just became payable (in the approval's transaction). A
/// rider to be paid in WeChat who never signed in through the mini-program is told to.
pub(crate) fn open_for_claim(
    ctx: &Context,
    conn: &mut DbConnection,
    claim: &Claim,
    amount_fen: i64,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    if db::of_claim(conn, &claim.id)?.is_some() {
        return Ok(());
    }
    let p = Payout {
        id: gongyou_domain::id::new_id(),
        claim_id: claim.id.clone(),
        claimant_id: claim.claimant_id.clone(),
        org_id: claim.org_id.clone(),
        org_path: claim.org_path.clone(),
        amount_fen,
        status: PayoutStatus::Pending.as_str().into(),
        payee_kind: match claim.payee_kind.as_deref() {
            Some("bank") => "bank".into(),
            _ => "wechat".into(),
        },
        payee_claim_id: claim.id.clone(),
        payee_request_id: None,
        batch_id: None,
        open_attempt_id: None,
        attempts: 0,
        failure_code: None,
        failure_detail: None,
        paid_at: None,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
        revision: 0,
    };
    db::insert(conn, &p)?;
    db::insert_event(
        conn,
        &Event {
            id: gongyou_domain::id::new_id(),
            payout_id: p.id.clone(),
            attempt_id: None,
            at: now.naive_utc(),
            actor_kind: "system".into(),
            actor_id: None,
            action: "open".into(),
            from_status: None,
            to_status: p.status.clone(),
            reason_code: None,
            note: None,
        },
    )?;
    if p.payee_kind == "wechat"
        && ctx.providers.wechatpay.is_some()
        && payee_openid(ctx, conn, &p.claimant_id)?.is_none()
    {
        let benefit = crate::claims::benefit_name(conn, claim)?;
        notify(
            conn,
            &p.claimant_id,
            Category::PayoutSignInNeeded,
            json!({"claim_id": p.claim_id, "payout_id": p.id, "benefit": benefit,
                   "amount": from_fen(p.amount_fen).to_string()}),
            now,
        )?;
    }
    Ok(())
}

/// The claim follows its payout: paid → `paid`, failed or cancelled → `payout_failed`, each
/// with a system event; the rider is told.
pub(crate) fn follow_claim(
    ctx: &Context,
    conn: &mut DbConnection,
    p: &Payout,
    to: PayoutStatus,
    failure: Option<&str>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let claim = claims_db::get(conn, &p.claim_id)?.ok_or_else(|| internal("claim"))?;
    let action = match to {
        PayoutStatus::Paid => Action::Paid,
        PayoutStatus::Failed | PayoutStatus::Cancelled => Action::PayoutFailed,
        _ => return Ok(()),
    };
    let from = ClaimStatus::parse(&claim.status).ok_or_else(|| internal("claim status"))?;
    let benefit = crate::claims::benefit_name(conn, &claim)?;
    let amount = from_fen(p.amount_fen).to_string();
    if let Ok(next) = transition(from, action) {
        let change = claims_db::Change {
            status: Some(next.as_str().into()),
            ..claims_db::Change::default()
        };
        if !claims_db::apply(conn, &claim.id, claim.revision, &change, now.naive_utc())? {
            return Err(changed());
        }
        claims_db::insert_event(
            conn,
            &claims_db::Event {
                id: gongyou_domain::id::new_id(),
                claim_id: claim.id.clone(),
                at: now.naive_utc(),
                actor_kind: "system".into(),
                actor_id: None,
                action: if to == PayoutStatus::Paid {
                    "paid".into()
                } else {
                    "payout_failed".into()
                },
                from_status: Some(from.as_str().into()),
                to_status: next.as_str().into(),
                reason_code: failure.map(str::to_owned),
                note: None,
                amount_fen: Some(p.amount_fen),
                for_claimant: true,
            },
        )?;
    }
    let params = match to {
        PayoutStatus::Paid => {
            let payee = payee_view(ctx, conn, p)?.describe();
            (
                Category::PayoutPaid,
                json!({"claim_id": claim.id, "payout_id": p.id, "benefit": benefit, "amount": amount, "payee": payee}),
            )
        }
        _ => (
            Category::PayoutFailed,
            json!({"claim_id": claim.id, "payout_id": p.id, "benefit": benefit, "amount": amount,
                   "reason": failure.map(failure_zh).unwrap_or_else(|| "已撤销".into())}),
        ),
    };
    notify(conn, &p.claimant_id, params.0, params.1, now)?;
    Ok(())
}

/// What a transfer says to its payee (WeChat shows it; banks print it as the remark).
const REMARK: &str = "工会理赔款";

/// A new attempt at paying `p` by `channel`, numbered by its own UUIDv7 (32 hex digits),
/// not sent yet.
pub(crate) fn new_attempt(p: &Payout, channel: Channel, now: DateTime<Utc>) -> Attempt {
    let id = uuid::Uuid::now_v7();
    Attempt {
        id: id.to_string(),
        payout_id: p.id.clone(),
        out_bill_no: out_bill_no(&id),
        channel: match channel {
            Channel::Wechat => "wechat".into(),
            Channel::Bank => "bank".into(),
        },
        amount_fen: p.amount_fen,
        appid: None,
        openid: None,
        user_name_enc: None,
        remark: transfer_remark(REMARK),
        state: "CREATED".into(),
        outcome_unknown: false,
        sends: 0,
        transfer_bill_no: None,
        package_info: None,
        fail_reason: None,
        expires_at: None,
        reminded_at: None,
        next_check_at: None,
        sent_at: None,
        final_at: None,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    }
}

/// Where a payout goes, as shown (the account masked).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayoutPayee {
    pub kind: PayeeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub bank: Option<String>,
    /// First and last four digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub account_masked: Option<String>,
    /// Entered by finance and accepted by a second approver (not by the rider).
    pub entered_by_finance: bool,
}

impl PayoutPayee {
    fn describe(&self) -> String {
        match self.kind {
            PayeeKind::WechatBalance => "微信零钱".into(),
            PayeeKind::Bank => format!(
                "{} {}",
                self.bank.clone().unwrap_or_default(),
                self.account_masked.clone().unwrap_or_default()
            ),
        }
    }
}

/// The payee of a payout, from the claim (or payee request) that holds it.
pub(crate) fn payee_view(
    _ctx: &Context,
    conn: &mut DbConnection,
    p: &Payout,
) -> ServiceResult<PayoutPayee> {
    if p.payee_kind == "wechat" {
        return Ok(PayoutPayee {
            kind: PayeeKind::WechatBalance,
            bank: None,
            account_masked: None,
            entered_by_finance: false,
        });
    }
    if let Some(req) = &p.payee_request_id {
        let r = db::payee_request(conn, req)?.ok_or_else(|| internal("payee request"))?;
        return Ok(PayoutPayee {
            kind: PayeeKind::Bank,
            bank: r.bank,
            account_masked: r.account_masked,
            entered_by_finance: true,
        });
    }
    let d = claims_db::details(conn, &p.payee_claim_id)?.ok_or_else(|| internal("details"))?;
    Ok(PayoutPayee {
        kind: PayeeKind::Bank,
        bank: d.payee_bank,
        account_masked: d.payee_account_masked,
        entered_by_finance: false,
    })
}

/// The bank account a bank payout goes to, unsealed: (holder, bank, account).
pub(crate) fn bank_account(
    ctx: &Context,
    conn: &mut DbConnection,
    p: &Payout,
) -> ServiceResult<(String, String, String)> {
    if let Some(req) = &p.payee_request_id {
        let r = db::payee_request(conn, req)?.ok_or_else(|| internal("payee request"))?;
        let holder = unseal_request(ctx, &r.id, "holder", r.holder_enc.as_deref())?;
        let account = unseal_request(ctx, &r.id, "account", r.account_enc.as_deref())?;
        return Ok((holder, r.bank.unwrap_or_default(), account));
    }
    let d = claims_db::details(conn, &p.payee_claim_id)?.ok_or_else(|| internal("details"))?;
    let holder = d
        .payee_holder_enc
        .as_deref()
        .map(|s| crate::claims::unseal(ctx, &p.payee_claim_id, "payee_holder", s))
        .transpose()?;
    let account = d
        .payee_account_enc
        .as_deref()
        .map(|s| crate::claims::unseal(ctx, &p.payee_claim_id, "payee_account", s))
        .transpose()?;
    match (holder, account) {
        (Some(h), Some(a)) => Ok((h, d.payee_bank.unwrap_or_default(), a)),
        _ => Err(ServiceError::rule(
            "payout.payee_erased",
            "收款账户信息已不存在，请为这笔支付更换收款人",
        )),
    }
}

fn seal_request(ctx: &Context, id: &str, field: &str, text: &str) -> ServiceResult<String> {
    ctx.crypto
        .seal_text(text, &format!("payee_request:{id}:{field}"))
        .map_err(ServiceError::internal)
}

fn unseal_request(
    ctx: &Context,
    id: &str,
    field: &str,
    stored: Option<&str>,
) -> ServiceResult<String> {
    let stored = stored.ok_or_else(|| internal("payee request erased"))?;
    ctx.crypto
        .unseal_text(stored, &format!("payee_request:{id}:{field}"))
        .map_err(ServiceError::internal)
}

/// Why a payout cannot go into a batch of its channel now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Blocker {
    /// WeChat payee without an openid of the paying app: sign in through the mini-program,
    /// or switch to a bank account.
    NoWechatOpenid,
    /// Above the per-transfer limit of WeChat transfers: it goes by bank, never split.
    AboveWechatLimit,
    /// Below WeChat Pay's smallest transfer (0.10 yuan): it goes by bank.
    BelowWechatMinimum,
    /// WeChat Pay is not configured on this server.
    WechatPayUnavailable,
    /// A payee change waits on a second finance approver.
    PayeeChangePending,
}

impl Blocker {
    /// Its code, as in the API.
    pub fn code(self) -> &'static str {
        match self {
            Blocker::NoWechatOpenid => "no_wechat_openid",
            Blocker::AboveWechatLimit => "above_wechat_limit",
            Blocker::BelowWechatMinimum => "below_wechat_minimum",
            Blocker::WechatPayUnavailable => "wechat_pay_unavailable",
            Blocker::PayeeChangePending => "payee_change_pending",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Blocker::NoWechatOpenid => "收款人尚未通过小程序登录，无法转账到微信零钱：请提醒其在小程序登录，或改用其已填写的银行账户",
            Blocker::AboveWechatLimit => "金额超过微信单笔转账限额，须改用银行账户支付（不拆分）",
            Blocker::BelowWechatMinimum => "金额低于微信转账的最低额 0.10 元，须改用银行账户支付",
            Blocker::WechatPayUnavailable => "本服务未配置微信支付",
            Blocker::PayeeChangePending => "收款人变更正等待另一位财务审批人确认",
        }
    }
}

/// The openid a WeChat transfer to `user_id` would use, if there is one for the paying app.
pub(crate) fn payee_openid(
    ctx: &Context,
    conn: &mut DbConnection,
    user_id: &str,
) -> ServiceResult<Option<String>> {
    let Some(pay) = &ctx.providers.wechatpay else {
        return Ok(None);
    };
    // Openids are per app: one from another app than the paying one is no use.
    if let Some(login) = &ctx.providers.wechat {
        if login.appid() != pay.appid() {
            return Ok(None);
        }
    }
    let user = gongyou_db::accounts::user(conn, user_id)?;
    Ok(user.and_then(|u| u.wechat_openid))
}

/// The channel a payout goes by, or why it cannot be batched now.
pub(crate) fn channel_of(
    ctx: &Context,
    conn: &mut DbConnection,
    p: &Payout,
) -> ServiceResult<(Channel, Vec<Blocker>)> {
    let mut blockers = Vec::new();
    if db::pending_payee_request(conn, &p.id)?.is_some() {
        blockers.push(Blocker::PayeeChangePending);
    }
    if p.payee_kind == "bank" {
        return Ok((Channel::Bank, blockers));
    }
    if ctx.providers.wechatpay.is_none() {
        blockers.push(Blocker::WechatPayUnavailable);
    } else if payee_openid(ctx, conn, &p.claimant_id)?.is_none() {
        blockers.push(Blocker::NoWechatOpenid);
    }
    if channel_for_wechat_payee(p.amount_fen, ctx.config.payout_wechat_limit_fen) == Channel::Bank {
        blockers.push(Blocker::AboveWechatLimit);
    }
    if p.amount_fen < MIN_TRANSFER_FEN {
        blockers.push(Blocker::BelowWechatMinimum);
    }
    Ok((Channel::Wechat, blockers))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptView {
    pub out_bill_no: String,
    /// `wechat` or `bank`.
    pub channel: String,
    /// WeChat Pay's state (`ACCEPTED` … `SUCCESS`, `FAIL`, `CANCELLED`), `CREATED` before the
    /// first send, or for a bank file `EXPORTED`, `SUCCESS`, `FAIL`.
    pub state: String,
    pub amount: String,
    /// A send whose answer never came: it is queried before anything else.
    pub outcome_unknown: bool,
    pub sends: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub transfer_bill_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub fail_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub final_at: Option<DateTime<Utc>>,
    /// The reconciliation run whose statement proved this attempt paid (a matched line);
    /// absent until one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reconciled: Option<Reconciled>,
}

/// Where an attempt was proved by a statement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reconciled {
    pub run_id: String,
    /// The statement's day.
    pub date: chrono::NaiveDate,
}

/// Where a statement proved these attempts paid: a matched line in a run of their channel
/// for a day around their final day. Two queries for all the attempts: the runs of the
/// days around them, then the matched lines' key (run, out_bill_no).
fn reconciled(
    conn: &mut DbConnection,
    attempts: &[Attempt],
) -> ServiceResult<std::collections::HashMap<String, Reconciled>> {
    use std::collections::{BTreeMap, HashMap};
    let around = chrono::Duration::days(3);
    // Per channel: the final day of each attempt.
    let mut days: BTreeMap<&str, Vec<(&str, chrono::NaiveDate)>> = BTreeMap::new();
    for a in attempts {
        if let Some(t) = a.final_at {
            let day = gongyou_domain::time::china_date(t.and_utc());
            days.entry(a.channel.as_str())
                .or_default()
                .push((a.out_bill_no.as_str(), day));
        }
    }
    let mut out = HashMap::new();
    for (channel, of) in days {
        let (Some(first), Some(last)) = (
            of.iter().map(|(_, d)| *d).min(),
            of.iter().map(|(_, d)| *d).max(),
        ) else {
            continue;
        };
        let runs: HashMap<String, chrono::NaiveDate> =
            gongyou_db::reconcile::runs_between(conn, channel, first - around, last + around)?
                .into_iter()
                .collect();
        if runs.is_empty() {
            continue;
        }
        let ids: Vec<String> = runs.keys().cloned().collect();
        let bills: Vec<String> = of.iter().map(|(b, _)| (*b).to_owned()).collect();
        let day_of: HashMap<&str, chrono::NaiveDate> = of.iter().copied().collect();
        for (bill, run_id) in gongyou_db::reconcile::matched_in(conn, &ids, &bills)? {
            let (Some(date), Some(day)) = (runs.get(&run_id), day_of.get(bill.as_str())) else {
                continue;
            };
            if (*date - *day).num_days().abs() <= around.num_days() {
                let date = *date;
                out.entry(bill).or_insert(Reconciled { run_id, date });
            }
        }
    }
    Ok(out)
}

fn attempt_view(a: &Attempt) -> AttemptView {
    AttemptView {
        out_bill_no: a.out_bill_no.clone(),
        channel: a.channel.clone(),
        state: a.state.clone(),
        amount: from_fen(a.amount_fen).to_string(),
        outcome_unknown: a.outcome_unknown,
        sends: a.sends,
        transfer_bill_no: a.transfer_bill_no.clone(),
        fail_reason: a.fail_reason.clone(),
        expires_at: a.expires_at.map(utc),
        sent_at: a.sent_at.map(utc),
        final_at: a.final_at.map(utc),
        reconciled: None,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayoutEventView {
    pub at: DateTime<Utc>,
    /// `staff`, `system` or `provider`.
    pub actor_kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub actor_id: Option<String>,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub from_status: Option<PayoutStatus>,
    pub to_status: PayoutStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub out_bill_no: Option<String>,
}

/// A payout as finance sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayoutView {
    pub id: String,
    pub claim_id: String,
    pub claimant_id: String,
    pub org_id: String,
    pub status: PayoutStatus,
    pub status_text: String,
    /// Yuan, two decimals.
    #[schema(example = "1200.00")]
    pub amount: String,
    /// How it goes: `wechat` (a transfer to the rider's WeChat balance) or `bank`.
    pub channel: Channel,
    pub payee: PayoutPayee,
    /// Why it cannot go into a batch now (empty: it can).
    pub blockers: Vec<Blocker>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub batch_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failure_detail: Option<String>,
    pub attempts: Vec<AttemptView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

pub(crate) fn view(
    ctx: &Context,
    conn: &mut DbConnection,
    p: &Payout,
) -> ServiceResult<PayoutView> {
    let status = status_of(p)?;
    let (channel, blockers) = channel_of(ctx, conn, p)?;
    let blockers = if status == PayoutStatus::Pending || !status.in_flight() {
        blockers
    } else {
        Vec::new()
    };
    let attempts = db::attempts_of(conn, &p.id)?;
    Ok(PayoutView {
        id: p.id.clone(),
        claim_id: p.claim_id.clone(),
        claimant_id: p.claimant_id.clone(),
        org_id: p.org_id.clone(),
        status,
        status_text: status_zh(status).into(),
        amount: from_fen(p.amount_fen).to_string(),
        channel,
        payee: payee_view(ctx, conn, p)?,
        blockers: if status == PayoutStatus::Paid {
            Vec::new()
        } else {
            blockers
        },
        batch_id: p.batch_id.clone(),
        failure_code: p.failure_code.clone(),
        failure_detail: p.failure_detail.clone(),
        attempts: {
            let proved = reconciled(conn, &attempts)?;
            attempts
                .iter()
                .map(|a| AttemptView {
                    reconciled: proved.get(&a.out_bill_no).cloned(),
                    ..attempt_view(a)
                })
                .collect()
        },
        paid_at: p.paid_at.map(utc),
        created_at: utc(p.created_at),
        updated_at: utc(p.updated_at),
    })
}

/// A payout finance may act on (403 without the role, 404 outside scope).
fn in_scope(conn: &mut DbConnection, actor: &Actor, id: &str) -> ServiceResult<Payout> {
    authz::scopes(actor, Role::FinanceApprover)?;
    let p = db::get(conn, id)?.ok_or_else(not_found)?;
    authz::require(
        actor,
        Role::FinanceApprover,
        &OrgPath::from_stored(p.org_path.clone()),
        not_found,
    )?;
    Ok(p)
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayoutsQuery {
    #[param(pattern = "^(pending|sending|awaiting_confirmation|paid|failed|cancelled)$")]
    pub status: Option<String>,
    /// Where it goes: `wechat` or `bank` (the payee's kind).
    #[param(pattern = "^(wechat|bank)$")]
    pub channel: Option<String>,
    #[param(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub batch_id: Option<String>,
    /// Only payouts in no batch yet (what a new batch can take).
    pub unbatched: Option<bool>,
    #[param(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub claim_id: Option<String>,
    /// At least (yuan).
    #[param(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$")]
    pub min_amount: Option<String>,
    /// At most (yuan).
    #[param(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$")]
    pub max_amount: Option<String>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

pub(crate) fn note_of(note: Option<String>) -> ServiceResult<Option<String>> {
    ReviewNote::RULE
        .check_optional(note.as_deref())
        .map_err(|_| ServiceError::invalid("payout.invalid_note", "说明不超过 500 个字符"))
}

fn reason_of(reason: &str) -> ServiceResult<String> {
    PayeeReason::RULE.check(reason).ok_or_else(|| {
        ServiceError::invalid("payout.invalid_reason", "请填写原因（2 至 200 个字符）")
    })
}

fn invalid_query(detail: &'static str) -> ServiceError {
    ServiceError::invalid("request.invalid_query", detail)
}

fn query_id(s: Option<String>, what: &'static str) -> ServiceResult<Option<String>> {
    match s {
        Some(v) if uuid::Uuid::parse_str(&v).is_err() || v.len() != 36 => Err(invalid_query(what)),
        other => Ok(other),
    }
}

/// Payouts in the caller's finance scope, newest first.
pub async fn payouts(
    ctx: &Context,
    actor: &Actor,
    q: PayoutsQuery,
) -> ServiceResult<Page<PayoutView>> {
    let within = authz::scope_paths(actor, Role::FinanceApprover)?;
    let page = PageRequest::new(q.cursor.clone(), q.limit)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            PayoutStatus::parse(s)
                .ok_or_else(|| invalid_query("status 须为 pending、sending、awaiting_confirmation、paid、failed 或 cancelled"))?
                .as_str()
                .to_owned(),
        ),
    };
    let payee_kind = match q.channel.as_deref() {
        None => None,
        Some(c @ ("wechat" | "bank")) => Some(c.to_owned()),
        Some(_) => return Err(invalid_query("channel 须为 wechat 或 bank")),
    };
    let amount = |s: Option<&str>| -> ServiceResult<Option<i64>> {
        s.map(|a| parse_fen(a).ok_or_else(|| invalid_query("金额须为元，最多两位小数")))
            .transpose()
    };
    let filter = db::Filter {
        within,
        status,
        payee_kind,
        batch_id: query_id(q.batch_id, "batch_id 须为批次编号")?,
        unbatched: q.unbatched.unwrap_or(false),
        claim_id: query_id(q.claim_id, "claim_id 须为理赔编号")?,
        min_fen: amount(q.min_amount.as_deref())?,
        max_fen: amount(q.max_amount.as_deref())?,
        before: query_id(page.cursor.clone(), "cursor 无效")?,
    };
    let ctx2 = ctx.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<Page<PayoutView>> {
            let rows = db::list(conn, &filter, page.fetch())?;
            Page::from_rows(rows, page.limit, |p| p.id.clone(), |p| p)
                .try_map(|p| view(&ctx2, conn, &p))
        })
        .await
}

/// One payout with its attempts, as finance sees it.
pub async fn payout(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<PayoutView> {
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            let p = in_scope(conn, &actor, &id)?;
            view(&ctx2, conn, &p)
        })
        .await
}

/// A payout's event trail, oldest first.
pub async fn payout_events(
    ctx: &Context,
    actor: &Actor,
    id: String,
) -> ServiceResult<Vec<PayoutEventView>> {
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<Vec<PayoutEventView>> {
            let p = in_scope(conn, &actor, &id)?;
            let attempts = db::attempts_of(conn, &p.id)?;
            db::events(conn, &p.id)?
                .into_iter()
                .map(|e| {
                    Ok(PayoutEventView {
                        at: utc(e.at),
                        actor_kind: e.actor_kind,
                        actor_id: e.actor_id,
                        action: e.action,
                        from_status: e.from_status.as_deref().and_then(PayoutStatus::parse),
                        to_status: PayoutStatus::parse(&e.to_status)
                            .ok_or_else(|| internal("event status"))?,
                        reason_code: e.reason_code,
                        note: e.note,
                        out_bill_no: e.attempt_id.and_then(|id| {
                            attempts
                                .iter()
                                .find(|a| a.id == id)
                                .map(|a| a.out_bill_no.clone())
                        }),
                    })
                })
                .collect()
        })
        .await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    /// Why (kept in the trail).
    #[schema(value_type = Option<ReviewNote>, inline, nullable = false)]
    #[serde(default)]
    pub note: Option<String>,
}

/// Sends a failed or cancelled payout again: a new attempt under a new number, only once the
/// previous attempt is final. One finance approver may do it (the amount and the payee were
/// approved with the batch; a payee change has its own rules).
pub async fn retry(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: RetryBody,
) -> ServiceResult<PayoutView> {
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    let view = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<PayoutView> {
                let p = in_scope(conn, &actor, &id)?;
                let status = status_of(&p)?;
                if !matches!(status, PayoutStatus::Failed | PayoutStatus::Cancelled) {
                    return Err(ServiceError::rule(
                        "payout.not_retryable",
                        format!(
                            "{}的支付不能重新发起：只有支付失败或已撤销的可以",
                            status_zh(status)
                        ),
                    ));
                }
                if let Some(open) = &p.open_attempt_id {
                    let a = db::attempt(conn, open)?.ok_or_else(|| internal("attempt"))?;
                    if a.final_at.is_none() {
                        return Err(ServiceError::conflict(
                            "payout.attempt_open",
                            "上一次支付尚未有最终结果，不能换新单号重发",
                        ));
                    }
                }
                let (_, blockers) = channel_of(&ctx2, conn, &p)?;
                if let Some(b) = blockers.first() {
                    return Err(ServiceError::rule("payout.blocked", b.zh()));
                }
                let moved = apply_move(
                    conn,
                    Move {
                        payout: &p,
                        to: PayoutStatus::Pending,
                        change: Change {
                            open_attempt_id: Some(None),
                            failure_code: Some(None),
                            failure_detail: Some(None),
                            // A bank payout goes out again in a new bank batch (its old
                            // batch's file is taken), approved by two people like any.
                            batch_id: (p.payee_kind == "bank").then_some(None),
                            ..Change::default()
                        },
                        who: Who::of(&actor),
                        action: "retry",
                        attempt_id: None,
                        reason_code: None,
                        note: note_of(body.note)?,
                    },
                    now,
                )?;
                if !moved {
                    return Err(changed());
                }
                if p.payee_kind == "wechat" {
                    send::enqueue_payout(conn, &p.id, now)?;
                }
                let p = db::get(conn, &p.id)?.ok_or_else(not_found)?;
                view(&ctx2, conn, &p)
            })
        })
        .await?;
    Ok(view)
}

/// Cancels a WeChat transfer the rider has not confirmed yet (to re-issue it, or stop it).
/// The cancellation is final once WeChat Pay says so (callback or query).
pub async fn cancel(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: RetryBody,
) -> ServiceResult<PayoutView> {
    let (ctx2, actor2) = (ctx.clone(), actor.clone());
    let id2 = id.clone();
    let attempt = ctx
        .db
        .run(move |conn| -> ServiceResult<Attempt> {
            let p = in_scope(conn, &actor2, &id2)?;
            let status = status_of(&p)?;
            let open = p
                .open_attempt_id
                .as_deref()
                .map(|a| db::attempt(conn, a))
                .transpose()?
                .flatten();
            match (status, open) {
                (PayoutStatus::AwaitingConfirmation, Some(a)) if a.channel == "wechat" => Ok(a),
                _ => Err(ServiceError::rule(
                    "payout.not_cancellable",
                    "只有等待收款人确认的微信转账可以撤销",
                )),
            }
        })
        .await?;
    let pay = ctx2
        .providers
        .wechatpay
        .clone()
        .ok_or_else(|| unavailable("payout.wechatpay_unavailable", "本服务未配置微信支付"))?;
    let bill = pay
        .cancel(&attempt.out_bill_no)
        .await
        .map_err(|e| send::provider_error(&e))?;
    let note = note_of(body.note)?;
    send::apply_bill(ctx, &attempt.out_bill_no, &bill, Who::of(actor), note).await?;
    payout(ctx, actor, id).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchPayeeBody {
    /// `wechat_balance`: the rider's WeChat balance; `bank`: the bank account the rider
    /// entered on the claim `from_claim_id` (one of their own claims; required with `bank`,
    /// else 422 `payout.payee_source_required`).
    pub kind: PayeeKind,
    #[schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub from_claim_id: Option<String>,
    /// Why (kept in the trail and told to the rider).
    #[schema(value_type = PayeeReason, inline)]
    pub reason: String,
}

fn switchable(status: PayoutStatus) -> bool {
    matches!(
        status,
        PayoutStatus::Pending | PayoutStatus::Failed | PayoutStatus::Cancelled
    )
}

/// Switches a payout to another payee the rider entered (under SMS step-up) themselves:
/// their WeChat balance, or the bank account of one of their claims. Recorded with the
/// reason; the rider is told.
pub async fn switch_payee(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: SwitchPayeeBody,
) -> ServiceResult<PayoutView> {
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<PayoutView> {
                let p = in_scope(conn, &actor, &id)?;
                let status = status_of(&p)?;
                if !switchable(status) || p.batch_id.is_some() && status == PayoutStatus::Pending {
                    return Err(ServiceError::rule(
                        "payout.payee_locked",
                        "只有未进入批次、支付失败或已撤销的支付可以更换收款人",
                    ));
                }
                let (kind, source) = match body.kind {
                    PayeeKind::WechatBalance => ("wechat", p.claim_id.clone()),
                    PayeeKind::Bank => {
                        let from = body.from_claim_id.clone().ok_or_else(|| {
                            ServiceError::rule(
                                "payout.payee_source_required",
                                "改用银行账户时须指明该账户所在的理赔申请（from_claim_id）",
                            )
                        })?;
                        let c = claims_db::get(conn, &from)?;
                        let d = claims_db::details(conn, &from)?;
                        match (c, d) {
                            (Some(c), Some(d))
                                if c.claimant_id == p.claimant_id
                                    && c.payee_kind.as_deref() == Some("bank")
                                    && d.payee_account_enc.is_some() =>
                            {
                                ("bank", from)
                            }
                            _ => {
                                return Err(ServiceError::rule(
                                    "payout.payee_not_entered",
                                    "该收款账户不是收款人本人填写的：请改用“申请变更收款人”，由另一位财务审批人确认",
                                ))
                            }
                        }
                    }
                };
                let reason = reason_of(&body.reason)?;
                let moved = apply_move(
                    conn,
                    Move {
                        payout: &p,
                        to: status,
                        change: Change {
                            payee_kind: Some(kind.into()),
                            payee_claim_id: Some(source),
                            payee_request_id: Some(None),
                            // A payout switched to bank leaves a WeChat batch it was in.
                            batch_id: Some(None).filter(|_| p.payee_kind != kind).or(None),
                            ..Change::default()
                        },
                        who: Who::of(&actor),
                        action: "switch_payee",
                        attempt_id: None,
                        reason_code: None,
                        note: Some(reason.clone()),
                    },
                    now,
                )?;
                if !moved {
                    return Err(changed());
                }
                let p = db::get(conn, &p.id)?.ok_or_else(not_found)?;
                tell_payee_changed(&ctx2, conn, &p, &reason, now)?;
                view(&ctx2, conn, &p)
            })
        })
        .await
}

fn tell_payee_changed(
    ctx: &Context,
    conn: &mut DbConnection,
    p: &Payout,
    reason: &str,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let claim = claims_db::get(conn, &p.claim_id)?.ok_or_else(|| internal("claim"))?;
    let benefit = crate::claims::benefit_name(conn, &claim)?;
    let payee = payee_view(ctx, conn, p)?.describe();
    notify(
        conn,
        &p.claimant_id,
        Category::PayoutPayeeChanged,
        json!({"claim_id": p.claim_id, "payout_id": p.id, "benefit": benefit, "payee": payee, "reason": reason}),
        now,
    )?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayeeRequestBody {
    /// The account holder's name as the bank knows it.
    #[schema(value_type = PayeeHolder, inline)]
    pub holder: String,
    #[schema(value_type = PayeeBank, inline)]
    pub bank: String,
    /// Digits only (spaces are dropped), 8 to 30.
    #[schema(pattern = r"^ *(?:[0-9] *){8,30}$")]
    pub account: String,
    /// Why (kept in the trail and told to the rider).
    #[schema(value_type = PayeeReason, inline)]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayeeRequestView {
    pub id: String,
    pub payout_id: String,
    /// `pending`, `approved` or `refused`.
    pub status: String,
    pub bank: Option<String>,
    pub account_masked: Option<String>,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub decided_by: Option<String>,
}

fn request_view(r: &db::PayeeRequest) -> PayeeRequestView {
    PayeeRequestView {
        id: r.id.clone(),
        payout_id: r.payout_id.clone(),
        status: r.status.clone(),
        bank: r.bank.clone(),
        account_masked: r.account_masked.clone(),
        reason: r.reason.clone(),
        requested_by: r.requested_by.clone(),
        requested_at: utc(r.requested_at),
        decided_by: r.decided_by.clone(),
    }
}

/// Asks to pay a payout to a bank account the rider did not enter (e.g. the rider's new card
/// given by phone): it waits on a second finance approver.
pub async fn request_payee(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: PayeeRequestBody,
) -> ServiceResult<PayeeRequestView> {
    let account: String = body.account.chars().filter(|c| *c != ' ').collect();
    if !(8..=30).contains(&account.len()) || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ServiceError::invalid(
            "payout.invalid_account",
            "银行账号须为 8 至 30 位数字",
        ));
    }
    let holder = PayeeHolder::RULE.check(&body.holder).ok_or_else(|| {
        ServiceError::invalid("payout.invalid_holder", "请填写开户名（不超过 50 个字符）")
    })?;
    let bank = PayeeBank::RULE.check(&body.bank).ok_or_else(|| {
        ServiceError::invalid("payout.invalid_bank", "请填写开户行（不超过 60 个字符）")
    })?;
    let staff_id = actor.staff_id()?;
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<PayeeRequestView> {
                let p = in_scope(conn, &actor, &id)?;
                if !switchable(status_of(&p)?) {
                    return Err(ServiceError::rule(
                        "payout.payee_locked",
                        "只有未进入批次、支付失败或已撤销的支付可以更换收款人",
                    ));
                }
                if db::pending_payee_request(conn, &p.id)?.is_some() {
                    return Err(ServiceError::conflict(
                        "payout.payee_request_pending",
                        "这笔支付已有一项收款人变更等待确认",
                    ));
                }
                let rid = gongyou_domain::id::new_id();
                let r = db::PayeeRequest {
                    id: rid.clone(),
                    payout_id: p.id.clone(),
                    payee_kind: "bank".into(),
                    holder_enc: Some(seal_request(&ctx2, &rid, "holder", &holder)?),
                    bank: Some(bank.clone()),
                    account_enc: Some(seal_request(&ctx2, &rid, "account", &account)?),
                    account_masked: Some(gongyou_domain::claim::mask_bank_account(&account)),
                    reason: reason_of(&body.reason)?,
                    status: "pending".into(),
                    requested_by: staff_id.clone(),
                    requested_at: now.naive_utc(),
                    decided_by: None,
                    decided_at: None,
                };
                db::insert_payee_request(conn, &r)?;
                let status = status_of(&p)?;
                apply_move(
                    conn,
                    Move {
                        payout: &p,
                        to: status,
                        change: Change::default(),
                        who: Who::of(&actor),
                        action: "request_payee",
                        attempt_id: None,
                        reason_code: None,
                        note: Some(r.reason.clone()),
                    },
                    now,
                )?;
                Ok(request_view(&r))
            })
        })
        .await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayeeDecisionBody {
    /// Accept (true) or refuse (false) the change.
    pub approve: bool,
}

/// A second finance approver (not the one who asked) accepts or refuses a payee change.
/// Accepted, the payout goes to the new account and the rider is told.
pub async fn decide_payee_request(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: PayeeDecisionBody,
) -> ServiceResult<PayoutView> {
    let staff_id = actor.staff_id()?;
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<PayoutView> {
                let p = in_scope(conn, &actor, &id)?;
                let r = db::pending_payee_request(conn, &p.id)?.ok_or_else(|| {
                    ServiceError::not_found("payout.no_payee_request", "没有等待确认的收款人变更")
                })?;
                if r.requested_by == staff_id {
                    return Err(ServiceError::forbidden(
                        "payout.same_person",
                        "提出变更的人不能自己确认：请由另一位财务审批人确认",
                    ));
                }
                let status = if body.approve { "approved" } else { "refused" };
                if !db::decide_payee_request(conn, &r.id, status, &staff_id, now.naive_utc())? {
                    return Err(changed());
                }
                let st = status_of(&p)?;
                let change = if body.approve {
                    Change {
                        payee_kind: Some("bank".into()),
                        payee_request_id: Some(Some(r.id.clone())),
                        batch_id: if st == PayoutStatus::Pending {
                            Some(None)
                        } else {
                            None
                        },
                        ..Change::default()
                    }
                } else {
                    Change::default()
                };
                let moved = apply_move(
                    conn,
                    Move {
                        payout: &p,
                        to: st,
                        change,
                        who: Who::of(&actor),
                        action: if body.approve {
                            "approve_payee"
                        } else {
                            "refuse_payee"
                        },
                        attempt_id: None,
                        reason_code: None,
                        note: Some(r.reason.clone()),
                    },
                    now,
                )?;
                if !moved {
                    return Err(changed());
                }
                let p = db::get(conn, &p.id)?.ok_or_else(not_found)?;
                if body.approve {
                    tell_payee_changed(&ctx2, conn, &p, &r.reason, now)?;
                }
                view(&ctx2, conn, &p)
            })
        })
        .await
}

/// What the mini-program needs to let the rider confirm a WeChat transfer
/// (`wx.requestMerchantTransfer({mchId, appId, package})`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfirmReceipt {
    pub mch_id: String,
    pub app_id: String,
    /// WeChat Pay's `package_info`, passed on as `package`.
    pub package: String,
    /// After this the transfer closes unconfirmed and the money goes back.
    pub expires_at: DateTime<Utc>,
}

/// A payout as its rider sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyPayoutView {
    pub id: String,
    pub claim_id: String,
    pub benefit_name: String,
    pub status: PayoutStatus,
    pub status_text: String,
    #[schema(example = "1200.00")]
    pub amount: String,
    pub payee: PayoutPayee,
    /// Present while a WeChat transfer waits for the rider's confirmation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub confirm: Option<ConfirmReceipt>,
    /// What the rider must do for the payout to go (zh-CN), if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub action_needed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failure_detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub paid_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The caller's payouts, newest first.
pub async fn my_payouts(ctx: &Context, actor: &Actor) -> ServiceResult<Vec<MyPayoutView>> {
    let user_id = actor.user_id()?.to_owned();
    let ctx2 = ctx.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<Vec<MyPayoutView>> {
            let mut out = Vec::new();
            for p in db::of_claimant(conn, &user_id)? {
                let status = status_of(&p)?;
                let claim = claims_db::get(conn, &p.claim_id)?.ok_or_else(|| internal("claim"))?;
                let confirm = match (status, &p.open_attempt_id, &ctx2.providers.wechatpay) {
                    (PayoutStatus::AwaitingConfirmation, Some(a), Some(pay)) => {
                        let a = db::attempt(conn, a)?.ok_or_else(|| internal("attempt"))?;
                        match (a.package_info, a.expires_at) {
                            (Some(package), Some(expires)) => Some(ConfirmReceipt {
                                mch_id: pay.mch_id().to_owned(),
                                app_id: a.appid.unwrap_or_else(|| pay.appid().to_owned()),
                                package,
                                expires_at: utc(expires),
                            }),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                let (_, blockers) = channel_of(&ctx2, conn, &p)?;
                let action_needed = if status == PayoutStatus::Pending
                    && blockers.contains(&Blocker::NoWechatOpenid)
                {
                    Some("请在工友小程序中登录一次，以便理赔款转入您的微信零钱；也可联系工会改用您填写过的银行账户。".to_owned())
                } else if confirm.is_some() {
                    Some("请点击“确认收款”，逾期未确认款项将退回。".to_owned())
                } else {
                    None
                };
                out.push(MyPayoutView {
                    id: p.id.clone(),
                    claim_id: p.claim_id.clone(),
                    benefit_name: crate::claims::benefit_name(conn, &claim)?,
                    status,
                    status_text: status_zh(status).into(),
                    amount: from_fen(p.amount_fen).to_string(),
                    payee: payee_view(&ctx2, conn, &p)?,
                    confirm,
                    action_needed,
                    failure_detail: p.failure_detail.clone(),
                    paid_at: p.paid_at.map(utc),
                    updated_at: utc(p.updated_at),
                });
            }
            Ok(out)
        })
        .await
}
