//! The notification dispatcher: delivers due notifications and campaign pushes.

use gongyou_services::notifications::dispatch;
use gongyou_services::notifications::outbox::Dispatch;

use crate::{JobContext, JobError};

/// Every failure is retried: dispatching depends on nothing in the payload, and whatever a
/// pass left undone (a provider down, a lost claim) is due again.
pub async fn run(ctx: JobContext, _job: Dispatch) -> Result<(), JobError> {
    let worker = format!("dispatch-{}", ctx.job_id);
    dispatch::dispatch(&ctx.services, &worker)
        .await
        .map_err(|e| JobError::Retry(e.into()))
}
