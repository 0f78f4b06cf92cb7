//! Reconciliation: the daily job (yesterday's WeChat Pay run), and each run's job — a bill
//! not ready yet is "not yet, again at T" (no attempt spent), never a failure.

use gongyou_db::jobs::Job;
use gongyou_services::reconcile::{self, ReconcileDaily, ReconcileRun, Step};

use crate::{JobContext, JobError};

pub async fn daily(ctx: JobContext, _job: ReconcileDaily) -> Result<(), JobError> {
    reconcile::daily(&ctx.services).await?;
    Ok(())
}

pub async fn run(ctx: JobContext, job: ReconcileRun) -> Result<(), JobError> {
    let id = job.run_id.clone();
    match reconcile::run_job(&ctx.services, job).await {
        Ok(Step::Done) => Ok(()),
        Ok(Step::Later { at, reason }) => Err(JobError::Later { at, reason }),
        Err(e) => {
            if ctx.attempt >= ReconcileRun::MAX_ATTEMPTS || !e.is_retryable() {
                tracing::warn!(run = %id, error = %e, "reconciliation given up");
            }
            Err(e.into())
        }
    }
}
