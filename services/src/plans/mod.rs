//! Protection plans (保障计划): admins write and publish versioned terms; members check
//! eligibility, enroll with one tap and see all their cover in one place (ADR 017).

mod admin;
mod member;
pub mod roster;
pub mod terms;

pub use admin::{
    close_plan, create_plan, edit_plan, ensure_published, new_version, plan_for_admin,
    plans_for_admin, publish_plan, AdminPlanView, NewPlan, VersionSummary,
};
pub use member::{
    certificate_no, cover_kept_note, eligibility, enroll, my_enrollments, plan, plans, protection,
    Cover, CoverBenefit, CoverStatus, EligibilityView, EnrollmentView, ProtectionView, UnmetRule,
    WaitingEnds,
};

use gongyou_db::plans::{self as db, PlanVersion};
use gongyou_db::{orgs, DbConnection};
use gongyou_domain::plan::{Benefit, PlanStatus};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ServiceError, ServiceResult};
use terms::{
    benefit_of_row, benefit_terms, pays_sentence, status_of, BenefitKind, EligibilityTerms,
    WaitingDays,
};

pub(crate) fn plan_not_found() -> ServiceError {
    ServiceError::not_found("plan.not_found", "保障计划不存在")
}

/// The org whose subtree a plan reaches.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SponsorView {
    pub id: String,
    pub name: String,
}

/// A benefit item as shown: its terms and what it pays in one sentence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BenefitView {
    pub code: String,
    pub name: String,
    pub kind: BenefitKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$", nullable = false)]
    pub amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$", nullable = false)]
    pub amount_per_day: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub max_days_per_year: Option<u16>,
    /// Of the eligible cost, e.g. "80.00".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub percent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub per_claim_cap: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub yearly_cap: Option<String>,
    pub waiting_days: WaitingDays,
    pub documents: Vec<gongyou_domain::plan::DocumentKind>,
    /// What it pays, in zh-CN ("住院每天 200.00 元，每个保障期最多 30 天").
    pub pays: String,
}

pub(crate) fn benefit_view(b: &Benefit) -> BenefitView {
    let t = benefit_terms(b);
    BenefitView {
        code: t.code,
        name: t.name,
        kind: t.kind,
        amount: t.amount,
        amount_per_day: t.amount_per_day,
        max_days_per_year: t.max_days_per_year,
        percent: t.percent,
        per_claim_cap: t.per_claim_cap,
        yearly_cap: t.yearly_cap,
        waiting_days: t.waiting_days,
        documents: t.documents,
        pays: pays_sentence(b),
    }
}

/// A plan version as members (and admins) see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    pub code: String,
    pub version: i32,
    pub status: PlanStatus,
    pub name: String,
    pub description: String,
    pub sponsor: SponsorView,
    #[schema(format = Date)]
    pub enrollment_opens_on: String,
    #[schema(format = Date)]
    pub enrollment_closes_on: String,
    #[schema(format = Date)]
    pub coverage_starts_on: String,
    #[schema(format = Date)]
    pub coverage_ends_on: String,
    pub eligibility: EligibilityTerms,
    pub benefits: Vec<BenefitView>,
    /// Whether the caller holds an enrollment in this plan (any version); false for staff.
    pub enrolled: bool,
}

/// A version's terms, loaded.
pub(crate) struct Loaded {
    pub version: PlanVersion,
    pub benefits: Vec<Benefit>,
    pub sponsor: SponsorView,
}

pub(crate) fn load_version(
    conn: &mut DbConnection,
    plan: &db::Plan,
    version: i32,
) -> ServiceResult<Loaded> {
    let v = db::version(conn, &plan.code, version)?.ok_or_else(plan_not_found)?;
    let benefits = db::benefits(conn, &plan.code, version)?
        .iter()
        .map(benefit_of_row)
        .collect::<ServiceResult<Vec<_>>>()?;
    let org = orgs::get(conn, &plan.sponsor_org_id)?
        .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("a plan's sponsor is missing")))?;
    Ok(Loaded {
        version: v,
        benefits,
        sponsor: SponsorView {
            id: org.id,
            name: org.name,
        },
    })
}

pub(crate) fn plan_view(l: &Loaded, enrolled: bool) -> ServiceResult<PlanView> {
    let v = &l.version;
    let t = terms::terms_view(v, &l.benefits);
    Ok(PlanView {
        code: v.plan_code.clone(),
        version: v.version,
        status: status_of(v)?,
        name: v.name.clone(),
        description: v.description.clone(),
        sponsor: l.sponsor.clone(),
        enrollment_opens_on: v.enrollment_opens_on.clone(),
        enrollment_closes_on: v.enrollment_closes_on.clone(),
        coverage_starts_on: v.coverage_starts_on.clone(),
        coverage_ends_on: v.coverage_ends_on.clone(),
        eligibility: t.eligibility,
        benefits: l.benefits.iter().map(benefit_view).collect(),
        enrolled,
    })
}
