//! The API's jobs: handlers that need the API's domain logic, registered beside the job
//! crate's own (housekeeping). `gongyou worker` and `gongyou demo` run this registry.

use chrono::{DateTime, Utc};
use gongyou_db::jobs::{self as store, NewJob};
use gongyou_db::membership as db;
use gongyou_db::{write_tx, DbConnection, DbError};
use gongyou_jobs::{JobContext, JobError, Registry};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::membership::worker::approve_in_tx;
use crate::routes::membership::Actor;

pub const AUTO_APPROVE: &str = "membership.auto_approve";

#[derive(Serialize, Deserialize)]
struct AutoApproval {
    application_id: String,
}

/// Enqueues the auto-approval of an application (inside the submission's transaction).
pub fn enqueue_auto_approval(
    conn: &mut DbConnection,
    application_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let payload = serde_json::to_string(&AutoApproval {
        application_id: application_id.to_owned(),
    })
    .unwrap_or_default();
    store::enqueue(
        conn,
        &NewJob {
            name: AUTO_APPROVE.into(),
            queue: "default".into(),
            priority: 10,
            dedup_key: Some(format!("{AUTO_APPROVE}:{application_id}")),
            payload,
            max_attempts: 5,
            run_at: now.naive_utc(),
        },
        now.naive_utc(),
    )?;
    Ok(())
}

async fn auto_approve(ctx: JobContext, payload: String) -> Result<(), JobError> {
    let job: AutoApproval =
        serde_json::from_str(&payload).map_err(|e| JobError::Permanent(e.into()))?;
    let now = ctx.clock.now();
    let outcome = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> Result<&'static str, ApiError> {
                let Some(app) = db::application(conn, &job.application_id)? else {
                    return Ok("gone");
                };
                // Decided meanwhile, flagged, or the union turned auto-approval off: leave it.
                if app.status != db::APP_PENDING
                    || app.identity_conflict
                    || !db::auto_approve(conn, &app.org_id)?
                {
                    return Ok("skipped");
                }
                approve_in_tx(conn, &app, Actor::Staff("auto-approval"), now)?;
                Ok("approved")
            })
        })
        .await;
    match outcome {
        Ok(result) => {
            tracing::info!(result, "membership auto-approval");
            Ok(())
        }
        // A rule refused it (already a member, identity in use): a person reviews it.
        Err(e) if e.is_client_error() => {
            tracing::info!(code = %e.code(), "membership auto-approval declined; left for review");
            Ok(())
        }
        Err(e) => Err(JobError::Retry(anyhow::anyhow!(
            "auto-approval failed: {e}"
        ))),
    }
}

/// Every job Gongyou runs.
pub fn registry() -> Registry {
    let mut registry = gongyou_jobs::registry();
    registry.register(AUTO_APPROVE, auto_approve);
    registry
}
