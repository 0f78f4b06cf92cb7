//! Payouts: the send job (an approved WeChat batch, or one retried payout) and the periodic
//! check of attempts in flight (outcome unknown, or no callback yet): query first, never a
//! new number.

use gongyou_services::payouts::{self, CheckPayouts, SendPayouts};

use crate::{JobContext, JobError};

pub async fn send(ctx: JobContext, job: SendPayouts) -> Result<(), JobError> {
    payouts::send_payouts(&ctx.services, job).await?;
    Ok(())
}

pub async fn check(ctx: JobContext, _job: CheckPayouts) -> Result<(), JobError> {
    let checked = payouts::check_due(&ctx.services).await?;
    if checked > 0 {
        tracing::info!(attempts = checked, "checked payouts in flight");
    }
    Ok(())
}
