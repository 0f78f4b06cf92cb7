//! The signed-in caller: `GET /api/v1/me`, binding a phone through WeChat, a staff
//! member's contact phone.

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use gongyou_domain::phone::Phone;
use gongyou_services::accounts::contact_phone::{self, ContactPhonePending, ContactPhoneVerified};
use gongyou_services::accounts::views::{Me, PhoneBound};
use gongyou_services::accounts::{self, sign_in};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::client_ip::client_ip;
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// The signed-in caller.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        (status = 401, description = "Not signed in, or the session ended", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, caller: Caller) -> ApiResult<web::Json<Me>> {
    Ok(web::Json(sign_in::me(&state, &caller).await?))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct WechatPhoneRequest {
    /// The `code` from the mini-program's `getPhoneNumber` button: 1–128 visible ASCII
    /// characters.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub code: String,
    /// When the phone already has an account (the answer was 409
    /// `auth.phone_verification_required`): an SMS code sent to that phone with purpose
    /// `bind_phone`. A recycled number must not hand its account over on WeChat's word alone.
    pub sms_code: Option<String>,
}

/// Binds the phone WeChat vouches for to the signed-in worker. When that phone already has
/// an account, this WeChat account is merged into it: one person, one account.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = WechatPhoneRequest,
    responses(
        (status = 200, body = PhoneBound),
        (status = 401, description = "`wechat.code_invalid`: the code is invalid or used", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`auth.code_invalid` / `auth.code_exhausted`: the `sms_code` for merging", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`auth.phone_verification_required` (the phone has an account: send `sms_code`), `auth.phone_already_bound` (another phone is bound) or `auth.wechat_conflict` (the phone's account has another WeChat)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`auth.phone_not_mainland`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`wechat.rate_limited`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`wechat.not_configured` or `wechat.busy`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/phone/wechat")]
pub async fn bind_phone_wechat(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<WechatPhoneRequest>,
) -> ApiResult<web::Json<PhoneBound>> {
    let body = body.into_inner();
    Ok(web::Json(
        accounts::bind_phone_wechat(&state, &caller, &body.code, body.sms_code.as_deref()).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ContactPhoneRequest {
    /// Mainland mobile number, 11 digits, `+86` accepted.
    #[schema(value_type = String, example = "13800138000", pattern = "^[ -]*(?:(?:\\+[ -]*8[ -]*6|0[ -]*0[ -]*8[ -]*6|8[ -]*6)[ -]*)?1[ -]*[3-9](?:[ -]*[0-9]){9}[ -]*$")]
    pub phone: Phone,
}

/// Sets the signed-in staff member's contact phone, where staff notices that cannot wait
/// (money left the paying account that Gongyou did not send) also go by SMS. Sends a code
/// to it (6 digits, 5 minutes, single use, 5 tries; the limits of sign-in codes); the number
/// becomes the contact phone once `POST /api/v1/me/contact-phone/verify` returns the code,
/// and a phone verified before keeps receiving notices until then.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = ContactPhoneRequest,
    responses(
        (status = 202, description = "Code sent; the number waits for it", body = ContactPhonePending),
        (status = 400, description = "`request.invalid_body`: not a mainland mobile number", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`sms.rejected`: the provider refused the number", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`auth.sms_rate_limited` (1/min and 10/day per phone, 20/hour per client network; configurable), `sms.daily_budget_spent` (the install's daily budget) or `sms.provider_rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`sms.delivery_failed` or `sms.not_configured`; `service.database_unavailable` or `service.cache_unavailable` (see `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/me/contact-phone")]
pub async fn put_contact_phone(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<ContactPhoneRequest>,
) -> ApiResult<HttpResponse> {
    let ip = client_ip(&req, &state.config.trusted_proxies);
    let pending = contact_phone::set(&state, &caller, body.into_inner().phone, ip).await?;
    Ok(HttpResponse::Accepted().json(pending))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ContactPhoneCode {
    /// The 6-digit code sent to the number waiting for it.
    pub code: String,
}

/// Verifies the staff member's waiting contact phone with the code sent to it.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = ContactPhoneCode,
    responses(
        (status = 200, body = ContactPhoneVerified),
        (status = 401, description = "`auth.code_invalid` (wrong, expired or used) or `auth.code_exhausted` (5 wrong tries); or the session's own: `auth.unauthenticated`, `auth.token_invalid`, `auth.token_expired`, `auth.session_revoked`, `auth.account_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`staff.contact_phone_not_pending` (no number waits for a code: set one first) or `staff.contact_phone_changed` (another number was set after this code was sent)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/contact-phone/verify")]
pub async fn verify_contact_phone(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ContactPhoneCode>,
) -> ApiResult<web::Json<ContactPhoneVerified>> {
    Ok(web::Json(
        contact_phone::verify(&state, &caller, &body.code).await?,
    ))
}

/// Removes the staff member's contact phone (verified or waiting): staff notices then go to
/// the inbox only.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed (also when there was none)"),
        (status = 403, description = "`auth.staff_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/me/contact-phone")]
pub async fn delete_contact_phone(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    contact_phone::remove(&state, &caller).await?;
    Ok(HttpResponse::NoContent().finish())
}
