//! Protection plans: members see, check and join them; admins of the sponsoring subtree
//! write, publish, version and close them.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use gongyou_services::page::Page;
use gongyou_services::plans::roster::{self, ImportView};
use gongyou_services::plans::terms::PlanTerms;
use gongyou_services::plans::{
    self, AdminPlanView, EligibilityView, EnrollmentView, NewPlan, PlanView, ProtectionView,
};

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::idempotency::{idempotent, IdempotencyKeyHeader};
use crate::paging::PageQuery;
use crate::state::AppState;

/// Published plans that reach the caller, with whether the caller is enrolled. A worker
/// who is not yet a member sees every published plan (joining the union is the way in).
#[utoipa::path(
    tag = "plans",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<PlanView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/plans")]
pub async fn list_plans(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Vec<PlanView>>> {
    Ok(web::Json(plans::plans(&state, &caller).await?))
}

/// A plan's current terms (published, or closed to new enrollments).
#[utoipa::path(
    tag = "plans",
    security(("bearer" = [])),
    responses(
        (status = 200, body = PlanView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found` (also a plan never published)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/plans/{code}")]
pub async fn get_plan(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> ApiResult<web::Json<PlanView>> {
    Ok(web::Json(
        plans::plan(&state, &caller, code.into_inner()).await?,
    ))
}

/// Whether the caller may enroll today, with every unmet rule (not only the first).
#[utoipa::path(
    tag = "plans",
    security(("bearer" = [])),
    responses(
        (status = 200, body = EligibilityView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/plans/{code}/eligibility")]
pub async fn eligibility(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> ApiResult<web::Json<EligibilityView>> {
    Ok(web::Json(
        plans::eligibility(&state, &caller, code.into_inner()).await?,
    ))
}

/// Enrolls the caller (one tap): a certificate, the cover's dates and when each incident
/// type's waiting period ends. The member is notified. No body.
#[utoipa::path(
    tag = "plans",
    security(("bearer" = [])),
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = EnrollmentView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan.already_enrolled` (any version of the plan), `idempotency.*`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`plan.not_eligible`: `errors` lists every unmet rule as `{code, detail}`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/plans/{code}/enrollments")]
pub async fn enroll(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    code: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let code = code.into_inner();
    let (ctx, owned, actor) = (state.clone(), code.clone(), caller.clone());
    idempotent(&state, &req, &actor, &code, || async move {
        let e = plans::enroll(&ctx, &caller, owned).await?;
        Ok(HttpResponse::Created().json(e))
    })
    .await
}

/// The caller's enrollments, newest first.
#[utoipa::path(
    tag = "plans",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<EnrollmentView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/enrollments")]
pub async fn my_enrollments(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Vec<EnrollmentView>>> {
    Ok(web::Json(plans::my_enrollments(&state, &caller).await?))
}

/// "My protection": every cover held — per benefit what it pays, whether its waiting
/// period is over, what is left this period — and the plans the caller could still join.
#[utoipa::path(
    tag = "plans",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ProtectionView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/protection")]
pub async fn protection(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<ProtectionView>> {
    Ok(web::Json(plans::protection(&state, &caller).await?))
}

const TERMS_422: &str = "A rule the schema cannot state: `plan.invalid_dates`, `plan.invalid_date` (no such day), `plan.benefit_amounts` (the amounts a kind needs, none of another kind, above 0, yearly cap not below the per-claim cap), `plan.duplicate_benefit`, `plan.duplicate_value`, `plan.invalid_eligibility` (min_age above max_age), `plan.sponsor_not_found`";

/// Creates a plan with a draft first version (union admins over the sponsoring org).
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    request_body = NewPlan,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = AdminPlanView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `auth.out_of_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan.code_taken`, `idempotency.*`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = TERMS_422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/plans")]
pub async fn create_plan(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<NewPlan>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let (ctx, owned, actor) = (state.clone(), body.clone(), caller.clone());
    idempotent(&state, &req, &actor, &body, || async move {
        let created = plans::create_plan(&ctx, &caller, owned).await?;
        Ok(HttpResponse::Created()
            .insert_header((
                "Location",
                format!("/api/v1/admin/plans/{}", created.plan.code),
            ))
            .json(created))
    })
    .await
}

/// Plans sponsored within the caller's subtrees, every status.
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<AdminPlanView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/plans")]
pub async fn admin_plans(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Vec<AdminPlanView>>> {
    Ok(web::Json(plans::plans_for_admin(&state, &caller).await?))
}

/// A plan: its latest version in full and every version's status.
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = AdminPlanView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/plans/{code}")]
pub async fn admin_plan(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> ApiResult<web::Json<AdminPlanView>> {
    Ok(web::Json(
        plans::plan_for_admin(&state, &caller, code.into_inner()).await?,
    ))
}

/// Replaces the draft's terms. A published version never changes: 409 `plan.terms_fixed`
/// (make the next version with `POST …/versions`).
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    request_body = PlanTerms,
    responses(
        (status = 200, body = AdminPlanView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan.terms_fixed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = TERMS_422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/admin/plans/{code}")]
pub async fn edit_plan(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: web::Json<PlanTerms>,
) -> ApiResult<web::Json<AdminPlanView>> {
    Ok(web::Json(
        plans::edit_plan(&state, &caller, code.into_inner(), body.into_inner()).await?,
    ))
}

/// Publishes the draft: new enrollments take it; the version it replaces is superseded,
/// and its members keep its terms.
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = AdminPlanView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan.not_draft`: no draft to publish", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/plans/{code}/publish")]
pub async fn publish_plan(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> ApiResult<web::Json<AdminPlanView>> {
    Ok(web::Json(
        plans::publish_plan(&state, &caller, code.into_inner()).await?,
    ))
}

/// Closes the plan to new enrollments; cover already held stays in force until it ends.
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = AdminPlanView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan.not_published`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/plans/{code}/close")]
pub async fn close_plan(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> ApiResult<web::Json<AdminPlanView>> {
    Ok(web::Json(
        plans::close_plan(&state, &caller, code.into_inner()).await?,
    ))
}

/// Makes draft version N+1, a copy of the latest terms, to edit and publish.
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    responses(
        (status = 201, body = AdminPlanView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan.draft_exists`: edit the draft instead", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/plans/{code}/versions")]
pub async fn new_version(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = plans::new_version(&state, &caller, code.into_inner()).await?;
    Ok(HttpResponse::Created().json(view))
}

/// A platform roster to enroll into the plan: the CSV file itself as the body
/// (`Content-Type: text/csv`; UTF-8 with or without BOM, or GBK; header `姓名,身份证号,手机号,平台工号,入职日期`
/// or `name,id_number,phone,platform_worker_id,platform_start_date`; up to 1,000,000 rows
/// and 256 MB). Checked while it streams in (a file-level fault is 422 and nothing is kept),
/// stored encrypted, and processed by a job (202); the file is deleted when the import ends.
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "The roster, as exported from a spreadsheet"),
    responses(
        (status = 202, body = ImportView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan.not_published`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`roster.too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`roster.not_csv`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`roster.encoding` (neither UTF-8 nor GBK), `roster.header`, `roster.too_many_rows`, `roster.empty`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/plans/{code}/roster-imports")]
pub async fn import_roster(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    code: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    roster::require_csv(content_type)?;
    let view = roster::start_import(&state, &caller, code.into_inner(), payload).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((
            "Location",
            format!("/api/v1/admin/roster-imports/{}", view.id),
        ))
        .json(view))
}

/// A plan's roster imports, newest first, with their progress.
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Page<ImportView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/plans/{code}/roster-imports")]
pub async fn roster_imports(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ImportView>>> {
    let page = page.into_inner().request()?;
    Ok(web::Json(
        roster::imports(&state, &caller, code.into_inner(), page).await?,
    ))
}

/// An import's progress: total, processed, enrolled, already enrolled, not members,
/// ineligible and invalid rows.
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ImportView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`roster.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/roster-imports/{id}")]
pub async fn roster_import(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ImportView>> {
    Ok(web::Json(
        roster::import(&state, &caller, id.into_inner()).await?,
    ))
}

/// Every rejected row as CSV (UTF-8 with BOM): 行号, 身份证号 (masked), 原因代码, 原因.
#[utoipa::path(
    tag = "plans-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The error report", body = String, content_type = "text/csv"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`roster.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/roster-imports/{id}/errors")]
pub async fn roster_errors(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let csv = roster::error_report(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"roster-errors.csv\"",
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(csv))
}
