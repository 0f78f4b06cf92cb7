//! A campaign's fan-out: its recipients' inbox rows and push deliveries, batch by batch.

use gongyou_services::notifications::campaigns::{self, FanOut};

use crate::{JobContext, JobError};

/// Every failure is retried (up to the job's attempts): the fan-out resumes from the
/// campaign's cursor, so a retry writes nobody twice — even after losing a race with a run
/// that took over a lapsed lease (whose duplicate insert is not the payload's fault).
pub async fn run(ctx: JobContext, job: FanOut) -> Result<(), JobError> {
    let written = campaigns::fan_out(&ctx.services, &job)
        .await
        .map_err(|e| JobError::Retry(e.into()))?;
    tracing::debug!(campaign = %job.campaign_id, written, "fan-out finished");
    Ok(())
}
