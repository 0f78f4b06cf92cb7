//! Operators' view of the job queue: union admins of the national org only.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use gongyou_db::jobs::{self as store, JobRow};
use gongyou_db::orgs;
use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::page::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    pub name: String,
    pub queue: String,
    /// `queued`, `running`, `failed` (will retry), `dead` or `done`.
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<JobRow> for JobView {
    fn from(j: JobRow) -> Self {
        Self {
            id: j.id,
            name: j.name,
            queue: j.queue,
            status: j.status,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at.and_utc(),
            last_error: j.last_error,
            created_at: j.created_at.and_utc(),
            finished_at: j.finished_at.map(|t| t.and_utc()),
        }
    }
}

/// Operators are union admins of the root (national) org.
async fn require_operator(state: &AppState, caller: &Caller) -> ApiResult<()> {
    authz::scopes(caller, Role::UnionAdmin)?;
    let root =
        state.db.run(orgs::root).await?.ok_or_else(|| {
            ApiError::forbidden("auth.role_required", "仅全国管理员可以管理后台任务")
        })?;
    if caller.holds(Role::UnionAdmin, &OrgPath::from_stored(root.path)) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "auth.role_required",
            "仅全国管理员可以管理后台任务",
        ))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct JobListQuery {
    /// `queued`, `running`, `failed`, `dead` or `done`.
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
    require_operator(&state, &caller).await?;
    let status = filter.into_inner().status;
    if let Some(s) = status.as_deref() {
        if ![
            store::QUEUED,
            store::RUNNING,
            store::FAILED,
            store::DEAD,
            store::DONE,
        ]
        .contains(&s)
        {
            return Err(ApiError::bad_request(
                "request.invalid_query",
                "status 须为 queued、running、failed、dead 或 done",
            ));
        }
    }
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let rows = state
        .db
        .run(move |conn| store::list(conn, status.as_deref(), cursor.as_deref(), limit + 1))
        .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |j| j.id.clone(),
        JobView::from,
    )))
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
    require_operator(&state, &caller).await?;
    let id = id.into_inner();
    let now = state.clock.now().naive_utc();
    let job = state
        .db
        .run(move |conn| -> ApiResult<JobRow> {
            store::get(conn, &id)?
                .ok_or_else(|| ApiError::not_found("job.not_found", "任务不存在"))?;
            if !store::retry_now(conn, &id, now)? {
                return Err(ApiError::conflict(
                    "job.not_retryable",
                    "只能重试失败或已终止的任务",
                ));
            }
            store::get(conn, &id)?.ok_or_else(|| ApiError::not_found("job.not_found", "任务不存在"))
        })
        .await?;
    Ok(web::Json(JobView::from(job)))
}
