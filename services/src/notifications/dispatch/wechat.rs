//! WeChat subscribe messages: one message per credit the user gave for the template.

use gongyou_db::notifications::{self, Delivery, Outcome};
use gongyou_domain::notification::Channel;
use gongyou_domain::time::china_date;
use gongyou_providers::subscribe_fields::fit;
use gongyou_providers::wechat::WechatError;

use super::{backoff_after, batch_context, outcome, skip_all, MAX_PUSH_ATTEMPTS};
use crate::error::ServiceResult;
use crate::Context;

/// WeChat subscribe messages: only with a credit for the category's template (one credit,
/// one message). 43101 means the credit is gone: recorded, not retried.
pub(super) async fn wechat_batch(ctx: &Context, batch: &[Delivery]) -> ServiceResult<Vec<Outcome>> {
    let now = ctx.clock.now();
    let Some(wechat) = &ctx.providers.wechat else {
        return Ok(skip_all(batch, "wechat not configured"));
    };
    let bc = batch_context(ctx, batch, Channel::Wechat).await?;
    let mut outcomes = Vec::new();
    for d in batch {
        let n = match bc.deliverable(d) {
            Ok(n) => n,
            Err(skipped) => {
                outcomes.push(skipped);
                continue;
            }
        };
        let Some(template) = ctx.config.wechat_templates.get(&n.category).cloned() else {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "no template for this category",
                None,
            ));
            continue;
        };
        let Some(openid) = bc.openids.get(&d.user_id).cloned() else {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "no WeChat account",
                None,
            ));
            continue;
        };
        let (user, t) = (d.user_id.clone(), template.clone());
        let at = now.naive_utc();
        if !ctx
            .db
            .run(move |conn| notifications::take_credit(conn, &user, &t, at))
            .await?
        {
            outcomes.push(outcome(
                &d.id,
                notifications::SKIPPED,
                "no subscription credit",
                None,
            ));
            continue;
        }
        let date = china_date(now).format("%Y年%m月%d日").to_string();
        let data: Vec<(String, String)> = [
            ("thing1", n.title.as_str()),
            ("thing2", n.body.as_str()),
            ("time3", date.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), fit(k, v)))
        .collect();
        let sent = wechat
            .send_subscribe_message(&openid, &template, Some("pages/notifications/index"), &data)
            .await;
        let result = match sent {
            Ok(()) => outcome(&d.id, notifications::SENT, "ok", None),
            Err(WechatError::NotSubscribed) => outcome(
                &d.id,
                notifications::SKIPPED,
                "43101: no longer subscribed",
                None,
            ),
            Err(e) if e.is_retryable() && d.attempts < MAX_PUSH_ATTEMPTS => {
                let (user, t) = (d.user_id.clone(), template);
                ctx.db
                    .run(move |conn| notifications::return_credit(conn, &user, &t, at))
                    .await?;
                outcome(
                    &d.id,
                    notifications::FAILED,
                    format!("retrying: {e}"),
                    backoff_after(d.attempts, now),
                )
            }
            Err(e) => outcome(&d.id, notifications::DEAD, format!("refused: {e}"), None),
        };
        outcomes.push(result);
    }
    Ok(outcomes)
}
