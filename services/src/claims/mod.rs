//! Benefit claims (理赔, ADR 018): a member files a claim on one of their enrollments and
//! one benefit item, adds documents and a payee, and submits; the rules of
//! [`gongyou_domain::claim`] run at once and every failure is told; claims reviewers of the
//! claimant's union (frozen at filing) return, approve or reject; large approvals need a
//! finance approver who is not the approver. Every transition is an event.

mod documents;
mod filing;
mod review;

pub use documents::{
    delete_document, document, document_missing, document_too_large, may_upload, upload_document,
    DocumentContent,
};
pub use filing::{
    claim, claim_events, create_claim, edit_claim, my_claims, resubmit, submit, withdraw,
    ClaimBody, IncidentBody, PayeeBody, PayeeKind,
};
pub use review::{
    approve, assign, claim_settings, confirm, put_claim_settings, queue, reject, remind_overdue,
    return_claim, ApproveBody, ClaimSettingsBody, ClaimSettingsView, ConfirmBody, QueueQuery,
    RejectBody, RejectReason, ReturnBody, ReturnReason, ReviewNoteReason,
};

use chrono::NaiveDate;
use gongyou_db::claims::{self as db, Claim, Details, Document, Event};
use gongyou_db::plans::{self as plans_db, Enrollment};
use gongyou_db::DbConnection;
use gongyou_domain::claim::{self as rules, ClaimStatus, Cover, Failure, Incident, PriorClaim};
use gongyou_domain::money::from_fen;
use gongyou_domain::org::OrgPath;
use gongyou_domain::plan::{Benefit, DocumentKind, IncidentType, Payout};
use gongyou_domain::staff::Role;
use serde::Serialize;
use utoipa::ToSchema;

use crate::actor::{Actor, Subject};
use crate::error::{ServiceError, ServiceResult};
use crate::plans::terms::BenefitKind;
use crate::Context;

pub(crate) fn not_found() -> ServiceError {
    ServiceError::not_found("claim.not_found", "理赔申请不存在")
}

fn internal(what: &str) -> ServiceError {
    ServiceError::internal(anyhow::anyhow!("claim storage: {what}"))
}

/// The zh-CN name of a status.
pub fn status_zh(s: ClaimStatus) -> &'static str {
    match s {
        ClaimStatus::Draft => "草稿",
        ClaimStatus::Submitted => "已提交",
        ClaimStatus::UnderReview => "审核中",
        ClaimStatus::Returned => "已退回补充材料",
        ClaimStatus::AwaitingConfirmation => "待复核",
        ClaimStatus::Approved => "已通过",
        ClaimStatus::Rejected => "未通过",
        ClaimStatus::Withdrawn => "已撤回",
        ClaimStatus::Paid => "已支付",
        ClaimStatus::PayoutFailed => "支付失败",
    }
}

pub(crate) fn status_of(c: &Claim) -> ServiceResult<ClaimStatus> {
    ClaimStatus::parse(&c.status).ok_or_else(|| internal("unknown status"))
}

/// 409 for an action the claim's state does not allow, naming the state.
pub(crate) fn illegal(status: ClaimStatus, what: &str) -> ServiceError {
    ServiceError::conflict(
        "claim.illegal_transition",
        format!("理赔申请当前状态为“{}”，不能{what}", status_zh(status)),
    )
    .with_errors(serde_json::json!({ "status": status.as_str() }))
}

/// 409 when another change won the race.
pub(crate) fn changed_meanwhile(conn: &mut DbConnection, id: &str) -> ServiceError {
    let status = db::get(conn, id)
        .ok()
        .flatten()
        .and_then(|c| ClaimStatus::parse(&c.status));
    let mut e = ServiceError::conflict("claim.changed", "理赔申请刚被他人处理，请刷新后查看");
    if let Some(s) = status {
        e = e.with_errors(serde_json::json!({ "status": s.as_str() }));
    }
    e
}

/// Sealed text as stored: `key_id:ciphertext`, bound to the claim and the field.
pub(crate) fn seal(
    ctx: &Context,
    claim_id: &str,
    field: &str,
    text: &str,
) -> ServiceResult<String> {
    ctx.crypto
        .seal_text(text, &format!("claim:{claim_id}:{field}"))
        .map_err(ServiceError::internal)
}

pub fn unseal(ctx: &Context, claim_id: &str, field: &str, stored: &str) -> ServiceResult<String> {
    ctx.crypto
        .unseal_text(stored, &format!("claim:{claim_id}:{field}"))
        .map_err(ServiceError::internal)
}

fn date(s: &str) -> ServiceResult<NaiveDate> {
    gongyou_domain::time::parse_date(s).map_err(|_| internal("bad date"))
}

fn opt_date(s: Option<&str>) -> ServiceResult<Option<NaiveDate>> {
    s.map(date).transpose()
}

pub fn invoice_list(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The incident as the rules see it.
pub(crate) fn incident_of(c: &Claim, d: &Details) -> ServiceResult<Incident> {
    Ok(Incident {
        kind: IncidentType::parse(&c.incident_type).ok_or_else(|| internal("incident type"))?,
        occurred_on: date(&c.occurred_on)?,
        admitted_on: opt_date(c.admitted_on.as_deref())?,
        discharged_on: opt_date(c.discharged_on.as_deref())?,
        claimed_cost_fen: c.claimed_cost_fen,
        invoice_numbers: invoice_list(&d.invoice_numbers),
    })
}

/// A claim's enrollment and benefit item, with the item's terms.
pub(crate) struct Covered {
    pub enrollment: Enrollment,
    pub plan_name: String,
    pub benefit: Benefit,
}

pub(crate) fn covered(conn: &mut DbConnection, c: &Claim) -> ServiceResult<Covered> {
    let enrollment =
        plans_db::enrollment(conn, &c.enrollment_id)?.ok_or_else(|| internal("enrollment"))?;
    let plan = plans_db::plan(conn, &c.plan_code)?.ok_or_else(|| internal("plan"))?;
    let loaded = crate::plans::load_version(conn, &plan, c.plan_version)?;
    let benefit = loaded
        .benefits
        .into_iter()
        .find(|b| b.code == c.benefit_code)
        .ok_or_else(|| internal("benefit item"))?;
    Ok(Covered {
        enrollment,
        plan_name: loaded.version.name,
        benefit,
    })
}

pub(crate) fn cover_of(k: &Covered) -> ServiceResult<Cover> {
    Ok(Cover {
        effective_from: date(&k.enrollment.effective_from)?,
        effective_to: date(&k.enrollment.effective_to)?,
        benefit: k.benefit.clone(),
    })
}

/// The claimant's claims as the limits see them.
pub fn prior_claims(conn: &mut DbConnection, claimant_id: &str) -> ServiceResult<Vec<PriorClaim>> {
    let mut out = Vec::new();
    for (c, invoices) in db::all_of_claimant(conn, claimant_id)? {
        let status = status_of(&c)?;
        // What a decided claim pays is what was approved; before, what the rules computed.
        let amount = c.approved_fen.or(c.amount_fen).unwrap_or(0);
        out.push(PriorClaim {
            stay: match (
                opt_date(c.admitted_on.as_deref())?,
                opt_date(c.discharged_on.as_deref())?,
            ) {
                (Some(a), Some(d)) => Some((a, d)),
                _ => None,
            },
            days: u32::try_from(c.days.unwrap_or(0)).unwrap_or(0),
            amount_fen: amount,
            lump_sum: false,
            invoice_numbers: invoice_list(&invoices),
            id: c.id,
            status,
            enrollment_id: c.enrollment_id,
            benefit_code: c.benefit_code,
        });
    }
    Ok(out)
}

/// Marks the lump sums among `prior` (a claim on a lump-sum item pays it once).
pub fn mark_lump_sums(prior: &mut [PriorClaim], benefit: &Benefit) {
    if matches!(benefit.payout, Payout::LumpSum { .. }) {
        for p in prior.iter_mut() {
            p.lump_sum = true;
        }
    }
}

/// Who may see a claim: its claimant, and claims reviewers and finance approvers whose
/// scope holds the claim's org (frozen at filing). Other staff with neither role get 403;
/// a worker or staff out of scope, 404.
pub(crate) fn visible(actor: &Actor, c: &Claim) -> ServiceResult<Viewer> {
    match actor.subject() {
        Subject::User { id, .. } => {
            if *id == c.claimant_id {
                Ok(Viewer::Claimant)
            } else {
                Err(not_found())
            }
        }
        Subject::Staff { id, .. } => {
            let path = OrgPath::from_stored(c.org_path.clone());
            let roles = [Role::ClaimsReviewer, Role::FinanceApprover];
            if roles.iter().all(|r| actor.scopes(*r).is_empty()) {
                return Err(ServiceError::forbidden(
                    "auth.role_required",
                    "没有执行此操作的权限",
                ));
            }
            if roles.iter().any(|r| actor.holds(*r, &path)) {
                Ok(Viewer::Staff(id.clone()))
            } else {
                Err(not_found())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Viewer {
    Claimant,
    Staff(String),
}

/// Where the money goes, as shown (the account masked).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayeeView {
    pub kind: PayeeKind,
    /// The account holder's name (bank), masked for staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub holder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub bank: Option<String>,
    /// The account number's first and last four digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub account_masked: Option<String>,
}

/// The incident as filed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentView {
    #[serde(rename = "type")]
    pub kind: IncidentType,
    #[schema(format = Date)]
    pub occurred_on: String,
    pub place: String,
    #[schema(format = Date)]
    pub admitted_on: Option<String>,
    #[schema(format = Date)]
    pub discharged_on: Option<String>,
    /// Null after the claimant's data was erased.
    pub hospital: Option<String>,
    pub diagnosis: Option<String>,
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")]
    pub claimed_cost: Option<String>,
    /// As compared: full-width made ASCII, separators dropped, upper-case.
    pub invoice_numbers: Vec<String>,
}

/// A document of a claim.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: String,
    pub kind: DocumentKind,
    /// `image/jpeg`, `image/png` or `application/pdf`.
    pub content_type: String,
    pub bytes: i64,
    pub uploaded_at: chrono::DateTime<chrono::Utc>,
    /// Where to fetch it (with the same bearer token).
    pub url: String,
}

/// Something the claim still lacks, or a rule it fails: a stable code and a zh-CN sentence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MissingItem {
    /// `incident_in_future`, `not_covered_on_incident_date`, `waiting_period`,
    /// `stay_invalid`, `stay_before_incident`, `stay_not_over`, `stay_overlaps`,
    /// `stay_incomplete`, `stay_missing`, `document_missing`, `days_exhausted`,
    /// `lump_sum_claimed`, `yearly_cap_reached`, `invoice_claimed`,
    /// `invoice_numbers_missing`, `cost_missing`, `payee_missing`,
    /// `payee_holder_missing`, `payee_bank_missing`, `payee_wechat_unlinked`,
    /// `hospital_missing`, `diagnosis_missing`.
    pub code: String,
    pub detail: String,
    /// The document kind or invoice number it is about, when the code can repeat.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub subject: Option<String>,
}

pub(crate) fn missing_view(failures: Vec<Failure>) -> Vec<MissingItem> {
    failures
        .into_iter()
        .map(|f| MissingItem {
            code: f.code.to_owned(),
            detail: f.detail,
            subject: f.subject,
        })
        .collect()
}

/// A staff read of a document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentReadView {
    pub document_id: String,
    pub staff_id: String,
    pub read_at: chrono::DateTime<chrono::Utc>,
}

/// A claim as its claimant and the staff in scope see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimView {
    pub id: String,
    pub status: ClaimStatus,
    /// The status in zh-CN, as the app shows it.
    pub status_text: String,
    pub enrollment_id: String,
    pub certificate_no: String,
    pub plan_code: String,
    pub plan_version: i32,
    pub plan_name: String,
    pub benefit_code: String,
    pub benefit_name: String,
    pub benefit_kind: BenefitKind,
    pub incident: IncidentView,
    pub payee: Option<PayeeView>,
    pub documents: Vec<DocumentView>,
    /// What the claim still lacks before it can be submitted (drafts and returned claims),
    /// item by item; empty once submitted.
    pub missing: Vec<MissingItem>,
    /// Days of allowance the claim pays (daily allowances).
    pub days: Option<u32>,
    /// What the claim pays by the rules: an estimate while a draft, computed at submission.
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")]
    pub amount: Option<String>,
    /// What was approved (at most `amount`).
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")]
    pub approved_amount: Option<String>,
    /// Changes with every change of the claim.
    pub revision: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Staff only: the union the claim belongs to, who holds it, who decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub staff: Option<StaffClaimView>,
}

/// What staff see besides the claim.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffClaimView {
    pub org_id: String,
    pub claimant_id: String,
    pub assigned_to: Option<String>,
    pub approved_by: Option<String>,
    pub confirmed_by: Option<String>,
    pub waiting_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether an approval of `amount` needs a finance approver's confirmation.
    pub needs_confirmation: bool,
    /// The confirm threshold that applies (the nearest org's setting).
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")]
    pub confirm_threshold: String,
    /// The latest staff reads of the claim's documents.
    pub document_reads: Vec<DocumentReadView>,
}

/// One claim in the review queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueItem {
    pub id: String,
    pub status: ClaimStatus,
    pub org_id: String,
    pub plan_code: String,
    pub benefit_code: String,
    pub incident_type: IncidentType,
    #[schema(format = Date)]
    pub occurred_on: String,
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")]
    pub amount: Option<String>,
    pub assigned_to: Option<String>,
    pub waiting_since: chrono::DateTime<chrono::Utc>,
    pub revision: i32,
}

/// An event of a claim's trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// `worker`, `staff` or `system`.
    pub actor_kind: String,
    /// The staff member's id (staff viewers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub actor_id: Option<String>,
    /// `create`, `submit`, `resubmit`, `assign`, `return`, `approve`, `confirm`, `reject`,
    /// `withdraw`.
    pub action: String,
    pub from_status: Option<ClaimStatus>,
    pub to_status: ClaimStatus,
    pub reason_code: Option<String>,
    pub note: Option<String>,
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")]
    pub amount: Option<String>,
    /// What happened, in zh-CN.
    pub text: String,
}

pub fn money(fen: Option<i64>) -> Option<String> {
    fen.map(|f| from_fen(f).to_string())
}

fn utc(t: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    t.and_utc()
}

pub(crate) fn document_view(d: &Document) -> ServiceResult<DocumentView> {
    Ok(DocumentView {
        id: d.id.clone(),
        kind: DocumentKind::parse(&d.kind).ok_or_else(|| internal("document kind"))?,
        content_type: d.content_type.clone(),
        bytes: d.bytes,
        uploaded_at: utc(d.uploaded_at),
        url: format!("/api/v1/claims/{}/documents/{}", d.claim_id, d.id),
    })
}

/// The confirm threshold of the org at `org_path`: the nearest ancestor's setting, or the
/// default (10,000.00).
pub(crate) fn threshold_for(conn: &mut DbConnection, org_path: &str) -> ServiceResult<i64> {
    Ok(db::thresholds(conn)?
        .into_iter()
        .filter(|(_, path, _)| org_path.starts_with(path.as_str()))
        .max_by_key(|(_, path, _)| path.len())
        .map_or(rules::DEFAULT_CONFIRM_THRESHOLD_FEN, |(_, _, fen)| fen))
}

/// Failures of the details the rules of the domain do not see: the hospital and diagnosis
/// of a stay, and a WeChat payee without a linked WeChat account.
pub(crate) fn detail_failures(
    ctx: &Context,
    conn: &mut DbConnection,
    c: &Claim,
    d: &Details,
) -> ServiceResult<Vec<Failure>> {
    let mut out = Vec::new();
    let fail = |code: &'static str, detail: &str| Failure {
        code,
        detail: detail.to_owned(),
        subject: None,
    };
    if c.admitted_on.is_some() && d.hospital_enc.is_none() {
        out.push(fail("hospital_missing", "请填写就诊医院"));
    }
    if c.admitted_on.is_some() && d.diagnosis_enc.is_none() {
        out.push(fail("diagnosis_missing", "请填写诊断结果"));
    }
    let payee = payee_of(ctx, c, d)?;
    out.extend(rules::payee_failures(payee.as_ref()));
    if payee == Some(rules::Payee::WechatBalance) {
        let linked = gongyou_db::accounts::user(conn, &c.claimant_id)?
            .is_some_and(|u| u.wechat_openid.is_some());
        if !linked {
            out.push(fail(
                "payee_wechat_unlinked",
                "您的账号还没有绑定微信，无法收款到微信零钱：请先在小程序中登录绑定，或改用银行卡",
            ));
        }
    }
    Ok(out)
}

pub(crate) fn payee_of(
    ctx: &Context,
    c: &Claim,
    d: &Details,
) -> ServiceResult<Option<rules::Payee>> {
    Ok(match c.payee_kind.as_deref() {
        Some("wechat_balance") => Some(rules::Payee::WechatBalance),
        Some("bank") => Some(rules::Payee::Bank {
            holder: match &d.payee_holder_enc {
                Some(s) => unseal(ctx, &c.id, "payee_holder", s)?,
                None => String::new(),
            },
            bank: d.payee_bank.clone().unwrap_or_default(),
            account: match &d.payee_account_enc {
                Some(s) => unseal(ctx, &c.id, "payee_account", s)?,
                None => String::new(),
            },
        }),
        _ => None,
    })
}

/// Every rule and detail the claim fails as it stands, and the amount it would pay.
pub(crate) fn evaluate(
    ctx: &Context,
    conn: &mut DbConnection,
    c: &Claim,
    d: &Details,
    k: &Covered,
    today: NaiveDate,
) -> ServiceResult<rules::Assessment> {
    let mut prior = prior_claims(conn, &c.claimant_id)?;
    mark_lump_sums(&mut prior, &k.benefit);
    let used = rules::used_by(&prior, &c.id, &c.enrollment_id, &c.benefit_code);
    let kinds: Vec<DocumentKind> = db::documents(conn, &c.id)?
        .iter()
        .filter_map(|doc| DocumentKind::parse(&doc.kind))
        .collect();
    let incident = incident_of(c, d)?;
    let mut assessment = rules::assess(&incident, &kinds, &cover_of(k)?, &used, today);
    // Invoices held by anyone else's claims (the domain saw only this member's).
    let numbers = invoice_list(&d.invoice_numbers);
    for taken in db::invoices_taken(conn, &numbers, &c.id)? {
        let already = assessment
            .failures
            .iter()
            .any(|f| f.code == "invoice_claimed" && f.subject.as_deref() == Some(taken.as_str()));
        if !already {
            assessment.failures.push(Failure {
                code: "invoice_claimed",
                detail: format!("发票 {taken} 已经申请过，同一张发票只能报销一次"),
                subject: Some(taken),
            });
        }
    }
    assessment
        .failures
        .extend(detail_failures(ctx, conn, c, d)?);
    Ok(assessment)
}

fn mask_holder(holder: &str) -> String {
    gongyou_domain::membership::mask_name(holder)
}

/// The claim as `viewer` sees it.
pub(crate) fn view(
    ctx: &Context,
    conn: &mut DbConnection,
    c: &Claim,
    viewer: &Viewer,
    today: NaiveDate,
) -> ServiceResult<ClaimView> {
    let d = db::details(conn, &c.id)?.ok_or_else(|| internal("details"))?;
    let k = covered(conn, c)?;
    let status = status_of(c)?;
    let erased = d.erased_at.is_some();
    let (missing, estimate) =
        if matches!(status, ClaimStatus::Draft | ClaimStatus::Returned) && !erased {
            let a = evaluate(ctx, conn, c, &d, &k, today)?;
            (missing_view(a.failures), Some((a.days, a.amount_fen)))
        } else {
            (Vec::new(), None)
        };
    let open = |field: &str, stored: &Option<String>| -> ServiceResult<Option<String>> {
        stored
            .as_deref()
            .map(|s| unseal(ctx, &c.id, field, s))
            .transpose()
    };
    let payee = match c.payee_kind.as_deref() {
        Some("wechat_balance") => Some(PayeeView {
            kind: PayeeKind::WechatBalance,
            holder: None,
            bank: None,
            account_masked: None,
        }),
        Some("bank") => {
            let holder = open("payee_holder", &d.payee_holder_enc)?;
            Some(PayeeView {
                kind: PayeeKind::Bank,
                holder: holder.map(|h| match viewer {
                    Viewer::Claimant => h,
                    Viewer::Staff(_) => mask_holder(&h),
                }),
                bank: d.payee_bank.clone(),
                account_masked: d.payee_account_masked.clone(),
            })
        }
        _ => None,
    };
    let documents = db::documents(conn, &c.id)?
        .iter()
        .filter(|doc| doc.erased_at.is_none())
        .map(document_view)
        .collect::<ServiceResult<Vec<_>>>()?;
    let (days, amount) = match estimate {
        Some((days, fen)) => (days, Some(fen)),
        None => (c.days.and_then(|d| u32::try_from(d).ok()), c.amount_fen),
    };
    let staff = match viewer {
        Viewer::Claimant => None,
        Viewer::Staff(_) => {
            let threshold = threshold_for(conn, &c.org_path)?;
            let reads = db::reads(conn, &c.id)?
                .into_iter()
                .map(|r| DocumentReadView {
                    document_id: r.document_id,
                    staff_id: r.staff_id,
                    read_at: utc(r.read_at),
                })
                .collect();
            Some(StaffClaimView {
                org_id: c.org_id.clone(),
                claimant_id: c.claimant_id.clone(),
                assigned_to: c.assigned_to.clone(),
                approved_by: c.approved_by.clone(),
                confirmed_by: c.confirmed_by.clone(),
                waiting_since: c.waiting_since.map(utc),
                needs_confirmation: rules::needs_confirmation(
                    c.approved_fen.or(c.amount_fen).unwrap_or(0),
                    threshold,
                ),
                confirm_threshold: from_fen(threshold).to_string(),
                document_reads: reads,
            })
        }
    };
    Ok(ClaimView {
        id: c.id.clone(),
        status,
        status_text: status_zh(status).to_owned(),
        enrollment_id: c.enrollment_id.clone(),
        certificate_no: k.enrollment.certificate_no.clone(),
        plan_code: c.plan_code.clone(),
        plan_version: c.plan_version,
        plan_name: k.plan_name.clone(),
        benefit_code: c.benefit_code.clone(),
        benefit_name: k.benefit.name.clone(),
        benefit_kind: crate::plans::terms::benefit_terms(&k.benefit).kind,
        incident: IncidentView {
            kind: IncidentType::parse(&c.incident_type).ok_or_else(|| internal("incident type"))?,
            occurred_on: c.occurred_on.clone(),
            place: d.place.clone(),
            admitted_on: c.admitted_on.clone(),
            discharged_on: c.discharged_on.clone(),
            hospital: open("hospital", &d.hospital_enc)?,
            diagnosis: open("diagnosis", &d.diagnosis_enc)?,
            claimed_cost: money(c.claimed_cost_fen),
            invoice_numbers: invoice_list(&d.invoice_numbers),
        },
        payee,
        documents,
        missing,
        days,
        amount: money(amount),
        approved_amount: money(c.approved_fen),
        revision: c.revision,
        created_at: utc(c.created_at),
        submitted_at: c.submitted_at.map(utc),
        decided_at: c.decided_at.map(utc),
        staff,
    })
}

pub(crate) fn queue_item(c: Claim) -> ServiceResult<QueueItem> {
    Ok(QueueItem {
        status: status_of(&c)?,
        incident_type: IncidentType::parse(&c.incident_type)
            .ok_or_else(|| internal("incident type"))?,
        waiting_since: c
            .waiting_since
            .map(utc)
            .ok_or_else(|| internal("queue without waiting_since"))?,
        amount: money(c.amount_fen),
        id: c.id,
        org_id: c.org_id,
        plan_code: c.plan_code,
        benefit_code: c.benefit_code,
        occurred_on: c.occurred_on,
        assigned_to: c.assigned_to,
        revision: c.revision,
    })
}

fn event_text(e: &Event) -> String {
    let to = ClaimStatus::parse(&e.to_status).map_or("", status_zh);
    match e.action.as_str() {
        "create" => "创建了理赔申请".to_owned(),
        "submit" => "提交了理赔申请".to_owned(),
        "resubmit" => "补充材料后重新提交".to_owned(),
        "assign" => "审核员开始审核".to_owned(),
        "return" => "退回补充材料".to_owned(),
        "approve" if to == status_zh(ClaimStatus::AwaitingConfirmation) => {
            "审核通过，金额较大，等待复核".to_owned()
        }
        "approve" => "审核通过".to_owned(),
        "confirm" => "复核通过".to_owned(),
        "reject" => "审核未通过".to_owned(),
        "withdraw" => "撤回了理赔申请".to_owned(),
        other => format!("{other}：{to}"),
    }
}

pub(crate) fn event_view(e: Event, viewer: &Viewer) -> EventView {
    let text = event_text(&e);
    EventView {
        id: e.id,
        at: utc(e.at),
        actor_kind: e.actor_kind,
        actor_id: match viewer {
            Viewer::Staff(_) => e.actor_id,
            Viewer::Claimant => None,
        },
        action: e.action,
        from_status: e.from_status.as_deref().and_then(ClaimStatus::parse),
        to_status: ClaimStatus::parse(&e.to_status).unwrap_or(ClaimStatus::Draft),
        reason_code: e.reason_code,
        note: e.note,
        amount: money(e.amount_fen),
        text,
    }
}

/// Records a transition.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    conn: &mut DbConnection,
    claim_id: &str,
    actor: &Actor,
    action: &str,
    from: Option<ClaimStatus>,
    to: ClaimStatus,
    reason_code: Option<&str>,
    note: Option<&str>,
    amount_fen: Option<i64>,
    now: chrono::DateTime<chrono::Utc>,
) -> ServiceResult<()> {
    let (kind, id) = match actor.subject() {
        Subject::User { id, .. } => ("worker", id.clone()),
        Subject::Staff { id, .. } => ("staff", id.clone()),
    };
    db::insert_event(
        conn,
        &Event {
            id: gongyou_domain::id::new_id(),
            claim_id: claim_id.to_owned(),
            at: now.naive_utc(),
            actor_kind: kind.into(),
            actor_id: Some(id),
            action: action.into(),
            from_status: from.map(|s| s.as_str().to_owned()),
            to_status: to.as_str().into(),
            reason_code: reason_code.map(str::to_owned),
            note: note.map(str::to_owned),
            amount_fen,
            // Who holds the claim inside the union is the union's business.
            for_claimant: action != "assign",
        },
    )?;
    Ok(())
}

/// The name of the benefit a claim is on (for payout notices).
pub(crate) fn benefit_name(conn: &mut DbConnection, c: &Claim) -> ServiceResult<String> {
    Ok(covered(conn, c)?.benefit.name.clone())
}
