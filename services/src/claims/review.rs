//! What the union does with claims: a queue of those waiting on staff in scope, taking one,
//! returning it for more, approving (a lower amount only with a reason), rejecting with a
//! reason, and — above the confirm threshold — a finance approver's confirmation by
//! someone who is not the approver. Every decision applies to the state it was made on:
//! of two at once, one wins and the other is told (409).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use gongyou_db::claims::{self as db, Change, Claim, QueueFilter};
use gongyou_db::{write_tx, DbConnection};
use gongyou_domain::claim::{self as rules, transition, Action, ClaimStatus};
use gongyou_domain::money::{from_fen, parse_fen};
use gongyou_domain::notification::Category;
use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::Role;
use gongyou_domain::time::china_date;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{
    changed_meanwhile, illegal, not_found, queue_item, record, status_of, threshold_for, view,
    ClaimView, QueueItem, Viewer,
};
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::notifications::outbox::{notify, notify_staff, StaffChannels};
use crate::page::{Page, PageRequest};
use crate::text::ReviewNote;
use crate::Context;

/// Why a claim goes back to the claimant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnReason {
    DocumentsMissing,
    DocumentUnreadable,
    InformationIncorrect,
    InvoiceUnclear,
    PayeeInvalid,
    Other,
}

impl ReturnReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::DocumentsMissing => "documents_missing",
            Self::DocumentUnreadable => "document_unreadable",
            Self::InformationIncorrect => "information_incorrect",
            Self::InvoiceUnclear => "invoice_unclear",
            Self::PayeeInvalid => "payee_invalid",
            Self::Other => "other",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Self::DocumentsMissing => "材料不全",
            Self::DocumentUnreadable => "材料照片看不清",
            Self::InformationIncorrect => "填写的信息有误",
            Self::InvoiceUnclear => "发票信息不清楚",
            Self::PayeeInvalid => "收款信息有误",
            Self::Other => "其他原因",
        }
    }
}

/// Why a claim is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    NotCovered,
    WaitingPeriod,
    IncidentNotCovered,
    DuplicateClaim,
    DocumentsNotGenuine,
    LimitExhausted,
    Other,
}

impl RejectReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::NotCovered => "not_covered",
            Self::WaitingPeriod => "waiting_period",
            Self::IncidentNotCovered => "incident_not_covered",
            Self::DuplicateClaim => "duplicate_claim",
            Self::DocumentsNotGenuine => "documents_not_genuine",
            Self::LimitExhausted => "limit_exhausted",
            Self::Other => "other",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Self::NotCovered => "出险时不在保障期内",
            Self::WaitingPeriod => "出险时仍在等待期内",
            Self::IncidentNotCovered => "这次出险不属于保障范围",
            Self::DuplicateClaim => "与已有的理赔申请重复",
            Self::DocumentsNotGenuine => "材料经核实不真实",
            Self::LimitExhausted => "本保障期的额度已用完",
            Self::Other => "其他原因",
        }
    }
}

/// Why an approval pays less than the rules computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewNoteReason {
    CostPartlyIneligible,
    DaysAdjusted,
    LimitAdjusted,
    Other,
}

impl ReviewNoteReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::CostPartlyIneligible => "cost_partly_ineligible",
            Self::DaysAdjusted => "days_adjusted",
            Self::LimitAdjusted => "limit_adjusted",
            Self::Other => "other",
        }
    }
}

/// Back to the claimant, with every reason.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    #[schema(min_items = 1, max_items = 6)]
    pub reasons: Vec<ReturnReason>,
    /// What exactly to add or correct (shown to the claimant).
    #[schema(value_type = Option<ReviewNote>, inline, nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An approval: the computed amount, or a lower one with a reason.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// At most the computed amount; absent: the computed amount.
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$", nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Required when `amount` is lower than computed.
    #[schema(nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<ReviewNoteReason>,
    #[schema(value_type = Option<ReviewNote>, inline, nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    pub reason_code: RejectReason,
    /// Shown to the claimant.
    #[schema(value_type = Option<ReviewNote>, inline, nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    #[schema(value_type = Option<ReviewNote>, inline, nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn note_of(note: Option<String>) -> ServiceResult<Option<String>> {
    ReviewNote::RULE
        .check_optional(note.as_deref())
        .map_err(|_| ServiceError::invalid("claim.invalid_note", "说明不超过 500 个字符"))
}

/// The review queue's filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only claims in this status (`submitted`, `under_review` or
    /// `awaiting_confirmation`); absent: all three.
    #[param(pattern = "^(submitted|under_review|awaiting_confirmation)$")]
    pub status: Option<String>,
    #[param(max_length = 32)]
    pub plan_code: Option<String>,
    #[param(max_length = 32)]
    pub benefit_code: Option<String>,
    /// Computed amount at least (yuan).
    #[param(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$")]
    pub min_amount: Option<String>,
    /// Computed amount at most (yuan).
    #[param(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$")]
    pub max_amount: Option<String>,
    /// Waiting at least this many hours.
    #[param(minimum = 0, maximum = 8760)]
    pub waiting_hours: Option<u32>,
    /// Only the claims the caller holds.
    pub mine: Option<bool>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = r"^[0-9]{1,16}_[0-9A-Za-z-]{1,64}$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

const WAITING: [&str; 3] = ["submitted", "under_review", "awaiting_confirmation"];

fn invalid_query(detail: &'static str) -> ServiceError {
    ServiceError::invalid("request.invalid_query", detail)
}

fn cursor_of(c: &QueueItem) -> String {
    format!("{}_{}", c.waiting_since.timestamp_micros(), c.id)
}

fn parse_cursor(s: &str) -> ServiceResult<(NaiveDateTime, String)> {
    let (micros, id) = s
        .split_once('_')
        .filter(|(m, id)| {
            (1..=16).contains(&m.len())
                && (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .ok_or_else(|| ServiceError::invalid("request.invalid_cursor", "cursor 无效"))?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .ok_or_else(|| ServiceError::invalid("request.invalid_cursor", "cursor 无效"))?;
    Ok((at.naive_utc(), id.to_owned()))
}

/// The subtrees where the caller reviews or approves (403 with neither role).
fn queue_scopes(actor: &Actor) -> ServiceResult<Vec<String>> {
    actor.staff()?;
    let mut paths: Vec<String> = [Role::ClaimsReviewer, Role::FinanceApprover]
        .iter()
        .flat_map(|r| actor.scopes(*r))
        .map(|p| p.as_str().to_owned())
        .collect();
    if paths.is_empty() {
        return Err(ServiceError::forbidden(
            "auth.role_required",
            "没有执行此操作的权限",
        ));
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// Claims waiting on staff in the caller's scope, oldest first (keyset pages).
pub async fn queue(ctx: &Context, actor: &Actor, q: QueueQuery) -> ServiceResult<Page<QueueItem>> {
    let within = queue_scopes(actor)?;
    let staff_id = actor.staff_id()?;
    let page = PageRequest::new(q.cursor.clone(), q.limit)?;
    let statuses: Vec<String> = match q.status.as_deref() {
        None => WAITING.iter().map(|s| (*s).to_owned()).collect(),
        Some(s) if WAITING.contains(&s) => vec![s.to_owned()],
        Some(_) => {
            return Err(invalid_query(
                "status 须为 submitted、under_review 或 awaiting_confirmation",
            ))
        }
    };
    let amount = |s: &Option<String>| -> ServiceResult<Option<i64>> {
        s.as_deref()
            .map(|a| parse_fen(a).ok_or_else(|| invalid_query("金额须为元，最多两位小数")))
            .transpose()
    };
    let (min, max) = (amount(&q.min_amount)?, amount(&q.max_amount)?);
    let waiting_before = match q.waiting_hours {
        Some(h) if h > 8760 => return Err(invalid_query("waiting_hours 须在 0 至 8760 之间")),
        Some(h) => Some((ctx.now() - Duration::hours(i64::from(h))).naive_utc()),
        None => None,
    };
    let after = page.cursor.as_deref().map(parse_cursor).transpose()?;
    ctx.db
        .run(move |conn| -> ServiceResult<Page<QueueItem>> {
            let filter = QueueFilter {
                within: &within,
                statuses: &statuses,
                plan_code: q.plan_code.as_deref(),
                benefit_code: q.benefit_code.as_deref(),
                min_amount_fen: min,
                max_amount_fen: max,
                waiting_before,
                assigned_to: q.mine.unwrap_or(false).then_some(staff_id.as_str()),
                after: after.as_ref().map(|(at, id)| (*at, id.as_str())),
                limit: page.fetch(),
            };
            let rows = db::queue(conn, &filter)?;
            let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > page.limit;
            let items = rows
                .into_iter()
                .take(usize::try_from(page.limit).unwrap_or(0))
                .map(queue_item)
                .collect::<ServiceResult<Vec<_>>>()?;
            let next_cursor = if more {
                items.last().map(cursor_of)
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
        .await
}

/// A claim the caller may act on with `role` (403 without the role anywhere, 404 outside
/// its scope).
fn in_scope(conn: &mut DbConnection, actor: &Actor, role: Role, id: &str) -> ServiceResult<Claim> {
    authz::scopes(actor, role)?;
    let claim = db::get(conn, id)?.ok_or_else(not_found)?;
    authz::require(
        actor,
        role,
        &OrgPath::from_stored(claim.org_path.clone()),
        not_found,
    )?;
    Ok(claim)
}

/// Either role in scope (rejecting a claim awaiting confirmation is open to both).
fn in_scope_any(conn: &mut DbConnection, actor: &Actor, id: &str) -> ServiceResult<Claim> {
    let claim = db::get(conn, id)?.ok_or_else(not_found)?;
    match super::visible(actor, &claim)? {
        Viewer::Staff(_) => Ok(claim),
        Viewer::Claimant => Err(ServiceError::forbidden(
            "auth.staff_only",
            "此操作仅限工作人员",
        )),
    }
}

/// Applies a decision in one transaction: the transition, the change, the event and the
/// claimant's notice.
#[allow(clippy::too_many_arguments)]
fn decide(
    ctx: &Context,
    conn: &mut DbConnection,
    actor: &Actor,
    claim: &Claim,
    action: Action,
    verb: &str,
    name: &str,
    mut change: Change,
    reason: Option<&str>,
    note: Option<&str>,
    amount_fen: Option<i64>,
    now: DateTime<Utc>,
) -> ServiceResult<(ClaimStatus, ClaimView)> {
    let from = status_of(claim)?;
    let to = transition(from, action).map_err(|_| illegal(from, verb))?;
    change.status = Some(to.as_str().into());
    if !db::apply(conn, &claim.id, claim.revision, &change, now.naive_utc())? {
        return Err(changed_meanwhile(conn, &claim.id));
    }
    record(
        conn,
        &claim.id,
        actor,
        name,
        Some(from),
        to,
        reason,
        note,
        amount_fen,
        now,
    )?;
    let claim = db::get(conn, &claim.id)?.ok_or_else(not_found)?;
    let viewer = Viewer::Staff(actor.staff_id()?);
    let view = view(ctx, conn, &claim, &viewer, china_date(now))?;
    Ok((to, view))
}

/// Tells the claimant of a decision (the benefit's name from the claim as just shown).
fn tell_claimant(
    conn: &mut DbConnection,
    view: &ClaimView,
    claimant_id: &str,
    category: Category,
    detail: (&str, String),
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut params = json!({"claim_id": view.id, "benefit": view.benefit_name});
    params[detail.0] = json!(detail.1);
    notify(conn, claimant_id, category, params, now)?;
    Ok(())
}

/// Takes a claim (a submitted one, or over from another reviewer).
pub async fn assign(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<ClaimView> {
    let staff_id = actor.staff_id()?;
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimView> {
                let claim = in_scope(conn, &actor, Role::ClaimsReviewer, &id)?;
                let change = Change {
                    assigned_to: Some(Some(staff_id.clone())),
                    ..Change::default()
                };
                let (_, view) = decide(
                    &ctx2,
                    conn,
                    &actor,
                    &claim,
                    Action::Assign,
                    "开始审核",
                    "assign",
                    change,
                    None,
                    None,
                    None,
                    now,
                )?;
                Ok(view)
            })
        })
        .await
}

/// Returns a claim for more documents or corrections, with every reason.
pub async fn return_claim(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: ReturnBody,
) -> ServiceResult<ClaimView> {
    if body.reasons.is_empty() || body.reasons.len() > 6 {
        return Err(ServiceError::invalid(
            "claim.reason_required",
            "请选择 1 至 6 个退回原因",
        ));
    }
    let note = note_of(body.note)?;
    let mut reasons = body.reasons;
    reasons.dedup();
    let codes: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
    let mut sentence: Vec<&str> = reasons.iter().map(|r| r.zh()).collect();
    if let Some(n) = &note {
        sentence.push(n);
    }
    let (codes, sentence) = (codes.join(","), sentence.join("；"));
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimView> {
                let claim = in_scope(conn, &actor, Role::ClaimsReviewer, &id)?;
                let change = Change {
                    waiting_since: Some(None),
                    ..Change::default()
                };
                let (_, view) = decide(
                    &ctx2,
                    conn,
                    &actor,
                    &claim,
                    Action::Return,
                    "退回",
                    "return",
                    change,
                    Some(&codes),
                    note.as_deref(),
                    None,
                    now,
                )?;
                tell_claimant(
                    conn,
                    &view,
                    &claim.claimant_id,
                    Category::ClaimReturned,
                    ("reason", sentence),
                    now,
                )?;
                Ok(view)
            })
        })
        .await
}

/// Approves a claim in review: the computed amount or a lower one with a reason. Above
/// the confirm threshold it awaits a finance approver's confirmation.
pub async fn approve(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: ApproveBody,
) -> ServiceResult<ClaimView> {
    let staff_id = actor.staff_id()?;
    let note = note_of(body.note)?;
    let asked = body
        .amount
        .as_deref()
        .map(|a| {
            parse_fen(a).ok_or_else(|| {
                ServiceError::invalid("claim.invalid_amount", "金额须为元，最多两位小数")
            })
        })
        .transpose()?;
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimView> {
                let claim = in_scope(conn, &actor, Role::ClaimsReviewer, &id)?;
                let computed = claim.amount_fen.unwrap_or(0);
                let amount = asked.unwrap_or(computed);
                if amount > computed {
                    return Err(ServiceError::rule(
                        "claim.amount_above_computed",
                        format!("批准金额不能超过按规则计算的 {} 元", from_fen(computed)),
                    ));
                }
                if amount < computed && body.reason_code.is_none() {
                    return Err(ServiceError::rule(
                        "claim.reason_required",
                        "批准金额低于计算金额时，请选择原因",
                    ));
                }
                let threshold = threshold_for(conn, &claim.org_path)?;
                let needs = rules::needs_confirmation(amount, threshold);
                let change = Change {
                    approved_fen: Some(Some(amount)),
                    approved_by: Some(Some(staff_id.clone())),
                    waiting_since: Some(needs.then_some(now.naive_utc())),
                    decided_at: Some((!needs).then_some(now.naive_utc())),
                    ..Change::default()
                };
                let reason = body.reason_code.map(|r| r.as_str());
                let (to, view) = decide(
                    &ctx2,
                    conn,
                    &actor,
                    &claim,
                    Action::Approve {
                        needs_confirmation: needs,
                    },
                    "批准",
                    "approve",
                    change,
                    reason,
                    note.as_deref(),
                    Some(amount),
                    now,
                )?;
                if to == ClaimStatus::Approved {
                    notify_approved(conn, &view, &claim.claimant_id, amount, now)?;
                    crate::payouts::open_for_claim(&ctx2, conn, &claim, amount, now)?;
                }
                Ok(view)
            })
        })
        .await
}

fn notify_approved(
    conn: &mut DbConnection,
    view: &ClaimView,
    claimant_id: &str,
    amount: i64,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let amount = from_fen(amount).to_string();
    tell_claimant(
        conn,
        view,
        claimant_id,
        Category::ClaimApproved,
        ("amount", amount),
        now,
    )
}

/// Confirms a large approval: a finance approver in scope who is not the approver.
pub async fn confirm(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: ConfirmBody,
) -> ServiceResult<ClaimView> {
    let staff_id = actor.staff_id()?;
    let note = note_of(body.note)?;
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimView> {
                let claim = in_scope(conn, &actor, Role::FinanceApprover, &id)?;
                let approver = claim.approved_by.clone().unwrap_or_default();
                if status_of(&claim)? == ClaimStatus::AwaitingConfirmation
                    && !rules::may_confirm(&approver, &staff_id)
                {
                    return Err(ServiceError::forbidden(
                        "claim.same_person",
                        "批准人不能复核自己批准的理赔：请由另一位财务审批人复核",
                    ));
                }
                let change = Change {
                    confirmed_by: Some(Some(staff_id.clone())),
                    waiting_since: Some(None),
                    decided_at: Some(Some(now.naive_utc())),
                    ..Change::default()
                };
                let amount = claim.approved_fen;
                let (_, view) = decide(
                    &ctx2,
                    conn,
                    &actor,
                    &claim,
                    Action::Confirm,
                    "复核",
                    "confirm",
                    change,
                    None,
                    note.as_deref(),
                    amount,
                    now,
                )?;
                let amount = amount.unwrap_or(0);
                notify_approved(conn, &view, &claim.claimant_id, amount, now)?;
                crate::payouts::open_for_claim(&ctx2, conn, &claim, amount, now)?;
                Ok(view)
            })
        })
        .await
}

/// Rejects a claim in review (a reviewer) or awaiting confirmation (a reviewer or a
/// finance approver), with a reason code. Its invoices are free again.
pub async fn reject(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: RejectBody,
) -> ServiceResult<ClaimView> {
    let note = note_of(body.note)?;
    let reason = body.reason_code;
    let mut sentence = reason.zh().to_owned();
    if let Some(n) = &note {
        sentence.push_str(&format!("（{n}）"));
    }
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimView> {
                let claim = in_scope_any(conn, &actor, &id)?;
                let path = OrgPath::from_stored(claim.org_path.clone());
                let may = match status_of(&claim)? {
                    ClaimStatus::AwaitingConfirmation => {
                        actor.holds(Role::ClaimsReviewer, &path)
                            || actor.holds(Role::FinanceApprover, &path)
                    }
                    _ => actor.holds(Role::ClaimsReviewer, &path),
                };
                if !may {
                    return Err(ServiceError::forbidden(
                        "auth.role_required",
                        "没有执行此操作的权限",
                    ));
                }
                let change = Change {
                    waiting_since: Some(None),
                    decided_at: Some(Some(now.naive_utc())),
                    ..Change::default()
                };
                let (_, view) = decide(
                    &ctx2,
                    conn,
                    &actor,
                    &claim,
                    Action::Reject,
                    "拒绝",
                    "reject",
                    change,
                    Some(reason.as_str()),
                    note.as_deref(),
                    None,
                    now,
                )?;
                db::release_invoices(conn, &claim.id)?;
                tell_claimant(
                    conn,
                    &view,
                    &claim.claimant_id,
                    Category::ClaimRejected,
                    ("reason", sentence),
                    now,
                )?;
                Ok(view)
            })
        })
        .await
}

/// An org's confirm threshold.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimSettingsView {
    pub org_id: String,
    /// Approvals above this amount need a finance approver's confirmation.
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")]
    pub confirm_threshold: String,
    /// Whether this org has its own setting (otherwise the nearest ancestor's, or the
    /// default 10000.00, applies).
    pub own_setting: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimSettingsBody {
    /// Yuan; approvals strictly above it need confirmation.
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$")]
    pub confirm_threshold: String,
}

fn settings_view(
    conn: &mut DbConnection,
    org: &gongyou_db::orgs::Org,
) -> ServiceResult<ClaimSettingsView> {
    Ok(ClaimSettingsView {
        org_id: org.id.clone(),
        confirm_threshold: from_fen(threshold_for(conn, &org.path)?).to_string(),
        own_setting: db::threshold_of(conn, &org.id)?.is_some(),
    })
}

/// The confirm threshold that applies to an org (union admins in scope).
pub async fn claim_settings(
    ctx: &Context,
    actor: &Actor,
    org_id: String,
) -> ServiceResult<ClaimSettingsView> {
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<ClaimSettingsView> {
            let org = authz::org_in_scope(conn, &actor, Role::UnionAdmin, &org_id)?;
            settings_view(conn, &org)
        })
        .await
}

/// Sets an org's confirm threshold (its subtree inherits it unless a nearer org sets one).
pub async fn put_claim_settings(
    ctx: &Context,
    actor: &Actor,
    org_id: String,
    body: ClaimSettingsBody,
) -> ServiceResult<ClaimSettingsView> {
    let fen = parse_fen(&body.confirm_threshold)
        .ok_or_else(|| ServiceError::invalid("claim.invalid_amount", "金额须为元，最多两位小数"))?;
    let staff_id = actor.staff_id()?;
    let now = ctx.now().naive_utc();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimSettingsView> {
                let org = authz::org_in_scope(conn, &actor, Role::UnionAdmin, &org_id)?;
                db::set_threshold(conn, &org.id, fen, &staff_id, now)?;
                settings_view(conn, &org)
            })
        })
        .await
}

/// Reminds the staff who can act on claims that have waited longer than
/// `GONGYOU_CLAIM_REVIEW_REMIND_HOURS` (reviewers; finance approvers for those awaiting
/// confirmation), one staff notice each with the count and the oldest, at most once a day
/// per claim. Returns the claims reminded of.
pub async fn remind_overdue(ctx: &Context) -> ServiceResult<usize> {
    let now = ctx.now();
    let hours = i64::from(ctx.config.claim_review_remind_hours);
    let before = (now - Duration::hours(hours)).naive_utc();
    let reminded_before = (now - Duration::hours(24)).naive_utc();
    let staff_channels = StaffChannels::of(ctx);
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<usize> {
                let overdue = db::overdue(conn, before, reminded_before, 1000)?;
                let mut per_staff: std::collections::BTreeMap<String, (usize, NaiveDateTime)> =
                    std::collections::BTreeMap::new();
                for c in &overdue {
                    let role = if c.status == ClaimStatus::AwaitingConfirmation.as_str() {
                        Role::FinanceApprover
                    } else {
                        Role::ClaimsReviewer
                    };
                    let since = c.waiting_since.unwrap_or(before);
                    for staff in db::staff_over(conn, role.as_str(), &c.org_path)? {
                        let entry = per_staff.entry(staff).or_insert((0, since));
                        entry.0 += 1;
                        entry.1 = entry.1.min(since);
                    }
                }
                for (staff, (count, oldest)) in &per_staff {
                    let oldest = gongyou_domain::time::china_local(oldest.and_utc())
                        .format("%Y-%m-%d %H:%M")
                        .to_string();
                    notify_staff(
                        conn,
                        staff_channels,
                        staff,
                        Category::ClaimReviewOverdue,
                        json!({"count": count.to_string(), "hours": hours.to_string(), "oldest": oldest}),
                        now,
                    )?;
                }
                let ids: Vec<String> = overdue.iter().map(|c| c.id.clone()).collect();
                db::mark_reminded(conn, &ids, now.naive_utc())?;
                Ok(ids.len())
            })
        })
        .await
}
