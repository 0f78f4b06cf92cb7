//! Data-key rotation (`gongyou rotate-data-key`): re-encrypts and re-indexes every value not
//! under the current data key, batch by batch from its checkpoints (a killed worker resumes
//! where the last committed batch ended), then rewraps sealed files' keys.

use gongyou_services::rotation::{self, Options, RotateDataKey, DEFAULT_BATCH};

use crate::{JobContext, JobError};

pub async fn run(ctx: JobContext, job: RotateDataKey) -> Result<(), JobError> {
    let opts = Options {
        batch_size: job.batch_size.unwrap_or(DEFAULT_BATCH),
        max_batches: None,
    };
    let report = rotation::run(&ctx.services, opts).await?;
    if report.failed + report.files_failed > 0 {
        tracing::warn!(
            failed = report.failed,
            files_failed = report.files_failed,
            "data-key rotation left values it could not decrypt (see the warnings above)"
        );
    }
    Ok(())
}
