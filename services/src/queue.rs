//! Operators' view of the job queue (union admins of the national org only): jobs by status,
//! and running a dead or failed job again.

use chrono::{DateTime, Utc};
use gongyou_db::jobs::{self as store, JobRow};
use gongyou_db::orgs;
use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::Role;
use gongyou_domain::status::JobStatus;
use serde::Serialize;
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{status_filter, Page, PageRequest};
use crate::Context;

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

fn operators_only() -> ServiceError {
    ServiceError::forbidden("auth.role_required", "仅全国管理员可以管理后台任务")
}

/// Operators are union admins of the root (national) org.
async fn require_operator(ctx: &Context, actor: &Actor) -> ServiceResult<()> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let root = ctx.db.run(orgs::root).await?.ok_or_else(operators_only)?;
    if actor.holds(Role::UnionAdmin, &OrgPath::from_stored(root.path)) {
        Ok(())
    } else {
        Err(operators_only())
    }
}

/// Jobs, optionally of one status (`queued`, `running`, `failed`, `dead` or `done`).
pub async fn list(
    ctx: &Context,
    actor: &Actor,
    status: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<JobView>> {
    require_operator(ctx, actor).await?;
    let status = status_filter::<JobStatus>(status)?;
    let limit = page.limit;
    let rows = ctx
        .db
        .run(move |conn| store::list(conn, status, page.cursor.as_deref(), page.fetch()))
        .await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |j| j.id.clone(),
        JobView::from,
    ))
}

/// Runs a dead or failed job again now, with a fresh set of attempts.
pub async fn retry(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<JobView> {
    require_operator(ctx, actor).await?;
    let not_found = || ServiceError::not_found("job.not_found", "任务不存在");
    let now = ctx.now().naive_utc();
    let job = ctx
        .db
        .run(move |conn| -> ServiceResult<JobRow> {
            store::get(conn, &id)?.ok_or_else(not_found)?;
            if !store::retry_now(conn, &id, now)? {
                return Err(ServiceError::conflict(
                    "job.not_retryable",
                    "只能重试失败或已终止的任务",
                ));
            }
            store::get(conn, &id)?.ok_or_else(not_found)
        })
        .await?;
    Ok(JobView::from(job))
}
