//! What members do with plans: see those that reach them, check eligibility (every unmet
//! rule, not the first), enroll with one tap, and see all their cover in one answer.

use chrono::NaiveDate;
use gongyou_db::membership::{self as mdb, Membership};
use gongyou_db::plans::{self as db, Enrollment, Plan};
use gongyou_db::{orgs, write_tx, DbConnection};
use gongyou_domain::membership::Occupation;
use gongyou_domain::money::from_fen;
use gongyou_domain::notification::Category;
use gongyou_domain::org::OrgPath;
use gongyou_domain::plan::{
    effective_window, enrollment_blockers, plan_waiting_ends_on, unmet_rules, waiting_ends_on,
    Benefit, IncidentType, MemberFacts, Payout, PlanStatus, Unmet,
};
use gongyou_domain::region::RegionCode;
use gongyou_domain::status::MembershipStatus;
use gongyou_domain::time::china_date;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::terms::{status_of, windows_of};
use super::{
    benefit_view, load_version, plan_not_found, plan_view, BenefitView, Loaded, PlanView,
    SponsorView,
};
use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::notifications::outbox::notify;
use crate::Context;

/// An unmet rule: a stable code and a zh-CN sentence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnmetRule {
    /// `membership_inactive`, `outside_reach`, `occupation_not_covered`,
    /// `region_not_covered`, `age_unknown`, `age_below_minimum`, `age_above_maximum`,
    /// `tenure_unknown`, `tenure_too_short`, `membership_too_recent`, `plan_not_open`,
    /// `enrollment_not_yet_open`, `enrollment_closed`, `already_enrolled`.
    pub code: String,
    pub detail: String,
}

/// Whether the caller may enroll today, and every reason not.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EligibilityView {
    pub plan_code: String,
    pub plan_version: i32,
    pub eligible: bool,
    /// Every unmet rule, in a stable order (empty when eligible).
    pub unmet: Vec<UnmetRule>,
}

/// The first day an incident of each type is covered by every item of the plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WaitingEnds {
    #[schema(format = Date)]
    pub illness: String,
    #[schema(format = Date)]
    pub accident: String,
}

/// Where cover stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoverStatus {
    /// Enrolled; cover starts on `effective_from`.
    NotStarted,
    InForce,
    Ended,
}

/// An enrollment: the certificate and the dates that matter.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrollmentView {
    pub id: String,
    /// The certificate number (`E-ROAD-2026-00000017`).
    pub certificate_no: String,
    pub plan_code: String,
    /// The version enrolled in: its terms are the ones that apply.
    pub plan_version: i32,
    pub plan_name: String,
    pub sponsor: SponsorView,
    /// First day of cover (Asia/Shanghai): the day after enrollment, or the coverage start
    /// if later.
    #[schema(format = Date)]
    pub effective_from: String,
    /// Last day of cover.
    #[schema(format = Date)]
    pub effective_to: String,
    pub waiting_ends_on: WaitingEnds,
    pub status: CoverStatus,
    /// `app` (the member enrolled) or `roster` (from the platform's roster).
    pub source: String,
    pub enrolled_at: chrono::DateTime<chrono::Utc>,
}

/// One benefit of a cover, as a rider needs it after an accident.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CoverBenefit {
    pub benefit: BenefitView,
    /// First day an illness is covered by this item.
    #[schema(format = Date)]
    pub illness_covered_from: String,
    /// First day an accident is covered by this item.
    #[schema(format = Date)]
    pub accident_covered_from: String,
    pub illness_waiting_over: bool,
    pub accident_waiting_over: bool,
    /// What is left to pay this coverage period: the item's limit less what the member's
    /// claims on this cover hold (in review, approved or paid).
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")]
    pub left_this_period: String,
    /// Days of allowance left this coverage period (daily allowances only).
    pub days_left_this_period: Option<u16>,
    /// Where this item stands, in zh-CN ("意外即时生效；疾病 2026-08-31 起保障").
    pub status_text: String,
}

/// A plan the member holds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cover {
    pub enrollment: EnrollmentView,
    pub benefits: Vec<CoverBenefit>,
}

/// Everything a member is covered by, and what they could still join.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProtectionView {
    /// One zh-CN sentence to put at the top of the screen.
    pub summary: String,
    /// Cover held (in force first, then not started, then ended), newest first within each.
    pub covers: Vec<Cover>,
    /// Published plans open to enrollment today that the member qualifies for and has not
    /// joined.
    pub available: Vec<PlanView>,
}

/// The member's facts for eligibility. The platform start date is the member's own (from
/// the application), else `from_roster` (the first roster's, `platform_starts`).
pub(crate) fn facts_of(m: Option<&Membership>, from_roster: Option<&str>) -> MemberFacts {
    let Some(m) = m else {
        return MemberFacts::default();
    };
    let date = |s: &str| gongyou_domain::time::parse_date(s).ok();
    MemberFacts {
        active: m.status == MembershipStatus::Active,
        occupation: Occupation::parse(&m.occupation),
        region: RegionCode::parse(&m.region_code).ok(),
        birth_date: date(&m.birth_date),
        platform_started_on: m
            .platform_started_on
            .as_deref()
            .or(from_roster)
            .and_then(date),
        joined_on: date(&m.joined_on),
    }
}

/// The account's live membership and its facts (the roster's start date looked up, once,
/// when the member gave none).
fn member_of(
    conn: &mut DbConnection,
    user_id: &str,
) -> ServiceResult<(Option<Membership>, MemberFacts)> {
    let m = mdb::live_membership_of_user(conn, user_id)?;
    let from_roster = match &m {
        Some(m) if m.platform_started_on.is_none() => {
            gongyou_db::roster::platform_starts_of(conn, std::slice::from_ref(&m.id))?.remove(&m.id)
        }
        _ => None,
    };
    let facts = facts_of(m.as_ref(), from_roster.as_deref());
    Ok((m, facts))
}

/// Whether the plan's sponsor subtree holds the member's union (None: not a member).
fn in_reach(
    conn: &mut DbConnection,
    plan: &Plan,
    m: Option<&Membership>,
) -> ServiceResult<Option<bool>> {
    let Some(m) = m else { return Ok(None) };
    let (Some(sponsor), Some(union)) = (
        orgs::get(conn, &plan.sponsor_org_id)?,
        orgs::get(conn, &m.org_id)?,
    ) else {
        return Ok(Some(false));
    };
    Ok(Some(
        OrgPath::from_stored(sponsor.path).contains(&OrgPath::from_stored(union.path)),
    ))
}

fn current(conn: &mut DbConnection, code: &str) -> ServiceResult<(Plan, Loaded)> {
    let plan = db::plan(conn, code)?.ok_or_else(plan_not_found)?;
    let loaded = current_of(conn, &plan)?;
    Ok((plan, loaded))
}

/// The terms of a plan's current version (404 before its first publication).
fn current_of(conn: &mut DbConnection, plan: &Plan) -> ServiceResult<Loaded> {
    let version = plan.current_version.ok_or_else(plan_not_found)?;
    load_version(conn, plan, version)
}

/// Every reason the member cannot enroll today, in a stable order.
fn reasons(
    conn: &mut DbConnection,
    plan: &Plan,
    loaded: &Loaded,
    m: Option<&Membership>,
    facts: &MemberFacts,
    user_id: &str,
    today: NaiveDate,
) -> ServiceResult<Vec<Unmet>> {
    let v = &loaded.version;
    let mut unmet = enrollment_blockers(status_of(v)?, &windows_of(v)?, today);
    if db::enrollment_of(conn, &plan.code, user_id)?.is_some() {
        unmet.push(Unmet {
            code: "already_enrolled",
            detail: "您已参加该计划".into(),
        });
    }
    // Without a membership nothing else can be judged (no occupation, region or age on
    // record): joining the union is the one thing to do.
    let mut rules = match m {
        Some(_) => unmet_rules(&super::terms::eligibility_of(v), facts, today),
        None => unmet_rules(&Default::default(), facts, today),
    };
    if in_reach(conn, plan, m)? == Some(false) {
        let at = rules
            .iter()
            .position(|u| u.code != "membership_inactive")
            .unwrap_or(rules.len());
        rules.insert(
            at,
            Unmet {
                code: "outside_reach",
                detail: format!("本计划由{}发起，面向其下属工会的会员", loaded.sponsor.name),
            },
        );
    }
    unmet.extend(rules);
    Ok(unmet)
}

fn unmet_view(u: Vec<Unmet>) -> Vec<UnmetRule> {
    u.into_iter()
        .map(|u| UnmetRule {
            code: u.code.to_owned(),
            detail: u.detail,
        })
        .collect()
}

/// Published plans that reach the caller (every one open to all, for a worker who is not
/// a member yet: joining the union is the way in), with whether the caller is enrolled.
pub async fn plans(ctx: &Context, actor: &Actor) -> ServiceResult<Vec<PlanView>> {
    let user_id = actor.user_id()?.to_owned();
    ctx.db
        .run(move |conn| -> ServiceResult<Vec<PlanView>> {
            let m = mdb::live_membership_of_user(conn, &user_id)?;
            let mut out = Vec::new();
            for plan in db::plans_with_current(conn)? {
                let enrolled = db::enrollment_of(conn, &plan.code, &user_id)?.is_some();
                if !enrolled && in_reach(conn, &plan, m.as_ref())? == Some(false) {
                    continue;
                }
                let loaded = current_of(conn, &plan)?;
                let shown = status_of(&loaded.version)? == PlanStatus::Published;
                if shown || enrolled {
                    out.push(plan_view(&loaded, enrolled)?);
                }
            }
            Ok(out)
        })
        .await
}

/// A plan's current terms (published or closed; drafts are not shown).
pub async fn plan(ctx: &Context, actor: &Actor, code: String) -> ServiceResult<PlanView> {
    let user_id = actor.user_id().ok().map(str::to_owned);
    ctx.db
        .run(move |conn| -> ServiceResult<PlanView> {
            let (plan, loaded) = current(conn, &code)?;
            let enrolled = match &user_id {
                Some(u) => db::enrollment_of(conn, &plan.code, u)?.is_some(),
                None => false,
            };
            plan_view(&loaded, enrolled)
        })
        .await
}

pub async fn eligibility(
    ctx: &Context,
    actor: &Actor,
    code: String,
) -> ServiceResult<EligibilityView> {
    let user_id = actor.user_id()?.to_owned();
    let today = china_date(ctx.now());
    ctx.db
        .run(move |conn| -> ServiceResult<EligibilityView> {
            let (plan, loaded) = current(conn, &code)?;
            let (m, facts) = member_of(conn, &user_id)?;
            let unmet = reasons(conn, &plan, &loaded, m.as_ref(), &facts, &user_id, today)?;
            Ok(EligibilityView {
                plan_code: plan.code,
                plan_version: loaded.version.version,
                eligible: unmet.is_empty(),
                unmet: unmet_view(unmet),
            })
        })
        .await
}

/// The certificate number of a plan's `serial`-th enrollment.
pub fn certificate_no(plan_code: &str, serial: i64) -> String {
    format!("{}-{serial:08}", plan_code.to_ascii_uppercase())
}

/// Enrolls the caller in the plan's current version: 409 `plan.already_enrolled` when they
/// hold it (any version), 422 `plan.not_eligible` with every unmet rule in `errors`.
pub async fn enroll(ctx: &Context, actor: &Actor, code: String) -> ServiceResult<EnrollmentView> {
    let user_id = actor.user_id()?.to_owned();
    let now = ctx.now();
    let today = china_date(now);
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<EnrollmentView> {
                let (plan, loaded) = current(conn, &code)?;
                let (m, facts) = member_of(conn, &user_id)?;
                let unmet = reasons(conn, &plan, &loaded, m.as_ref(), &facts, &user_id, today)?;
                if unmet.iter().any(|u| u.code == "already_enrolled") {
                    return Err(ServiceError::conflict(
                        "plan.already_enrolled",
                        "您已参加该计划",
                    ));
                }
                let window = effective_window(today, &windows_of(&loaded.version)?);
                let (Some(m), Some((from, to)), true) = (m, window, unmet.is_empty()) else {
                    let detail = unmet
                        .iter()
                        .map(|u| u.detail.as_str())
                        .collect::<Vec<_>>()
                        .join("；");
                    return Err(ServiceError::rule(
                        "plan.not_eligible",
                        format!("暂不符合参加条件：{detail}"),
                    )
                    .with_errors(json!(unmet_view(unmet))));
                };
                let serial = db::take_certificates(conn, &plan.code, 1)?;
                let e = Enrollment {
                    id: gongyou_domain::id::new_id(),
                    plan_code: plan.code.clone(),
                    plan_version: loaded.version.version,
                    user_id: user_id.clone(),
                    membership_id: m.id.clone(),
                    certificate_no: certificate_no(&plan.code, serial),
                    effective_from: from.to_string(),
                    effective_to: to.to_string(),
                    source: "app".into(),
                    roster_import_id: None,
                    enrolled_at: now.naive_utc(),
                };
                db::insert_enrollment(conn, &e)?;
                notify(
                    conn,
                    &user_id,
                    Category::PlanEnrolled,
                    json!({
                        "plan": loaded.version.name,
                        "certificate_no": e.certificate_no,
                        "from": e.effective_from,
                        "to": e.effective_to,
                    }),
                    now,
                )?;
                enrollment_view(&e, &loaded, today)
            })
        })
        .await
}

fn enrollment_view(e: &Enrollment, l: &Loaded, today: NaiveDate) -> ServiceResult<EnrollmentView> {
    let bad = || ServiceError::internal(anyhow::anyhow!("an enrollment has a bad date"));
    let from = gongyou_domain::time::parse_date(&e.effective_from).map_err(|_| bad())?;
    let to = gongyou_domain::time::parse_date(&e.effective_to).map_err(|_| bad())?;
    let status = if today < from {
        CoverStatus::NotStarted
    } else if today > to {
        CoverStatus::Ended
    } else {
        CoverStatus::InForce
    };
    Ok(EnrollmentView {
        id: e.id.clone(),
        certificate_no: e.certificate_no.clone(),
        plan_code: e.plan_code.clone(),
        plan_version: e.plan_version,
        plan_name: l.version.name.clone(),
        sponsor: l.sponsor.clone(),
        effective_from: e.effective_from.clone(),
        effective_to: e.effective_to.clone(),
        waiting_ends_on: WaitingEnds {
            illness: plan_waiting_ends_on(from, &l.benefits, IncidentType::Illness).to_string(),
            accident: plan_waiting_ends_on(from, &l.benefits, IncidentType::Accident).to_string(),
        },
        status,
        source: e.source.clone(),
        enrolled_at: e.enrolled_at.and_utc(),
    })
}

fn loaded_for(conn: &mut DbConnection, e: &Enrollment) -> ServiceResult<Loaded> {
    let plan = db::plan(conn, &e.plan_code)?.ok_or_else(plan_not_found)?;
    load_version(conn, &plan, e.plan_version)
}

pub async fn my_enrollments(ctx: &Context, actor: &Actor) -> ServiceResult<Vec<EnrollmentView>> {
    let user_id = actor.user_id()?.to_owned();
    let today = china_date(ctx.now());
    ctx.db
        .run(move |conn| -> ServiceResult<Vec<EnrollmentView>> {
            db::enrollments_of_user(conn, &user_id)?
                .iter()
                .map(|e| enrollment_view(e, &loaded_for(conn, e)?, today))
                .collect()
        })
        .await
}

fn cover_benefit(
    b: &Benefit,
    from: NaiveDate,
    today: NaiveDate,
    used: &gongyou_domain::claim::Used,
) -> CoverBenefit {
    let illness = waiting_ends_on(from, b.illness_waiting_days);
    let accident = waiting_ends_on(from, b.accident_waiting_days);
    let part = |what: &str, day: NaiveDate| {
        if day <= today {
            format!("{what}已在保障中")
        } else if day == from {
            format!("{what}自 {day} 起保障")
        } else {
            format!(
                "{what}等待期至 {}，{day} 起保障",
                day.pred_opt().unwrap_or(day)
            )
        }
    };
    CoverBenefit {
        benefit: benefit_view(b),
        illness_covered_from: illness.to_string(),
        accident_covered_from: accident.to_string(),
        illness_waiting_over: illness <= today,
        accident_waiting_over: accident <= today,
        left_this_period: from_fen(left_fen(&b.payout, used)).to_string(),
        days_left_this_period: match b.payout {
            Payout::DailyAllowance { max_days, .. } => {
                u16::try_from(max_days.saturating_sub(used.days)).ok()
            }
            _ => None,
        },
        status_text: format!("{}；{}", part("意外", accident), part("疾病", illness)),
    }
}

/// What an item has left to pay this coverage period after the claims that count against
/// it (in review, approved or paid).
fn left_fen(payout: &Payout, used: &gongyou_domain::claim::Used) -> i64 {
    match *payout {
        Payout::DailyAllowance {
            per_day_fen,
            max_days,
        } => per_day_fen.saturating_mul(i64::from(max_days.saturating_sub(used.days))),
        Payout::LumpSum { amount_fen } => {
            if used.lump_sum {
                0
            } else {
                amount_fen
            }
        }
        Payout::Reimbursement { yearly_cap_fen, .. } => {
            yearly_cap_fen.saturating_sub(used.amount_fen).max(0)
        }
    }
}

/// "My protection": every cover held and the plans the member could still join.
pub async fn protection(ctx: &Context, actor: &Actor) -> ServiceResult<ProtectionView> {
    let user_id = actor.user_id()?.to_owned();
    let today = china_date(ctx.now());
    ctx.db
        .run(move |conn| -> ServiceResult<ProtectionView> {
            let mut covers = Vec::new();
            let prior = crate::claims::prior_claims(conn, &user_id)?;
            for e in db::enrollments_of_user(conn, &user_id)? {
                let loaded = loaded_for(conn, &e)?;
                let enrollment = enrollment_view(&e, &loaded, today)?;
                let from = gongyou_domain::time::parse_date(&e.effective_from)
                    .map_err(|_| ServiceError::internal(anyhow::anyhow!("bad enrollment date")))?;
                let mut benefits = Vec::new();
                for b in &loaded.benefits {
                    let mut mine = prior.clone();
                    crate::claims::mark_lump_sums(&mut mine, b);
                    let used = gongyou_domain::claim::used_by(&mine, "", &e.id, &b.code);
                    benefits.push(cover_benefit(b, from, today, &used));
                }
                covers.push(Cover {
                    benefits,
                    enrollment,
                });
            }
            let rank = |s: CoverStatus| match s {
                CoverStatus::InForce => 0,
                CoverStatus::NotStarted => 1,
                CoverStatus::Ended => 2,
            };
            covers.sort_by_key(|c| rank(c.enrollment.status));
            let (m, facts) = member_of(conn, &user_id)?;
            let mut available = Vec::new();
            for plan in db::plans_with_current(conn)? {
                let loaded = current_of(conn, &plan)?;
                if reasons(conn, &plan, &loaded, m.as_ref(), &facts, &user_id, today)?.is_empty() {
                    available.push(plan_view(&loaded, false)?);
                }
            }
            let in_force = covers
                .iter()
                .filter(|c| c.enrollment.status == CoverStatus::InForce)
                .count();
            let starting = covers
                .iter()
                .filter(|c| c.enrollment.status == CoverStatus::NotStarted)
                .count();
            let mut summary = match (in_force, starting) {
                (0, 0) => "您目前没有生效中的保障".to_owned(),
                (n, 0) => format!("您有 {n} 项保障生效中"),
                (0, s) => format!("您有 {s} 项保障即将生效"),
                (n, s) => format!("您有 {n} 项保障生效中，{s} 项即将生效"),
            };
            if !available.is_empty() {
                summary.push_str(&format!(
                    "；还有 {} 个免费保障计划可一键参加",
                    available.len()
                ));
            }
            Ok(ProtectionView {
                summary,
                covers,
                available,
            })
        })
        .await
}

/// What a withdrawing member keeps: cover already held stays in force until it ends.
pub fn cover_kept_note(
    conn: &mut DbConnection,
    user_id: &str,
    today: NaiveDate,
) -> ServiceResult<Option<String>> {
    let mut held = Vec::new();
    for e in db::enrollments_of_user(conn, user_id)? {
        if e.effective_to.as_str() < today.to_string().as_str() {
            continue;
        }
        let loaded = loaded_for(conn, &e)?;
        held.push(format!(
            "{}（证书号 {}）保障至 {}",
            loaded.version.name, e.certificate_no, e.effective_to
        ));
    }
    Ok((!held.is_empty()).then(|| {
        format!(
            "退会后，您已参加的保障继续有效直至保障期结束：{}。",
            held.join("；")
        )
    }))
}
