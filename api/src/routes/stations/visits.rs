//! Visits and reports: workers check in by scanning a station's QR and report problems; the
//! station's managers see visit statistics and resolve reports.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use gongyou_domain::station::ReportStatus;
use gongyou_services::page::{Page, PageRequest};
use gongyou_services::stations::visits::{
    self, CheckIn, NewReport, ReportView, Resolution, StationStats, VisitView,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::idempotency::{idempotent, IdempotencyKeyHeader};
use crate::state::AppState;

/// Checks in at a station (workers): 201 with a new visit, or 200 with the visit already
/// made within the last hour.
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body = CheckIn,
    responses(
        (status = 201, body = VisitView),
        (status = 200, description = "A visit within the hour already counts", body = VisitView),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`station.closed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`station.code_invalid`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/stations/{id}/check-ins")]
pub async fn check_in(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<CheckIn>,
) -> ApiResult<HttpResponse> {
    let visit: VisitView =
        visits::check_in(&state, &caller, id.into_inner(), body.into_inner()).await?;
    Ok(if visit.repeat {
        HttpResponse::Ok().json(visit)
    } else {
        HttpResponse::Created().json(visit)
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    /// First day (Asia/Shanghai), default 29 days before `to`; from 2000-01-01, at most 366
    /// days before `to`.
    #[param(value_type = Option<String>, format = Date, nullable = false, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub from: Option<String>,
    /// Last day, default today; at most tomorrow.
    #[param(value_type = Option<String>, format = Date, nullable = false, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub to: Option<String>,
}

/// Visits per day and distinct visitors (check-ins and member-card verifications), for the
/// station's managers and union admins over it.
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    params(StatsQuery),
    responses(
        (status = 200, body = StationStats),
        (status = 422, description = "`station.invalid_range`: from 2000-01-01 to tomorrow, `from` not after `to`, at most 366 days", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stations/{id}/stats")]
pub async fn stats(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<StatsQuery>,
) -> ApiResult<web::Json<StationStats>> {
    let StatsQuery { from, to } = query.into_inner();
    Ok(web::Json(
        visits::stats(&state, &caller, id.into_inner(), from, to).await?,
    ))
}

/// Reports a problem at a station (workers); its managers are told in their inbox.
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body = NewReport,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = ReportView),
        (status = 400, description = "`station.invalid_report`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`station.note_required`: a report of kind `other` says what is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`station.too_many_reports`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/stations/{id}/reports")]
pub async fn report(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<NewReport>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let (ctx, owned, actor) = (state.clone(), body.clone(), caller.clone());
    idempotent(&state, &req, &actor, &body, || async move {
        let report = visits::report(&ctx, &caller, id.into_inner(), owned).await?;
        Ok(HttpResponse::Created().json(report))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportListQuery {
    /// `open` or `resolved`; both when absent.
    #[param(value_type = Option<ReportStatus>, nullable = false)]
    pub status: Option<String>,
    #[param(nullable = false)]
    pub cursor: Option<String>,
    /// 1–200, default 50.
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A station's reports, newest first (its managers and union admins over it).
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    params(ReportListQuery),
    responses(
        (status = 200, body = Page<ReportView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stations/{id}/reports")]
pub async fn list_reports(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<ReportListQuery>,
) -> ApiResult<web::Json<Page<ReportView>>> {
    let q = query.into_inner();
    let page = PageRequest::new(q.cursor, q.limit)?;
    Ok(web::Json(
        visits::reports(&state, &caller, id.into_inner(), q.status.as_deref(), page).await?,
    ))
}

/// Resolves a report (the station's managers and union admins over it).
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body = Resolution,
    responses(
        (status = 200, body = ReportView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`station.report_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`station.report_resolved`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/stations/{id}/reports/{report_id}/resolve")]
pub async fn resolve_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<Resolution>,
) -> ApiResult<web::Json<ReportView>> {
    let (id, report_id) = path.into_inner();
    Ok(web::Json(
        visits::resolve(&state, &caller, id, report_id, body.into_inner()).await?,
    ))
}
