//! Roster imports: enroll a platform roster's eligible members into a plan, batch by batch
//! from the checkpoint (a crash resumes where the last committed batch ended).

use gongyou_db::jobs::Job;
use gongyou_services::plans::roster::{self, RosterImportJob};

use crate::{JobContext, JobError};

pub async fn run(ctx: JobContext, job: RosterImportJob) -> Result<(), JobError> {
    let id = job.import_id.clone();
    match roster::run_import(&ctx.services, job).await {
        Ok(()) => Ok(()),
        Err(e) => {
            // No attempt will follow (the last one, or an error no retry mends): end the
            // import as failed (its file's key dropped) rather than leave it running
            // forever with a readable roster.
            if ctx.attempt >= RosterImportJob::MAX_ATTEMPTS || !e.is_retryable() {
                tracing::warn!(import = %id, error = %e, "roster import given up");
                roster::give_up(&ctx.services, &id).await?;
            }
            Err(e.into())
        }
    }
}
