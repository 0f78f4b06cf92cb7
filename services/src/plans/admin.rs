//! Admins of the sponsoring org's subtree write plans: create a draft, edit it, publish it,
//! make the next version, close the plan. A published version's terms never change.

use chrono::NaiveDateTime;
use gongyou_db::plans::{self as db, BenefitRow, Plan, PlanVersion};
use gongyou_db::{orgs, write_tx, DbConnection};
use gongyou_domain::org::OrgPath;
use gongyou_domain::plan::{valid_plan_code, PlanStatus};
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::terms::{apply_terms, benefit_rows, check_terms, status_of, CheckedTerms, PlanTerms};
use super::{load_version, plan_not_found, plan_view, PlanView};
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::Context;

/// A new plan: its code (in paths and certificates, never changes), the org whose subtree
/// it reaches, and the terms of its first version (a draft).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{1,31}$")]
    pub code: String,
    pub sponsor_org_id: String,
    pub terms: PlanTerms,
}

/// A version in a plan's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionSummary {
    pub version: i32,
    pub status: PlanStatus,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A plan as its admins see it: the latest version in full, every version's status, and
/// how many members hold it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminPlanView {
    /// The latest version (a draft being written, or the one published).
    pub plan: PlanView,
    /// The version open to enrollment (or the last one, once closed); null before the
    /// first publication.
    pub current_version: Option<i32>,
    pub latest_version: i32,
    pub versions: Vec<VersionSummary>,
    /// Enrollments over all versions.
    pub enrollments: i64,
}

fn admin_view(conn: &mut DbConnection, plan: &Plan) -> ServiceResult<AdminPlanView> {
    let latest = load_version(conn, plan, plan.latest_version)?;
    let versions = db::versions(conn, &plan.code)?
        .iter()
        .map(|v| {
            Ok(VersionSummary {
                version: v.version,
                status: status_of(v)?,
                published_at: v.published_at.map(|t| t.and_utc()),
            })
        })
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(AdminPlanView {
        plan: plan_view(&latest, false)?,
        current_version: plan.current_version,
        latest_version: plan.latest_version,
        versions,
        enrollments: db::enrollment_count(conn, &plan.code)?,
    })
}

/// The plan, when the actor administers its sponsor's subtree (404 otherwise).
pub(super) fn plan_in_scope(
    conn: &mut DbConnection,
    actor: &Actor,
    code: &str,
) -> ServiceResult<Plan> {
    let plan = db::plan(conn, code)?.ok_or_else(plan_not_found)?;
    let org = orgs::get(conn, &plan.sponsor_org_id)?.ok_or_else(plan_not_found)?;
    authz::require(
        actor,
        Role::UnionAdmin,
        &OrgPath::from_stored(org.path),
        plan_not_found,
    )?;
    Ok(plan)
}

/// One change to a plan in scope, in one transaction; answers the plan as it is after.
async fn change_plan<F>(
    ctx: &Context,
    actor: &Actor,
    code: String,
    change: F,
) -> ServiceResult<AdminPlanView>
where
    F: FnOnce(&mut DbConnection, &Plan) -> ServiceResult<()> + Send + 'static,
{
    authz::scopes(actor, Role::UnionAdmin)?;
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<AdminPlanView> {
                let plan = plan_in_scope(conn, &actor, &code)?;
                change(conn, &plan)?;
                let plan = db::plan(conn, &code)?.ok_or_else(plan_not_found)?;
                admin_view(conn, &plan)
            })
        })
        .await
}

/// Writes a new plan with version 1 of `terms`: a draft, or published at once (seeding).
fn insert_new_plan(
    conn: &mut DbConnection,
    code: &str,
    sponsor_org_id: &str,
    terms: &CheckedTerms,
    by: &str,
    now: NaiveDateTime,
    published: bool,
) -> ServiceResult<Plan> {
    let plan = Plan {
        code: code.to_owned(),
        sponsor_org_id: sponsor_org_id.to_owned(),
        current_version: published.then_some(1),
        latest_version: 1,
        next_certificate: 1,
        created_by: by.to_owned(),
        created_at: now,
        updated_at: now,
    };
    db::insert_plan(conn, &plan)?;
    let mut v = blank_version(code, 1, by, now);
    apply_terms(&mut v, terms);
    if published {
        v.status = PlanStatus::Published.as_str().to_owned();
        v.published_by = Some(by.to_owned());
        v.published_at = Some(now);
    }
    db::insert_version(conn, &v)?;
    db::replace_benefits(conn, code, 1, &benefit_rows(code, 1, &terms.benefits))?;
    Ok(plan)
}

pub async fn create_plan(
    ctx: &Context,
    actor: &Actor,
    body: NewPlan,
) -> ServiceResult<AdminPlanView> {
    let by = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    if !valid_plan_code(&body.code) {
        return Err(ServiceError::invalid(
            "plan.invalid_code",
            "计划代码须为 2 至 32 位小写字母、数字或连字符",
        ));
    }
    let terms = check_terms(&body.terms)?;
    let now = ctx.now().naive_utc();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<AdminPlanView> {
                let org = orgs::get(conn, &body.sponsor_org_id)?.ok_or_else(|| {
                    ServiceError::rule("plan.sponsor_not_found", "发起组织不存在")
                })?;
                authz::require_visible(&actor, Role::UnionAdmin, &OrgPath::from_stored(org.path))?;
                if db::plan(conn, &body.code)?.is_some() {
                    return Err(ServiceError::conflict(
                        "plan.code_taken",
                        "该计划代码已被使用",
                    ));
                }
                let plan = insert_new_plan(conn, &body.code, &org.id, &terms, &by, now, false)?;
                admin_view(conn, &plan)
            })
        })
        .await
}

fn blank_version(code: &str, version: i32, by: &str, now: NaiveDateTime) -> PlanVersion {
    PlanVersion {
        plan_code: code.to_owned(),
        version,
        status: PlanStatus::Draft.as_str().to_owned(),
        name: String::new(),
        description: String::new(),
        enrollment_opens_on: String::new(),
        enrollment_closes_on: String::new(),
        coverage_starts_on: String::new(),
        coverage_ends_on: String::new(),
        occupations: String::new(),
        region_codes: String::new(),
        min_age: None,
        max_age: None,
        min_platform_tenure_months: None,
        min_membership_days: None,
        created_by: by.to_owned(),
        created_at: now,
        updated_at: now,
        published_by: None,
        published_at: None,
    }
}

/// Plans sponsored within the actor's subtrees.
pub async fn plans_for_admin(ctx: &Context, actor: &Actor) -> ServiceResult<Vec<AdminPlanView>> {
    let scopes = authz::scopes(actor, Role::UnionAdmin)?;
    ctx.db
        .run(move |conn| -> ServiceResult<Vec<AdminPlanView>> {
            let mut out = Vec::new();
            for plan in db::all_plans(conn)? {
                let Some(org) = orgs::get(conn, &plan.sponsor_org_id)? else {
                    continue;
                };
                let path = OrgPath::from_stored(org.path);
                if scopes.iter().any(|s| s.contains(&path)) {
                    out.push(admin_view(conn, &plan)?);
                }
            }
            Ok(out)
        })
        .await
}

pub async fn plan_for_admin(
    ctx: &Context,
    actor: &Actor,
    code: String,
) -> ServiceResult<AdminPlanView> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<AdminPlanView> {
            let plan = plan_in_scope(conn, &actor, &code)?;
            admin_view(conn, &plan)
        })
        .await
}

fn fixed() -> ServiceError {
    ServiceError::conflict(
        "plan.terms_fixed",
        "已发布的计划条款不能修改；请先创建新版本（POST …/versions）再编辑",
    )
}

/// Rewrites the draft's terms (409 `plan.terms_fixed` when the latest version is published
/// or closed).
pub async fn edit_plan(
    ctx: &Context,
    actor: &Actor,
    code: String,
    body: PlanTerms,
) -> ServiceResult<AdminPlanView> {
    let terms = check_terms(&body)?;
    let now = ctx.now().naive_utc();
    change_plan(ctx, actor, code, move |conn, plan| {
        let mut v =
            db::version(conn, &plan.code, plan.latest_version)?.ok_or_else(plan_not_found)?;
        if status_of(&v)? != PlanStatus::Draft {
            return Err(fixed());
        }
        apply_terms(&mut v, &terms);
        v.updated_at = now;
        db::update_version(conn, &v)?;
        let rows = benefit_rows(&plan.code, v.version, &terms.benefits);
        Ok(db::replace_benefits(conn, &plan.code, v.version, &rows)?)
    })
    .await
}

/// Moves a version from one status to another; false when it was not in `from`.
fn move_status(
    conn: &mut DbConnection,
    plan: &Plan,
    version: i32,
    from: PlanStatus,
    to: PlanStatus,
    published_by: Option<&str>,
    now: NaiveDateTime,
) -> ServiceResult<bool> {
    Ok(db::set_version_status(
        conn,
        &plan.code,
        version,
        from.as_str(),
        to.as_str(),
        published_by,
        now,
    )?)
}

/// Publishes the draft: it becomes the version new enrollments take; the version it
/// replaces is superseded (its members keep its terms).
pub async fn publish_plan(
    ctx: &Context,
    actor: &Actor,
    code: String,
) -> ServiceResult<AdminPlanView> {
    let by = actor.staff_id()?;
    let now = ctx.now().naive_utc();
    change_plan(ctx, actor, code, move |conn, plan| {
        let latest = plan.latest_version;
        if !move_status(
            conn,
            plan,
            latest,
            PlanStatus::Draft,
            PlanStatus::Published,
            Some(&by),
            now,
        )? {
            return Err(ServiceError::conflict(
                "plan.not_draft",
                "没有待发布的草稿版本",
            ));
        }
        if let Some(current) = plan.current_version {
            // A closed plan reopens with its new version; a published one is superseded.
            for from in [PlanStatus::Published, PlanStatus::Closed] {
                move_status(conn, plan, current, from, PlanStatus::Superseded, None, now)?;
            }
        }
        Ok(db::set_versions(
            conn,
            &plan.code,
            Some(latest),
            latest,
            now,
        )?)
    })
    .await
}

/// Closes the plan to new enrollments; cover already held stays in force until it ends.
pub async fn close_plan(
    ctx: &Context,
    actor: &Actor,
    code: String,
) -> ServiceResult<AdminPlanView> {
    let now = ctx.now().naive_utc();
    change_plan(ctx, actor, code, move |conn, plan| {
        let closed = match plan.current_version {
            Some(v) => move_status(
                conn,
                plan,
                v,
                PlanStatus::Published,
                PlanStatus::Closed,
                None,
                now,
            )?,
            None => false,
        };
        if closed {
            Ok(())
        } else {
            Err(ServiceError::conflict(
                "plan.not_published",
                "该计划没有开放中的版本",
            ))
        }
    })
    .await
}

/// Makes draft version N+1, a copy of the latest terms, to edit and publish (409
/// `plan.draft_exists` when the latest version is still a draft).
pub async fn new_version(
    ctx: &Context,
    actor: &Actor,
    code: String,
) -> ServiceResult<AdminPlanView> {
    let by = actor.staff_id()?;
    let now = ctx.now().naive_utc();
    change_plan(ctx, actor, code, move |conn, plan| {
        let latest =
            db::version(conn, &plan.code, plan.latest_version)?.ok_or_else(plan_not_found)?;
        if status_of(&latest)? == PlanStatus::Draft {
            return Err(ServiceError::conflict(
                "plan.draft_exists",
                "已有一个草稿版本，请编辑它",
            ));
        }
        let next = plan.latest_version + 1;
        let v = PlanVersion {
            version: next,
            status: PlanStatus::Draft.as_str().to_owned(),
            created_by: by,
            created_at: now,
            updated_at: now,
            published_by: None,
            published_at: None,
            ..latest
        };
        db::insert_version(conn, &v)?;
        let rows: Vec<_> = db::benefits(conn, &plan.code, plan.latest_version)?
            .into_iter()
            .map(|r| BenefitRow { version: next, ..r })
            .collect();
        db::replace_benefits(conn, &plan.code, next, &rows)?;
        Ok(db::set_versions(
            conn,
            &plan.code,
            plan.current_version,
            next,
            now,
        )?)
    })
    .await
}

/// Creates and publishes a plan unless its code exists (seeding and the demo; inside the
/// caller's transaction). True when it was created.
pub fn ensure_published(
    conn: &mut DbConnection,
    code: &str,
    sponsor_org_id: &str,
    terms: &PlanTerms,
    by: &str,
    now: NaiveDateTime,
) -> ServiceResult<bool> {
    if db::plan(conn, code)?.is_some() {
        return Ok(false);
    }
    insert_new_plan(
        conn,
        code,
        sponsor_org_id,
        &check_terms(terms)?,
        by,
        now,
        true,
    )?;
    Ok(true)
}
