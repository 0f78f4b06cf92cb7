//! The signed-in caller: `GET /api/v1/me`, binding a phone through WeChat.

use actix_web::{get, post, web};
use gongyou_services::accounts::views::{Me, PhoneBound};
use gongyou_services::accounts::{self, sign_in};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
