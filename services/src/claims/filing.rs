//! What a claimant does: file a draft, edit it, submit (the rules run; every failure is
//! told at once), resubmit a returned claim, withdraw before a decision, and follow it.

use chrono::NaiveDate;
use gongyou_db::claims::{self as db, Change, Claim, Details, DraftFields};
use gongyou_db::membership as mdb;
use gongyou_db::plans as plans_db;
use gongyou_db::{orgs, write_tx, DbConnection};
use gongyou_domain::claim::{self as rules, transition, Action, ClaimStatus};
use gongyou_domain::money::parse_fen;
use gongyou_domain::plan::{IncidentType, Payout};
use gongyou_domain::time::china_date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    changed_meanwhile, covered, evaluate, event_view, illegal, missing_view, not_found, record,
    seal, status_of, view, visible, ClaimView, EventView, Viewer,
};
use crate::accounts::principal::require_step_up;
use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};
use crate::text::{ClaimDiagnosis, ClaimHospital, ClaimPlace, PayeeBank, PayeeHolder};
use crate::Context;

/// Where the money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayeeKind {
    /// The WeChat balance of the member's own WeChat account (the one they sign in with).
    WechatBalance,
    /// A bank account (paid by the union's bank file).
    Bank,
}

/// The payee: the member's WeChat balance, or a bank account (setting or changing one
/// needs a fresh SMS step-up, `X-Step-Up-Token`). Its schema is written by hand below:
/// each variant refuses other properties, which the derived schema would not say.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PayeeBody {
    /// The WeChat balance of the member's own WeChat account (the one they sign in with).
    WechatBalance {},
    /// A bank account (paid by the union's bank file).
    Bank {
        holder: String,
        bank: String,
        account: String,
    },
}

impl utoipa::PartialSchema for PayeeBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
        let kind = |value: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([value.to_owned()]))
        };
        let closed = || Some(AdditionalProperties::FreeForm(false));
        let wechat = ObjectBuilder::new()
            .description(Some(
                "The WeChat balance of the member's own WeChat account (the one they sign in with).",
            ))
            .property("kind", kind("wechat_balance"))
            .required("kind")
            .additional_properties(closed());
        let bank = ObjectBuilder::new()
            .description(Some("A bank account, paid by the union's bank file."))
            .property("kind", kind("bank"))
            .property("holder", PayeeHolder::schema())
            .property("bank", PayeeBank::schema())
            .property(
                "account",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[0-9]{10,30}$"))
                    .description(Some("The account number: 10 to 30 digits.")),
            )
            .required("kind")
            .required("holder")
            .required("bank")
            .required("account")
            .additional_properties(closed());
        OneOfBuilder::new()
            .description(Some(
                "Where the money goes: `wechat_balance`, or `bank` with holder, bank and account (setting or changing a bank account needs `X-Step-Up-Token`).",
            ))
            .item(wechat)
            .item(bank)
            .into()
    }
}

impl ToSchema for PayeeBody {}

/// The incident.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentBody {
    #[serde(rename = "type")]
    pub kind: IncidentType,
    /// The day it happened (Asia/Shanghai).
    #[schema(format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub occurred_on: String,
    /// Where it happened.
    #[schema(value_type = ClaimPlace, inline)]
    pub place: String,
    /// The hospital stay, when there was one (a daily allowance needs it).
    #[schema(format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admitted_on: Option<String>,
    #[schema(format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discharged_on: Option<String>,
    /// Encrypted at rest.
    #[schema(value_type = Option<ClaimHospital>, inline, nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hospital: Option<String>,
    /// Encrypted at rest.
    #[schema(value_type = Option<ClaimDiagnosis>, inline, nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<String>,
    /// The medical cost claimed (reimbursements only), yuan.
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$", nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_cost: Option<String>,
    /// The invoices' numbers (reimbursements only).
    #[schema(max_items = 20)]
    #[serde(default)]
    pub invoice_numbers: Vec<InvoiceNumber>,
}

/// An invoice number as printed: ASCII letters and digits, spaces and hyphens (dropped
/// when compared), up to 40 characters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(value_type = String, pattern = r"^[0-9A-Za-z][0-9A-Za-z -]{0,39}$")]
pub struct InvoiceNumber(pub String);

/// A new claim, or a draft's new content (`enrollment_id` and `benefit_code` cannot change).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// One of the caller's enrollments.
    #[schema(min_length = 1, max_length = 64)]
    pub enrollment_id: String,
    /// A benefit item of the enrollment's plan version.
    #[schema(min_length = 1, max_length = 32)]
    pub benefit_code: String,
    pub incident: IncidentBody,
    /// Where the money goes; may be named later (before submitting). On an edit, absent
    /// keeps the current payee.
    #[schema(inline, nullable = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee: Option<PayeeBody>,
}

fn bad(code: &'static str, detail: impl Into<std::borrow::Cow<'static, str>>) -> ServiceError {
    ServiceError::invalid(code, detail)
}

fn parse_day(s: &str, name: &str) -> ServiceResult<NaiveDate> {
    gongyou_domain::time::parse_date(s).map_err(|_| {
        bad(
            "claim.invalid_date",
            format!("{name}须为 YYYY-MM-DD 格式的日期"),
        )
    })
}

/// The incident, checked at the edge.
struct Checked {
    kind: IncidentType,
    occurred_on: NaiveDate,
    place: String,
    admitted_on: Option<NaiveDate>,
    discharged_on: Option<NaiveDate>,
    hospital: Option<String>,
    diagnosis: Option<String>,
    claimed_cost_fen: Option<i64>,
    invoice_numbers: Vec<String>,
}

fn check_incident(i: &IncidentBody) -> ServiceResult<Checked> {
    let place = ClaimPlace::RULE
        .check(&i.place)
        .ok_or_else(|| bad("claim.invalid_place", "出险地点须为 1 至 200 个字符"))?;
    let hospital = ClaimHospital::RULE
        .check_optional(i.hospital.as_deref())
        .map_err(|_| bad("claim.invalid_hospital", "医院名称不超过 100 个字符"))?;
    let diagnosis = ClaimDiagnosis::RULE
        .check_optional(i.diagnosis.as_deref())
        .map_err(|_| bad("claim.invalid_diagnosis", "诊断不超过 500 个字符"))?;
    let claimed_cost_fen = i
        .claimed_cost
        .as_deref()
        .map(|c| {
            parse_fen(c).ok_or_else(|| {
                bad(
                    "claim.invalid_amount",
                    "金额须为元，最多两位小数，如 1280.50",
                )
            })
        })
        .transpose()?;
    if i.invoice_numbers.len() > 20 {
        return Err(bad("claim.too_many_invoices", "发票号码最多 20 个"));
    }
    let mut invoice_numbers = Vec::new();
    for n in &i.invoice_numbers {
        let valid = (1..=40).contains(&n.0.len())
            && n.0.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
        if !valid {
            return Err(bad(
                "claim.invalid_invoice_number",
                "发票号码须为 1 至 40 个字母、数字、空格或连字符，以字母或数字开头",
            ));
        }
        let normalized = rules::normalize_invoice_number(&n.0);
        if !invoice_numbers.contains(&normalized) {
            invoice_numbers.push(normalized);
        }
    }
    Ok(Checked {
        kind: i.kind,
        occurred_on: parse_day(&i.occurred_on, "出险日期")?,
        place,
        admitted_on: i
            .admitted_on
            .as_deref()
            .map(|d| parse_day(d, "入院日期"))
            .transpose()?,
        discharged_on: i
            .discharged_on
            .as_deref()
            .map(|d| parse_day(d, "出院日期"))
            .transpose()?,
        hospital,
        diagnosis,
        claimed_cost_fen,
        invoice_numbers,
    })
}

/// A payee, checked at the edge: (kind, holder, bank, account digits).
type CheckedPayee = (PayeeKind, Option<String>, Option<String>, Option<String>);

fn check_payee(p: &PayeeBody) -> ServiceResult<CheckedPayee> {
    match p {
        PayeeBody::WechatBalance {} => Ok((PayeeKind::WechatBalance, None, None, None)),
        PayeeBody::Bank {
            holder,
            bank,
            account,
        } => {
            let holder = PayeeHolder::RULE.check(holder).ok_or_else(|| {
                bad(
                    "claim.invalid_payee",
                    "请填写银行账户的户名（不超过 50 个字符）",
                )
            })?;
            let bank = PayeeBank::RULE
                .check(bank)
                .ok_or_else(|| bad("claim.invalid_payee", "请填写开户银行（不超过 60 个字符）"))?;
            if !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("claim.invalid_payee", "银行账号应为 10 到 30 位数字"));
            }
            let account = rules::parse_bank_account(account)
                .map_err(|f| bad("claim.invalid_payee", f.detail))?;
            Ok((PayeeKind::Bank, Some(holder), Some(bank), Some(account)))
        }
    }
}

/// Reimbursement figures on a claim on another kind of item are refused, not ignored.
fn check_fits(c: &Checked, payout: &Payout) -> ServiceResult<()> {
    let reimbursement = matches!(payout, Payout::Reimbursement { .. });
    if !reimbursement && (c.claimed_cost_fen.is_some() || !c.invoice_numbers.is_empty()) {
        return Err(ServiceError::rule(
            "claim.cost_not_applicable",
            "这项保障按天数或定额给付，不需要填写医疗费用和发票号码",
        ));
    }
    Ok(())
}

fn apply_details(
    ctx: &Context,
    claim_id: &str,
    c: &Checked,
    payee: Option<&CheckedPayee>,
    mut d: Details,
) -> ServiceResult<Details> {
    d.place = c.place.clone();
    d.hospital_enc = c
        .hospital
        .as_deref()
        .map(|h| seal(ctx, claim_id, "hospital", h))
        .transpose()?;
    d.diagnosis_enc = c
        .diagnosis
        .as_deref()
        .map(|h| seal(ctx, claim_id, "diagnosis", h))
        .transpose()?;
    d.invoice_numbers = c.invoice_numbers.join(",");
    if let Some((_, holder, bank, account)) = payee {
        d.payee_holder_enc = holder
            .as_deref()
            .map(|h| seal(ctx, claim_id, "payee_holder", h))
            .transpose()?;
        d.payee_bank = bank.clone();
        d.payee_account_enc = account
            .as_deref()
            .map(|a| seal(ctx, claim_id, "payee_account", a))
            .transpose()?;
        d.payee_account_masked = account.as_deref().map(rules::mask_bank_account);
    }
    Ok(d)
}

fn payee_kind_str(k: PayeeKind) -> &'static str {
    match k {
        PayeeKind::WechatBalance => "wechat_balance",
        PayeeKind::Bank => "bank",
    }
}

/// Files a draft claim on one of the caller's enrollments. Naming a bank account needs
/// `step_up` (the `X-Step-Up-Token` of this session).
pub async fn create_claim(
    ctx: &Context,
    actor: &Actor,
    body: ClaimBody,
    step_up: Option<&str>,
) -> ServiceResult<ClaimView> {
    let user_id = actor.user_id()?.to_owned();
    let checked = check_incident(&body.incident)?;
    let payee = body.payee.as_ref().map(check_payee).transpose()?;
    if matches!(payee, Some((PayeeKind::Bank, ..))) {
        require_step_up(ctx, actor, step_up.unwrap_or(""))?;
    }
    let now = ctx.now();
    let today = china_date(now);
    let (ctx2, actor2) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimView> {
                let enrollment = plans_db::enrollment(conn, &body.enrollment_id)?
                    .filter(|e| e.user_id == user_id)
                    .ok_or_else(|| {
                        ServiceError::not_found(
                            "claim.enrollment_not_found",
                            "没有找到您的这项保障",
                        )
                    })?;
                let plan = plans_db::plan(conn, &enrollment.plan_code)?
                    .ok_or_else(crate::plans::plan_not_found)?;
                let loaded = crate::plans::load_version(conn, &plan, enrollment.plan_version)?;
                let benefit = loaded
                    .benefits
                    .iter()
                    .find(|b| b.code == body.benefit_code)
                    .ok_or_else(|| {
                        ServiceError::rule(
                            "claim.benefit_not_in_plan",
                            "您参加的保障计划没有这项保障",
                        )
                    })?;
                check_fits(&checked, &benefit.payout)?;
                // The claim belongs to the claimant's union now, frozen.
                let membership = match mdb::live_membership_of_user(conn, &user_id)? {
                    Some(m) => m,
                    None => mdb::membership(conn, &enrollment.membership_id)?.ok_or_else(|| {
                        ServiceError::internal(anyhow::anyhow!(
                            "an enrollment's membership is missing"
                        ))
                    })?,
                };
                let org = orgs::get(conn, &membership.org_id)?.ok_or_else(|| {
                    ServiceError::internal(anyhow::anyhow!("a membership's org is missing"))
                })?;
                let id = gongyou_domain::id::new_id();
                let claim = Claim {
                    id: id.clone(),
                    claimant_id: user_id.clone(),
                    membership_id: membership.id.clone(),
                    org_id: org.id.clone(),
                    org_path: org.path.clone(),
                    enrollment_id: enrollment.id.clone(),
                    plan_code: enrollment.plan_code.clone(),
                    plan_version: enrollment.plan_version,
                    benefit_code: benefit.code.clone(),
                    status: ClaimStatus::Draft.as_str().into(),
                    incident_type: checked.kind.as_str().into(),
                    occurred_on: checked.occurred_on.to_string(),
                    admitted_on: checked.admitted_on.map(|d| d.to_string()),
                    discharged_on: checked.discharged_on.map(|d| d.to_string()),
                    claimed_cost_fen: checked.claimed_cost_fen,
                    days: None,
                    amount_fen: None,
                    approved_fen: None,
                    payee_kind: payee.as_ref().map(|p| payee_kind_str(p.0).to_owned()),
                    assigned_to: None,
                    approved_by: None,
                    confirmed_by: None,
                    waiting_since: None,
                    reminded_at: None,
                    submitted_at: None,
                    decided_at: None,
                    created_at: now.naive_utc(),
                    updated_at: now.naive_utc(),
                    revision: 1,
                };
                let empty = Details {
                    claim_id: id.clone(),
                    place: String::new(),
                    hospital_enc: None,
                    diagnosis_enc: None,
                    invoice_numbers: String::new(),
                    payee_holder_enc: None,
                    payee_bank: None,
                    payee_account_enc: None,
                    payee_account_masked: None,
                    erased_at: None,
                };
                let details = apply_details(&ctx2, &id, &checked, payee.as_ref(), empty)?;
                db::insert(conn, &claim, &details)?;
                record(
                    conn,
                    &id,
                    &actor2,
                    "create",
                    None,
                    ClaimStatus::Draft,
                    None,
                    None,
                    None,
                    now,
                )?;
                view(&ctx2, conn, &claim, &Viewer::Claimant, today)
            })
        })
        .await
}

/// The caller's own claim (404 for anyone else's).
fn own(conn: &mut DbConnection, user_id: &str, id: &str) -> ServiceResult<Claim> {
    db::get(conn, id)?
        .filter(|c| c.claimant_id == user_id)
        .ok_or_else(not_found)
}

/// Rewrites a draft or a returned claim (the enrollment and benefit item stay; a body
/// naming others is refused). A new bank account needs `step_up`.
pub async fn edit_claim(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: ClaimBody,
    step_up: Option<&str>,
) -> ServiceResult<ClaimView> {
    let user_id = actor.user_id()?.to_owned();
    let checked = check_incident(&body.incident)?;
    let payee = body.payee.as_ref().map(check_payee).transpose()?;
    let bank_given = matches!(payee, Some((PayeeKind::Bank, ..)));
    let now = ctx.now();
    let today = china_date(now);
    let (ctx2, actor2) = (ctx.clone(), actor.clone());
    let step_up = step_up.map(str::to_owned);
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimView> {
                let claim = own(conn, &user_id, &id)?;
                let status = status_of(&claim)?;
                if !matches!(status, ClaimStatus::Draft | ClaimStatus::Returned) {
                    return Err(illegal(status, "修改"));
                }
                if body.enrollment_id != claim.enrollment_id
                    || body.benefit_code != claim.benefit_code
                {
                    return Err(ServiceError::rule(
                        "claim.cover_fixed",
                        "理赔申请的保障项目不能修改；如需申请其他保障，请撤回后重新申请",
                    ));
                }
                let k = covered(conn, &claim)?;
                check_fits(&checked, &k.benefit.payout)?;
                let current = db::details(conn, &id)?.ok_or_else(not_found)?;
                if bank_given {
                    // Keeping the same account needs no step-up; a new one does.
                    let same = match (&payee, &current.payee_account_enc) {
                        (Some((_, _, _, Some(account))), Some(stored)) => {
                            super::unseal(&ctx2, &id, "payee_account", stored)? == *account
                                && claim.payee_kind.as_deref() == Some("bank")
                        }
                        _ => false,
                    };
                    if !same {
                        require_step_up(&ctx2, &actor2, step_up.as_deref().unwrap_or(""))?;
                    }
                }
                let mut details = apply_details(&ctx2, &id, &checked, payee.as_ref(), current)?;
                let payee_kind = match &payee {
                    Some((kind, ..)) => Some(payee_kind_str(*kind).to_owned()),
                    None => claim.payee_kind.clone(),
                };
                if matches!(payee, Some((PayeeKind::WechatBalance, ..))) {
                    details.payee_holder_enc = None;
                    details.payee_bank = None;
                    details.payee_account_enc = None;
                    details.payee_account_masked = None;
                }
                let fields = DraftFields {
                    incident_type: checked.kind.as_str().into(),
                    occurred_on: checked.occurred_on.to_string(),
                    admitted_on: checked.admitted_on.map(|d| d.to_string()),
                    discharged_on: checked.discharged_on.map(|d| d.to_string()),
                    claimed_cost_fen: checked.claimed_cost_fen,
                    payee_kind,
                    updated_at: now.naive_utc(),
                };
                if !db::update_draft(conn, &id, claim.revision, &fields, &details)? {
                    return Err(changed_meanwhile(conn, &id));
                }
                let claim = own(conn, &user_id, &id)?;
                view(&ctx2, conn, &claim, &Viewer::Claimant, today)
            })
        })
        .await
}

/// A claim, for its claimant or the staff in scope.
pub async fn claim(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<ClaimView> {
    let today = china_date(ctx.now());
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| -> ServiceResult<ClaimView> {
            let claim = db::get(conn, &id)?.ok_or_else(not_found)?;
            let viewer = visible(&actor, &claim)?;
            view(&ctx2, conn, &claim, &viewer, today)
        })
        .await
}

/// The caller's claims, newest first.
pub async fn my_claims(
    ctx: &Context,
    actor: &Actor,
    page: PageRequest,
) -> ServiceResult<Page<ClaimView>> {
    let user_id = actor.user_id()?.to_owned();
    let today = china_date(ctx.now());
    let ctx2 = ctx.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<Page<ClaimView>> {
            let rows = db::of_claimant(conn, &user_id, page.cursor.as_deref(), page.fetch())?;
            let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > page.limit;
            let mut items = Vec::new();
            for c in rows.iter().take(usize::try_from(page.limit).unwrap_or(0)) {
                items.push(view(&ctx2, conn, c, &Viewer::Claimant, today)?);
            }
            let next_cursor = if more {
                items.last().map(|c| c.id.clone())
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
        .await
}

/// A claim's event trail: every event for staff in scope, those meant for them for the
/// claimant.
pub async fn claim_events(
    ctx: &Context,
    actor: &Actor,
    id: String,
) -> ServiceResult<Vec<EventView>> {
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<Vec<EventView>> {
            let claim = db::get(conn, &id)?.ok_or_else(not_found)?;
            let viewer = visible(&actor, &claim)?;
            let events = db::events(conn, &id, viewer == Viewer::Claimant)?;
            Ok(events.into_iter().map(|e| event_view(e, &viewer)).collect())
        })
        .await
}

/// Submits a draft: every rule runs; all failures come back at once (422
/// `claim.rules_failed`, `errors` listing `{code, detail, subject}`), or the claim goes to
/// the reviewers with its amount computed.
pub async fn submit(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<ClaimView> {
    send(ctx, actor, id, Action::Submit).await
}

/// Resubmits a returned claim (with what was asked for): the rules run again.
pub async fn resubmit(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<ClaimView> {
    send(ctx, actor, id, Action::Resubmit).await
}

async fn send(
    ctx: &Context,
    actor: &Actor,
    id: String,
    action: Action,
) -> ServiceResult<ClaimView> {
    let user_id = actor.user_id()?.to_owned();
    let now = ctx.now();
    let today = china_date(now);
    let (ctx2, actor2) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimView> {
                // One submission per member at a time: limits are counted over their claims.
                gongyou_db::lock(conn, &format!("claim-submit:{user_id}"))?;
                let claim = own(conn, &user_id, &id)?;
                let from = status_of(&claim)?;
                let verb = if action == Action::Submit {
                    "提交"
                } else {
                    "重新提交"
                };
                let to = transition(from, action).map_err(|_| illegal(from, verb))?;
                let details = db::details(conn, &id)?.ok_or_else(not_found)?;
                let k = covered(conn, &claim)?;
                let assessment = evaluate(&ctx2, conn, &claim, &details, &k, today)?;
                if !assessment.failures.is_empty() {
                    let sentences: Vec<&str> = assessment
                        .failures
                        .iter()
                        .map(|f| f.detail.as_str())
                        .collect();
                    return Err(ServiceError::rule(
                        "claim.rules_failed",
                        format!("暂不能提交：{}", sentences.join("；")),
                    )
                    .with_errors(serde_json::json!(missing_view(assessment.failures))));
                }
                let numbers = super::invoice_list(&details.invoice_numbers);
                if let Err(e) = db::hold_invoices(conn, &id, &numbers) {
                    if e.is_unique_violation() {
                        return Err(ServiceError::conflict(
                            "claim.invoice_claimed",
                            "发票刚被另一件理赔申请使用，同一张发票只能报销一次",
                        ));
                    }
                    return Err(e.into());
                }
                let change = Change {
                    status: Some(to.as_str().into()),
                    days: Some(assessment.days.and_then(|d| i32::try_from(d).ok())),
                    amount_fen: Some(Some(assessment.amount_fen)),
                    waiting_since: Some(Some(now.naive_utc())),
                    submitted_at: Some(Some(claim.submitted_at.unwrap_or(now.naive_utc()))),
                    ..Change::default()
                };
                if !db::apply(conn, &id, claim.revision, &change, now.naive_utc())? {
                    return Err(changed_meanwhile(conn, &id));
                }
                let name = if action == Action::Submit {
                    "submit"
                } else {
                    "resubmit"
                };
                record(
                    conn,
                    &id,
                    &actor2,
                    name,
                    Some(from),
                    to,
                    None,
                    None,
                    Some(assessment.amount_fen),
                    now,
                )?;
                let claim = own(conn, &user_id, &id)?;
                view(&ctx2, conn, &claim, &Viewer::Claimant, today)
            })
        })
        .await
}

/// Withdraws a claim before a decision (a draft, or one submitted, in review or
/// returned). Its invoices are free again.
pub async fn withdraw(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<ClaimView> {
    let user_id = actor.user_id()?.to_owned();
    let now = ctx.now();
    let today = china_date(now);
    let (ctx2, actor2) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ClaimView> {
                let claim = own(conn, &user_id, &id)?;
                let from = status_of(&claim)?;
                let to = transition(from, Action::Withdraw).map_err(|_| illegal(from, "撤回"))?;
                let change = Change {
                    status: Some(to.as_str().into()),
                    waiting_since: Some(None),
                    decided_at: Some(Some(now.naive_utc())),
                    ..Change::default()
                };
                if !db::apply(conn, &id, claim.revision, &change, now.naive_utc())? {
                    return Err(changed_meanwhile(conn, &id));
                }
                db::release_invoices(conn, &id)?;
                record(
                    conn,
                    &id,
                    &actor2,
                    "withdraw",
                    Some(from),
                    to,
                    None,
                    None,
                    None,
                    now,
                )?;
                let claim = own(conn, &user_id, &id)?;
                view(&ctx2, conn, &claim, &Viewer::Claimant, today)
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_payee_is_one_of_two_shapes_and_nothing_else() {
        let wechat: PayeeBody = serde_json::from_str(r#"{"kind":"wechat_balance"}"#).unwrap();
        assert!(matches!(wechat, PayeeBody::WechatBalance {}));
        for refused in [
            r#"{"kind":"wechat_balance","account":"6222020402001234567"}"#,
            r#"{"kind":"bank","holder":"张三","bank":"工行"}"#,
            r#"{"kind":"bank","holder":"张三","bank":"工行","account":"6222020402001234567","x":1}"#,
            r#"{"kind":"alipay"}"#,
        ] {
            assert!(
                serde_json::from_str::<PayeeBody>(refused).is_err(),
                "{refused}"
            );
        }
        let bank: PayeeBody = serde_json::from_str(
            r#"{"kind":"bank","holder":"张三","bank":"工行","account":"6222020402001234567"}"#,
        )
        .unwrap();
        let (kind, holder, _, account) = check_payee(&bank).unwrap();
        assert_eq!(kind, PayeeKind::Bank);
        assert_eq!(holder.as_deref(), Some("张三"));
        assert_eq!(account.as_deref(), Some("6222020402001234567"));
    }
}
