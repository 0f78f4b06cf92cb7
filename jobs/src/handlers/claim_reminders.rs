//! Claims waiting on staff too long: the reviewers (finance approvers, for claims awaiting
//! confirmation) in scope get a staff notice, at most once a day per claim.

use gongyou_db::jobs::Job;
use serde::{Deserialize, Serialize};

use crate::{JobContext, JobError};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClaimReminders {}

impl Job for ClaimReminders {
    const NAME: &'static str = "claim_reminders";
    const MAX_ATTEMPTS: i32 = 3;
}

pub async fn run(ctx: JobContext, _job: ClaimReminders) -> Result<(), JobError> {
    let reminded = gongyou_services::claims::remind_overdue(&ctx.services).await?;
    if reminded > 0 {
        tracing::info!(claims = reminded, "reminded reviewers of overdue claims");
    }
    Ok(())
}
