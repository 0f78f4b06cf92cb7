//! A campaign's fan-out: its recipients' inbox rows and push deliveries, batch by batch.

use gongyou_services::notifications::campaigns::{self, FanOut};

use crate::{JobContext, JobError};

/// Resumes from the campaign's cursor, so a retry after a failure writes nobody twice.
pub async fn run(ctx: JobContext, job: FanOut) -> Result<(), JobError> {
    let written = campaigns::fan_out(&ctx.services, &job).await?;
    tracing::debug!(campaign = %job.campaign_id, written, "fan-out finished");
    Ok(())
}
