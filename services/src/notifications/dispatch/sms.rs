//! SMS for urgent categories, through the notice template: to a worker's phone, or to a
//! staff member's verified contact phone (staff notices that go by SMS).

use std::collections::{BTreeSet, HashMap};

use gongyou_db::notifications::{self, Delivery, Outcome};
use gongyou_db::staff as staff_db;
use gongyou_domain::notification::Channel;
use gongyou_providers::sms::SmsError;

use super::{backoff_after, batch_context, outcome, skip_all, MAX_PUSH_ATTEMPTS};
use crate::accounts::contact_phone;
use crate::error::ServiceResult;
use crate::Context;

/// The verified contact phones of the recipients who are not workers with a phone — staff
/// members, for a notice's recipient may be either — unsealed, by staff id. A sealed phone
/// that does not open is left out (its delivery is skipped) and logged without the number.
async fn staff_phones(
    ctx: &Context,
    batch: &[Delivery],
    workers: &HashMap<String, String>,
) -> ServiceResult<HashMap<String, String>> {
    let ids: Vec<String> = batch
        .iter()
        .filter(|d| !workers.contains_key(&d.user_id))
        .map(|d| d.user_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sealed = ctx
        .db
        .run(move |conn| staff_db::verified_contact_phones(conn, &ids))
        .await?;
    let mut phones = HashMap::new();
    for (staff_id, stored) in sealed {
        match contact_phone::unseal(ctx, &staff_id, &stored) {
            Ok(phone) => {
                phones.insert(staff_id, phone.as_str().to_owned());
            }
            Err(e) => {
                tracing::warn!(staff = %staff_id, error = %e, "a staff contact phone could not be opened");
            }
        }
    }
    Ok(phones)
}

/// SMS for urgent categories, through the notice template (title, text).
pub(super) async fn sms_batch(ctx: &Context, batch: &[Delivery]) -> ServiceResult<Vec<Outcome>> {
    let now = ctx.clock.now();
    let (Some(sms), Some(template)) = (&ctx.providers.sms, &ctx.config.sms_notice_template_id)
    else {
        return Ok(skip_all(batch, "sms notices not configured"));
    };
    let bc = batch_context(ctx, batch, Channel::Sms).await?;
    let staff = staff_phones(ctx, batch, &bc.phones).await?;
    let mut outcomes = Vec::new();
    for d in batch {
        let n = match bc.deliverable(d) {
            Ok(n) => n,
            Err(skipped) => {
                outcomes.push(skipped);
                continue;
            }
        };
        let Some(phone) = bc.phones.get(&d.user_id).or_else(|| staff.get(&d.user_id)) else {
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
