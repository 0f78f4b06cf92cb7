//! Payout batches: one finance approver builds a draft (chosen payouts, or the oldest payable
//! ones up to a count or an amount), a different finance approver approves it, and approval
//! starts the sending (WeChat) or opens the bank file (bank).

use chrono::{DateTime, Utc};
use gongyou_db::payouts::{self as db, Batch, Payout};
use gongyou_db::{orgs, write_tx, DbConnection};
use gongyou_domain::money::{from_fen, parse_fen};
use gongyou_domain::org::OrgPath;
use gongyou_domain::payout::{may_approve_batch, Channel, PayoutStatus};
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{channel_of, internal, send, status_of, Blocker};
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};
use crate::schema::Integral;
use crate::Context;

/// The most payouts one batch takes.
pub const BATCH_MAX: u32 = 1000;
const BATCH_DEFAULT: u32 = 200;

fn not_found() -> ServiceError {
    ServiceError::not_found("batch.not_found", "支付批次不存在")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchChannel {
    /// WeChat Pay merchant transfers to the riders' WeChat balances.
    Wechat,
    /// A transfer file for the union's bank (批量代发).
    Bank,
}

impl BatchChannel {
    fn as_str(self) -> &'static str {
        match self {
            BatchChannel::Wechat => "wechat",
            BatchChannel::Bank => "bank",
        }
    }

    fn channel(self) -> Channel {
        match self {
            BatchChannel::Wechat => Channel::Wechat,
            BatchChannel::Bank => Channel::Bank,
        }
    }
}

/// A new batch: exactly the payouts named, or the oldest payable ones of the channel in the
/// union, up to `max_count` (default 200) and `max_amount`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    pub channel: BatchChannel,
    /// The union whose payouts it takes (in the caller's finance scope); absent: the caller's
    /// finance scope when it is one union.
    #[schema(
        pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        nullable = false
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Exactly these payouts (each payable, in no batch, of this channel); not with
    /// `max_count` or `max_amount` (422 `batch.invalid_payouts`).
    #[schema(min_items = 1, max_items = 1000, nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_ids: Option<Vec<String>>,
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 1000, nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<Integral>,
    /// At most this much in all (yuan).
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$", nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<String>,
}

/// How many payouts of a batch are in a status, and how much.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusSum {
    pub status: PayoutStatus,
    pub count: i64,
    #[schema(example = "1200.00")]
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchView {
    pub id: String,
    pub org_id: String,
    pub channel: BatchChannel,
    /// `draft` (waiting on a second finance approver) or `approved`.
    pub status: String,
    /// Every payout of the batch is paid, failed or cancelled.
    pub settled: bool,
    pub payouts: i32,
    #[schema(example = "12000.00")]
    pub total: String,
    pub by_status: Vec<StatusSum>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub approved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub approved_at: Option<DateTime<Utc>>,
    /// A bank batch's file: who took it, when (it is served once).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub file_taken_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub file_taken_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub results_imported_at: Option<DateTime<Utc>>,
}

pub(crate) fn batch_view(conn: &mut DbConnection, b: &Batch) -> ServiceResult<BatchView> {
    let sums = db::batch_sums(conn, &b.id)?;
    let mut by_status = Vec::new();
    let mut settled = true;
    for (status, count, fen) in sums {
        let status = PayoutStatus::parse(&status).ok_or_else(|| internal("status"))?;
        if status.in_flight() || status == PayoutStatus::Pending {
            settled = false;
        }
        by_status.push(StatusSum {
            status,
            count,
            amount: from_fen(fen).to_string(),
        });
    }
    Ok(BatchView {
        id: b.id.clone(),
        org_id: b.org_id.clone(),
        channel: if b.channel == "bank" {
            BatchChannel::Bank
        } else {
            BatchChannel::Wechat
        },
        status: b.status.clone(),
        settled: settled && b.status == "approved",
        payouts: b.payouts,
        total: from_fen(b.total_fen).to_string(),
        by_status,
        created_by: b.created_by.clone(),
        created_at: b.created_at.and_utc(),
        approved_by: b.approved_by.clone(),
        approved_at: b.approved_at.map(|t| t.and_utc()),
        file_taken_by: b.file_taken_by.clone(),
        file_taken_at: b.file_taken_at.map(|t| t.and_utc()),
        results_imported_at: b.results_imported_at.map(|t| t.and_utc()),
    })
}

/// A batch finance may act on (403 without the role, 404 outside scope).
pub(crate) fn batch_in_scope(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> ServiceResult<Batch> {
    authz::scopes(actor, Role::FinanceApprover)?;
    let b = db::batch(conn, id)?.ok_or_else(not_found)?;
    authz::require(
        actor,
        Role::FinanceApprover,
        &OrgPath::from_stored(b.org_path.clone()),
        not_found,
    )?;
    Ok(b)
}

fn refusal(p: &str, code: &str, detail: &str) -> serde_json::Value {
    serde_json::json!({"payout_id": p, "code": code, "detail": detail})
}

/// Why a payout cannot go into a batch of `channel`, if it cannot.
fn unfit(
    ctx: &Context,
    conn: &mut DbConnection,
    p: &Payout,
    channel: BatchChannel,
) -> ServiceResult<Option<(String, String)>> {
    if status_of(p)? != PayoutStatus::Pending || p.batch_id.is_some() {
        return Ok(Some((
            "not_payable".into(),
            "不是待支付状态，或已在其他批次中".into(),
        )));
    }
    let (ch, blockers) = channel_of(ctx, conn, p)?;
    if ch != channel.channel() {
        return Ok(Some((
            "other_channel".into(),
            match ch {
                Channel::Wechat => "收款人选择的是微信零钱，不能放入银行批次".into(),
                Channel::Bank => "收款人选择的是银行账户，不能放入微信批次".into(),
            },
        )));
    }
    Ok(blockers
        .first()
        .map(|b: &Blocker| (b.code().to_owned(), b.zh().to_owned())))
}

/// Builds a draft batch (Idempotency-Key at the edge).
pub async fn create_batch(
    ctx: &Context,
    actor: &Actor,
    body: BatchBody,
) -> ServiceResult<BatchView> {
    let staff_id = actor.staff_id()?;
    let scopes = authz::scopes(actor, Role::FinanceApprover)?;
    let max_count = body
        .max_count
        .map_or(Some(BATCH_DEFAULT), |Integral(n)| u32::try_from(n).ok())
        .unwrap_or(0);
    if !(1..=BATCH_MAX).contains(&max_count) {
        return Err(ServiceError::invalid(
            "batch.invalid_count",
            "max_count 须在 1 至 1000 之间",
        ));
    }
    let max_fen = body
        .max_amount
        .as_deref()
        .map(|a| {
            parse_fen(a).ok_or_else(|| {
                ServiceError::invalid("batch.invalid_amount", "金额须为元，最多两位小数")
            })
        })
        .transpose()?;
    if let Some(ids) = &body.payout_ids {
        if ids.is_empty() || ids.len() > BATCH_MAX as usize {
            return Err(ServiceError::invalid(
                "batch.invalid_payouts",
                "payout_ids 须有 1 至 1000 项",
            ));
        }
        if body.max_count.is_some() || body.max_amount.is_some() {
            return Err(ServiceError::rule(
                "batch.invalid_payouts",
                "指定 payout_ids 时不能同时给出 max_count 或 max_amount",
            ));
        }
    }
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<BatchView> {
                let org = match &body.org_id {
                    Some(id) => {
                        let org = orgs::get(conn, id)?.ok_or_else(|| {
                            ServiceError::not_found("org.not_found", "组织不存在")
                        })?;
                        authz::require_visible(
                            &actor,
                            Role::FinanceApprover,
                            &OrgPath::from_stored(org.path.clone()),
                        )?;
                        org
                    }
                    None => match scopes.as_slice() {
                        [one] => {
                            let id = one.ids().last().unwrap_or_default().to_owned();
                            orgs::get(conn, &id)?.ok_or_else(|| internal("scope org"))?
                        }
                        _ => {
                            return Err(ServiceError::invalid(
                                "batch.org_required",
                                "您在多个组织担任财务审批人，请指明 org_id",
                            ))
                        }
                    },
                };
                let mut chosen: Vec<Payout> = Vec::new();
                match &body.payout_ids {
                    Some(ids) => {
                        let mut refused = Vec::new();
                        let mut seen = std::collections::HashSet::new();
                        for id in ids {
                            if !seen.insert(id.clone()) {
                                continue;
                            }
                            let p = db::get(conn, id)?.filter(|p| {
                                OrgPath::from_stored(org.path.clone())
                                    .contains(&OrgPath::from_stored(p.org_path.clone()))
                            });
                            let Some(p) = p else {
                                refused.push(refusal(
                                    id,
                                    "not_found",
                                    "支付记录不存在或不属于该组织",
                                ));
                                continue;
                            };
                            match unfit(&ctx2, conn, &p, body.channel)? {
                                Some((code, detail)) => refused.push(refusal(id, &code, &detail)),
                                None => chosen.push(p),
                            }
                        }
                        if !refused.is_empty() {
                            return Err(ServiceError::rule(
                                "batch.payouts_unfit",
                                format!("{} 笔支付不能放入这个批次", refused.len()),
                            )
                            .with_errors(serde_json::Value::Array(refused)));
                        }
                    }
                    None => {
                        let kind = body.channel.as_str();
                        let candidates =
                            db::unbatched_oldest(conn, &org.path, kind, i64::from(BATCH_MAX) * 2)?;
                        let mut total = 0i64;
                        for p in candidates {
                            if chosen.len() >= max_count as usize {
                                break;
                            }
                            if max_fen.is_some_and(|m| total + p.amount_fen > m) {
                                continue;
                            }
                            if unfit(&ctx2, conn, &p, body.channel)?.is_some() {
                                continue;
                            }
                            total += p.amount_fen;
                            chosen.push(p);
                        }
                    }
                }
                if chosen.is_empty() {
                    return Err(ServiceError::rule(
                        "batch.empty",
                        "没有可放入批次的待支付记录",
                    ));
                }
                let batch = Batch {
                    id: gongyou_domain::id::new_id(),
                    org_id: org.id.clone(),
                    org_path: org.path.clone(),
                    channel: body.channel.as_str().into(),
                    status: "draft".into(),
                    payouts: i32::try_from(chosen.len()).unwrap_or(i32::MAX),
                    total_fen: chosen.iter().map(|p| p.amount_fen).sum(),
                    created_by: staff_id.clone(),
                    approved_by: None,
                    created_at: now.naive_utc(),
                    approved_at: None,
                    file_taken_by: None,
                    file_taken_at: None,
                    results_imported_at: None,
                };
                db::insert_batch(conn, &batch)?;
                let ids: Vec<String> = chosen.iter().map(|p| p.id.clone()).collect();
                let taken = db::take_into_batch(conn, &ids, &batch.id, now.naive_utc())?;
                if taken != ids.len() {
                    return Err(ServiceError::conflict(
                        "batch.changed",
                        "有支付记录刚被放入其他批次，请重试",
                    ));
                }
                for p in &chosen {
                    record_batch_event(conn, p, &staff_id, "batch", &batch.id, now)?;
                }
                batch_view(conn, &batch)
            })
        })
        .await
}

fn record_batch_event(
    conn: &mut DbConnection,
    p: &Payout,
    staff_id: &str,
    action: &str,
    batch_id: &str,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    db::insert_event(
        conn,
        &db::Event {
            id: gongyou_domain::id::new_id(),
            payout_id: p.id.clone(),
            attempt_id: None,
            at: now.naive_utc(),
            actor_kind: "staff".into(),
            actor_id: Some(staff_id.to_owned()),
            action: action.into(),
            from_status: Some(p.status.clone()),
            to_status: p.status.clone(),
            reason_code: None,
            note: Some(format!("batch {batch_id}")),
        },
    )?;
    Ok(())
}

/// Approves a draft batch: a finance approver in scope who did not build it. A WeChat
/// batch's sending is queued at once; a bank batch's file may then be taken.
pub async fn approve_batch(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<BatchView> {
    let staff_id = actor.staff_id()?;
    let now = ctx.now();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<BatchView> {
                let b = batch_in_scope(conn, &actor, &id)?;
                if !may_approve_batch(&b.created_by, &staff_id) {
                    return Err(ServiceError::forbidden(
                        "batch.same_person",
                        "制单人不能审批自己的批次：请由另一位财务审批人审批",
                    ));
                }
                if b.status != "draft" {
                    return Err(ServiceError::conflict("batch.not_draft", "该批次已审批"));
                }
                if !db::set_batch_status(
                    conn,
                    &b.id,
                    "draft",
                    "approved",
                    Some((&staff_id, now.naive_utc())),
                )? {
                    return Err(ServiceError::conflict("batch.not_draft", "该批次已审批"));
                }
                for p in db::of_batch(conn, &b.id)? {
                    record_batch_event(conn, &p, &staff_id, "batch_approved", &b.id, now)?;
                }
                if b.channel == "wechat" {
                    send::enqueue_batch(conn, &b.id, now)?;
                }
                let b = db::batch(conn, &b.id)?.ok_or_else(not_found)?;
                batch_view(conn, &b)
            })
        })
        .await
}

/// One batch with its counts and sums per status.
pub async fn batch(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<BatchView> {
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            let b = batch_in_scope(conn, &actor, &id)?;
            batch_view(conn, &b)
        })
        .await
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchesQuery {
    /// From the previous page's `next_cursor`.
    #[param(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Batches in the caller's finance scope, newest first.
pub async fn batches(
    ctx: &Context,
    actor: &Actor,
    q: BatchesQuery,
) -> ServiceResult<Page<BatchView>> {
    let within = authz::scope_paths(actor, Role::FinanceApprover)?;
    let page = PageRequest::new(q.cursor, q.limit)?;
    if page
        .cursor
        .as_deref()
        .is_some_and(|c| uuid::Uuid::parse_str(c).is_err())
    {
        return Err(ServiceError::invalid(
            "request.invalid_query",
            "cursor 无效",
        ));
    }
    ctx.db
        .run(move |conn| -> ServiceResult<Page<BatchView>> {
            let rows = db::batches(conn, &within, page.cursor.as_deref(), page.fetch())?;
            Page::from_rows(rows, page.limit, |b| b.id.clone(), |b| b)
                .try_map(|b| batch_view(conn, &b))
        })
        .await
}
