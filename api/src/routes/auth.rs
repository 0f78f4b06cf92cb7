//! Signing in and out: SMS codes, worker sessions (SMS, WeChat), staff sessions (password),
//! refresh-token rotation, step-up proofs.

use actix_web::{delete, post, web, HttpRequest, HttpResponse};
use gongyou_domain::phone::Phone;
use gongyou_services::accounts::sign_in;
use gongyou_services::accounts::sms_codes::Purpose;
use gongyou_services::accounts::views::{SmsCodeSent, StepUpProof, TokenResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::client_ip::client_ip;
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SmsCodeRequest {
    /// Mainland mobile number, 11 digits, `+86` accepted.
    #[schema(value_type = String, example = "13800138000", pattern = "^[ -]*(?:(?:\\+[ -]*8[ -]*6|0[ -]*0[ -]*8[ -]*6|8[ -]*6)[ -]*)?1[ -]*[3-9](?:[ -]*[0-9]){9}[ -]*$")]
    pub phone: Phone,
    pub purpose: Purpose,
}

/// Sends a one-time code by SMS (6 digits, 5 minutes, single use, 5 tries).
#[utoipa::path(
    tag = "auth",
    request_body = SmsCodeRequest,
    responses(
        (status = 202, description = "Sent", body = SmsCodeSent),
        (status = 400, description = "`request.invalid_body`: not a mainland mobile number, unknown purpose", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`sms.rejected`: the provider refused the number", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`auth.sms_rate_limited` (1/min and 10/day per phone, 20/hour per client network; configurable), `sms.daily_budget_spent` (the install's daily budget) or `sms.provider_rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`sms.delivery_failed` or `sms.not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/sms-codes")]
pub async fn send_sms_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<SmsCodeRequest>,
) -> ApiResult<HttpResponse> {
    let ip = client_ip(&req, &state.config.trusted_proxies);
    let sent = sign_in::send_code(&state, &body.phone, body.purpose, ip).await?;
    Ok(HttpResponse::Accepted().json(sent))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SmsSignIn {
    #[schema(value_type = String, example = "13800138000", pattern = "^[ -]*(?:(?:\\+[ -]*8[ -]*6|0[ -]*0[ -]*8[ -]*6|8[ -]*6)[ -]*)?1[ -]*[3-9](?:[ -]*[0-9]){9}[ -]*$")]
    pub phone: Phone,
    /// The 6-digit code.
    pub code: String,
}

/// Signs a worker in with an SMS code, creating the account on first sign-in.
#[utoipa::path(
    tag = "auth",
    request_body = SmsSignIn,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "Malformed body or phone", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`auth.code_invalid` (wrong, expired or used) or `auth.code_exhausted` (5 wrong tries)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.account_suspended`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/sessions/sms")]
pub async fn sign_in_sms(
    state: web::Data<AppState>,
    body: web::Json<SmsSignIn>,
) -> ApiResult<web::Json<TokenResponse>> {
    let SmsSignIn { phone, code } = body.into_inner();
    Ok(web::Json(sign_in::with_sms(&state, phone, &code).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WechatSignIn {
    /// The code from `wx.login()`: 1–128 visible ASCII characters.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub code: String,
}

/// Signs a worker in from the WeChat mini-program (`wx.login` code), creating the account
/// on first sign-in. Bind a phone with `POST /api/v1/me/phone/wechat` before joining.
#[utoipa::path(
    tag = "auth",
    request_body = WechatSignIn,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "`wechat.code_invalid` (40029, 40163)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.account_suspended`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`wechat.rate_limited` (45011)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`wechat.busy` (-1), `wechat.unavailable` or `wechat.not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/sessions/wechat")]
pub async fn sign_in_wechat(
    state: web::Data<AppState>,
    body: web::Json<WechatSignIn>,
) -> ApiResult<web::Json<TokenResponse>> {
    Ok(web::Json(sign_in::with_wechat(&state, &body.code).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordSignIn {
    pub username: String,
    pub password: String,
}

/// Signs staff in with username and password. Five failures lock the username for up to
/// 15 minutes; twenty from one address lock that address.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordSignIn,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "`auth.invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.account_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`auth.account_locked` or `auth.too_many_attempts`; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/sessions/password")]
pub async fn sign_in_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PasswordSignIn>,
) -> ApiResult<web::Json<TokenResponse>> {
    let PasswordSignIn { username, password } = body.into_inner();
    let ip = client_ip(&req, &state.config.trusted_proxies);
    Ok(web::Json(
        sign_in::with_password(&state, &username, password, ip).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for new tokens. Each refresh token works once: presented again
/// within 30 s it yields the same successor (flaky networks); later, it ends the session.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "`auth.refresh_invalid` (unknown, expired, session ended) or `auth.refresh_reused` (the session is ended for safety)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> ApiResult<web::Json<TokenResponse>> {
    Ok(web::Json(
        sign_in::refresh(&state, body.into_inner().refresh_token).await?,
    ))
}

/// Signs out: the session and its refresh tokens stop working at once.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/auth/sessions/current")]
pub async fn sign_out(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    sign_in::sign_out(&state, &caller).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct StepUpRequest {
    /// A code sent to the account's phone with purpose `step_up`.
    pub code: String,
}

/// Proves a fresh SMS code for a sensitive action (payee change, data export, …).
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = StepUpRequest,
    responses(
        (status = 200, body = StepUpProof),
        (status = 401, description = "`auth.code_invalid` or `auth.code_exhausted`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`auth.phone_required`: bind a phone first", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/step-up")]
pub async fn step_up(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<StepUpRequest>,
) -> ApiResult<web::Json<StepUpProof>> {
    Ok(web::Json(
        sign_in::step_up(&state, &caller, &body.code).await?,
    ))
}
