//! One-time SMS codes: 6 digits, 5 minutes, single use, at most 5 tries, stored hashed in the
//! key/value store. Sending is limited per phone (1 a minute, 10 a day by default), per
//! client network (20 an hour) and by a daily budget for the whole install (see `issue`).

use std::net::IpAddr;
use std::time::Duration;

use gongyou_db::kv::{Rate, RateDecision};
use gongyou_domain::phone::Phone;
use rand::Rng;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use gongyou_providers::sms::SmsError;

use crate::error::{ServiceError, ServiceResult};
use crate::network::ClientNetwork;
use crate::Context;

pub const CODE_TTL: Duration = Duration::from_secs(300);
pub const RESEND_AFTER: Duration = Duration::from_secs(60);
const MAX_TRIES: u64 = 5;

/// What a code is for; a code for one purpose does not work for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Sign in (or create the worker account).
    SignIn,
    /// Prove a fresh code for a sensitive action (`POST /api/v1/auth/step-up`).
    StepUp,
    /// Prove holding a phone that already has an account before merging into it
    /// (`POST /api/v1/me/phone/wechat`).
    BindPhone,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::StepUp => "step_up",
            Purpose::BindPhone => "bind_phone",
        }
    }
}

/// What a code proves, as its key and hash name it: one of the public [`Purpose`]s, or
/// holding the number a staff member gave as their contact phone — bound to that staff
/// member, and never issued through `POST /api/v1/auth/sms-codes`, so codes for signing in
/// and for a contact phone never stand in for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Public(Purpose),
    StaffContactPhone { staff_id: &'a str },
}

impl Scope<'_> {
    /// What the code is for, as logs name it.
    fn label(self) -> &'static str {
        match self {
            Scope::Public(purpose) => purpose.as_str(),
            Scope::StaffContactPhone { .. } => "staff_contact_phone",
        }
    }

    /// For keys and hashes (the public purposes keep their names, so codes already issued
    /// stay valid).
    fn tag(self) -> String {
        match self {
            Scope::Public(purpose) => purpose.as_str().to_owned(),
            Scope::StaffContactPhone { staff_id } => format!("staff_contact_phone:{staff_id}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredCode {
    id: String,
    hash: String,
}

fn code_key(scope: Scope<'_>, phone: &Phone) -> String {
    format!("sms:code:{}:{}", scope.tag(), phone.as_str())
}

fn code_hash(ctx: &Context, scope: Scope<'_>, phone: &Phone, code: &str) -> String {
    hex::encode(
        ctx.tokens
            .mac(&["sms-code", &scope.tag(), phone.as_str(), code]),
    )
}

async fn limit(ctx: &Context, key: String, rate: Rate) -> ServiceResult<()> {
    match ctx.kv.rate_limit(&key, rate).await? {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after } => Err(ServiceError::rate_limited(
            "auth.sms_rate_limited",
            retry_after,
        )
        .with_detail("验证码发送过于频繁，请稍后再试")),
    }
}

/// The install-wide budget's window: codes are counted per UTC day.
const BUDGET_WINDOW: Duration = Duration::from_secs(86_400);
const BUDGET_KEY: &str = "sms:budget";

/// Codes sent today by the whole install, and the daily budget (for `/metrics`).
pub async fn budget_use(ctx: &Context) -> ServiceResult<(u64, u32)> {
    let (sent, _) = ctx.kv.count_in_window(BUDGET_KEY, BUDGET_WINDOW).await?;
    Ok((sent, ctx.config.limits.sms_daily_budget))
}

/// Issues and sends a code; returns it only when dev echo is on.
///
/// Limits, in order: the client network (an IPv4 address or an IPv6 /64) per hour; the
/// phone, once a minute (a send that fails gives the minute back) and per day; then the
/// install's daily budget, the bound on what SMS pumping can cost.
pub async fn issue(
    ctx: &Context,
    phone: &Phone,
    purpose: Purpose,
    ip: Option<IpAddr>,
) -> ServiceResult<Option<String>> {
    issue_for(ctx, phone, Scope::Public(purpose), ip).await
}

/// [`issue`] for any [`Scope`], under the same limits and budget.
pub async fn issue_for(
    ctx: &Context,
    phone: &Phone,
    scope: Scope<'_>,
    ip: Option<IpAddr>,
) -> ServiceResult<Option<String>> {
    let limits = &ctx.config.limits;
    if let Some(ip) = ip {
        let network = ClientNetwork::of(ip);
        limit(
            ctx,
            format!("sms:limit:net:{network}"),
            Rate::per_hour(limits.sms_network_hourly),
        )
        .await?;
    }
    // Once a minute per phone: a claim holding when it was taken, released if sending fails.
    let minute_key = format!("sms:limit:minute:{}", phone.as_str());
    let now_ms = ctx.now().timestamp_millis();
    if !ctx
        .kv
        .set_if_absent(&minute_key, &now_ms.to_string(), RESEND_AFTER)
        .await?
    {
        let since = ctx
            .kv
            .get(&minute_key)
            .await?
            .and_then(|v| v.parse::<i64>().ok())
            .map_or(0, |taken| now_ms.saturating_sub(taken));
        let resend_ms = i64::try_from(RESEND_AFTER.as_millis()).unwrap_or(60_000);
        let wait = u64::try_from((resend_ms - since).clamp(1_000, resend_ms)).unwrap_or(1_000);
        return Err(ServiceError::rate_limited(
            "auth.sms_rate_limited",
            Duration::from_millis(wait),
        )
        .with_detail("验证码发送过于频繁，请稍后再试"));
    }
    let sent = send(ctx, phone, scope).await;
    if sent.is_err() {
        let _ = ctx.kv.delete(&minute_key).await;
    }
    sent
}

async fn send(ctx: &Context, phone: &Phone, scope: Scope<'_>) -> ServiceResult<Option<String>> {
    let limits = &ctx.config.limits;
    limit(
        ctx,
        format!("sms:limit:day:{}", phone.as_str()),
        Rate::per_day(limits.sms_phone_daily),
    )
    .await?;
    if ctx.providers.sms.is_none() && !ctx.config.sms_dev_echo {
        return Err(ServiceError::unavailable(
            "sms.not_configured",
            anyhow::anyhow!("no SMS gateway configured"),
        )
        .with_detail("短信服务未配置"));
    }
    let (spent, ends) = ctx.kv.incr_in_window(BUDGET_KEY, BUDGET_WINDOW).await?;
    if spent > u64::from(limits.sms_daily_budget) {
        tracing::warn!(
            budget = limits.sms_daily_budget,
            "sms daily budget spent: codes refused until the next UTC day"
        );
        let wait = (ends - ctx.now())
            .to_std()
            .unwrap_or(Duration::from_secs(60));
        return Err(ServiceError::rate_limited("sms.daily_budget_spent", wait)
            .with_detail("今日短信发送量已达上限，请明天再试或使用微信登录"));
    }

    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let stored = StoredCode {
        id: gongyou_domain::id::new_id(),
        hash: code_hash(ctx, scope, phone, &code),
    };
    let json = serde_json::to_string(&stored).map_err(ServiceError::internal)?;
    let key = code_key(scope, phone);
    ctx.kv.set(&key, &json, CODE_TTL).await?;

    if let Some(gateway) = &ctx.providers.sms {
        if let Err(e) = gateway.send_code(phone.as_str(), &code).await {
            let _ = ctx.kv.delete(&key).await;
            tracing::warn!(phone = %phone.masked(), error = %e, "sms delivery failed");
            return Err(match e {
                SmsError::RateLimited => {
                    ServiceError::rate_limited("sms.provider_rate_limited", Duration::from_secs(60))
                        .with_detail("短信发送过于频繁，请稍后再试")
                }
                SmsError::Rejected { .. } => {
                    ServiceError::rule("sms.rejected", "短信无法发送到该号码")
                }
                SmsError::Unavailable(_) => ServiceError::unavailable("sms.delivery_failed", e)
                    .with_detail("短信发送失败，请稍后重试"),
            });
        }
    }
    if ctx.config.sms_dev_echo {
        // Dev only (production refuses to start with echo on): the phone stays masked.
        tracing::info!(phone = %phone.masked(), purpose = scope.label(), dev_code = %code, "sms code issued (dev echo)");
        return Ok(Some(code));
    }
    tracing::info!(phone = %phone.masked(), purpose = scope.label(), "sms code issued");
    Ok(None)
}

/// Checks and consumes a code. Any failure is 401; the fifth wrong try kills the code.
pub async fn verify(
    ctx: &Context,
    phone: &Phone,
    purpose: Purpose,
    code: &str,
) -> ServiceResult<()> {
    verify_for(ctx, phone, Scope::Public(purpose), code).await
}

/// [`verify`] for any [`Scope`].
pub async fn verify_for(
    ctx: &Context,
    phone: &Phone,
    scope: Scope<'_>,
    code: &str,
) -> ServiceResult<()> {
    let invalid = || ServiceError::unauthenticated("auth.code_invalid", "验证码错误或已过期");
    let key = code_key(scope, phone);
    let Some(json) = ctx.kv.get(&key).await? else {
        return Err(invalid());
    };
    let stored: StoredCode = serde_json::from_str(&json).map_err(ServiceError::internal)?;
    let attempt = ctx
        .kv
        .incr(&format!("sms:tries:{}", stored.id), CODE_TTL * 2)
        .await?;
    if attempt > MAX_TRIES {
        let _ = ctx.kv.delete(&key).await;
        return Err(exhausted());
    }
    let given = code_hash(ctx, scope, phone, code.trim());
    if bool::from(given.as_bytes().ct_eq(stored.hash.as_bytes())) {
        // Single use: whoever deletes it first wins.
        return if ctx.kv.delete(&key).await? {
            Ok(())
        } else {
            Err(invalid())
        };
    }
    if attempt == MAX_TRIES {
        let _ = ctx.kv.delete(&key).await;
        return Err(exhausted());
    }
    Err(invalid())
}

fn exhausted() -> ServiceError {
    ServiceError::unauthenticated("auth.code_exhausted", "验证码错误次数过多，请重新获取")
}
