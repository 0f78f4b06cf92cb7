//! Membership auto-approval: approves an application where its union allows it.

use gongyou_services::membership::{self, AutoApproval, AutoApprove};

use crate::{JobContext, JobError};

/// Done whatever the rules decided (a refused application waits for a person); retried
/// when the database or something unexpected failed.
pub async fn run(ctx: JobContext, job: AutoApprove) -> Result<(), JobError> {
    match membership::auto_approve(&ctx.services, job).await? {
        AutoApproval::Declined { code } => {
            tracing::info!(code = %code, "membership auto-approval declined; left for review");
        }
        result => tracing::info!(result = ?result, "membership auto-approval"),
    }
    Ok(())
}
