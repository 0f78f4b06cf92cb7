//! Operators' view of the job queue: union admins of the national org only.

use actix_web::{get, post, web};
use gongyou_domain::status::JobStatus;
use gongyou_services::page::Page;
use gongyou_services::queue::{self, JobView};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::paging::PageQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct JobListQuery {
    /// `queued`, `running`, `failed`, `dead` or `done`.
    #[param(value_type = Option<JobStatus>, nullable = false)]
    pub status: Option<String>,
}

/// Jobs by status.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = [])),
    params(JobListQuery, PageQuery),
    responses(
        (status = 200, body = Page<JobView>),
        (status = 400, description = "`request.invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/jobs")]
pub async fn list_jobs(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<JobListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<JobView>>> {
    let page = page.into_inner().request()?;
    Ok(web::Json(
        queue::list(&state, &caller, filter.status.as_deref(), page).await?,
    ))
}

/// Runs a dead or failed job again now, with a fresh set of attempts.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = [])),
    responses(
        (status = 200, body = JobView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`job.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`job.not_retryable`: only dead or failed jobs", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/jobs/{id}/retry")]
pub async fn retry_job(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<JobView>> {
    Ok(web::Json(
        queue::retry(&state, &caller, id.into_inner()).await?,
    ))
}
