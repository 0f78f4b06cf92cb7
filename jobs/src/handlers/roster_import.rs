//! Roster imports: enroll a platform roster's eligible members into a plan, batch by batch
//! from the checkpoint (a crash resumes where the last committed batch ended).

use gongyou_services::plans::roster::{self, RosterImportJob};

use crate::{JobContext, JobError};

pub async fn run(ctx: JobContext, job: RosterImportJob) -> Result<(), JobError> {
    roster::run_import(&ctx.services, job).await?;
    Ok(())
}
