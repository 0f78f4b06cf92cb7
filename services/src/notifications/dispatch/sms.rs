//! SMS for urgent categories, through the notice template.

use gongyou_db::notifications::{self, Delivery, Outcome};
use gongyou_domain::notification::Channel;
use gongyou_providers::sms::SmsError;

use super::{backoff_after, batch_context, outcome, skip_all, MAX_PUSH_ATTEMPTS};
use crate::error::ServiceResult;
use crate::Context;

/// SMS for urgent categories, through the notice template (title, text).
pub(super) async fn sms_batch(ctx: &Context, batch: &[Delivery]) -> ServiceResult<Vec<Outcome>> {
    let now = ctx.clock.now();
    let (Some(sms), Some(template)) = (&ctx.providers.sms, &ctx.config.sms_notice_template_id)
    else {
        return Ok(skip_all(batch, "sms notices not configured"));
    };
    let bc = batch_context(ctx, batch, Channel::Sms).await?;
    let mut outcomes = Vec::new();
    for d in batch {
        let n = match bc.deliverable(d) {
            Ok(n) => n,
            Err(skipped) => {
                outcomes.push(skipped);
                continue;
            }
        };
        let Some(phone) = bc.phones.get(&d.user_id) else {
            outcomes.push(outcome(&d.id, notifications::SKIPPED, "no phone", None));
            continue;
        };
        let text: String = n.body.chars().take(60).collect();
        let result = match sms
            .send_template(phone, template, &[n.title.clone(), text])
            .await
        {
            Ok(()) => outcome(&d.id, notifications::SENT, "ok", None),
            Err(SmsError::RateLimited) => outcome(
                &d.id,
                notifications::FAILED,
                "rate limited",
                Some((now + chrono::Duration::seconds(60)).naive_utc()),
            ),
            Err(SmsError::Unavailable(e)) if d.attempts < MAX_PUSH_ATTEMPTS => outcome(
                &d.id,
                notifications::FAILED,
                format!("unavailable: {e}"),
                backoff_after(d.attempts, now),
            ),
            Err(e) => outcome(&d.id, notifications::DEAD, format!("refused: {e}"), None),
        };
        outcomes.push(result);
    }
    Ok(outcomes)
}
