//! The member's side of membership: apply, follow the application, the e-card, transfer,
//! withdraw, export. Card verification (station managers and admins) is here too: it reads
//! the card.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use gongyou_services::membership::views::{
    ApplicationView, Card, CardVerification, MembershipView, MyMembership, TransferView,
};
use gongyou_services::membership::{
    self, CardVerificationRequest, NewApplication, TransferRequest, WithdrawalRequest,
};

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::idempotency::{idempotent, IdempotencyKeyHeader};
use crate::state::AppState;

/// Applies to join the union. The same response whether or not the ID number is already
/// held by another account (that goes to an identity-conflict review).
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    request_body = NewApplication,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = ApplicationView),
        (status = 400, description = "Malformed body (`request.invalid_body`, `request.malformed_json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.phone_required`, `membership.application_pending`, `membership.already_member`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.consent_required`, `membership.id_number_format`, `membership.id_number_region`, `membership.id_number_birth_date`, `membership.id_number_check_char`, `membership.age_not_eligible`, `membership.invalid_name`, `membership.region_unknown`, `membership.invalid_platform_worker_id`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/membership/applications")]
pub async fn apply(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<NewApplication>,
) -> ApiResult<HttpResponse> {
    caller.user_id()?;
    let body = body.into_inner();
    let (ctx, owned, actor) = (state.clone(), body.clone(), caller.clone());
    idempotent(&state, &req, &actor, &body, || async move {
        let view = membership::apply(&ctx, &caller, owned).await?;
        Ok(HttpResponse::Created()
            .insert_header((
                "Location",
                format!("/api/v1/membership/applications/{}", view.id),
            ))
            .json(view))
    })
    .await
}

/// One application: its applicant, or a union admin over the org it was routed to.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ApplicationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.application_not_found` (also: not yours)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/membership/applications/{id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ApplicationView>> {
    Ok(web::Json(
        membership::application(&state, &caller, id.into_inner()).await?,
    ))
}

/// The caller's membership and latest application.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MyMembership),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/membership")]
pub async fn my_membership(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<MyMembership>> {
    Ok(web::Json(membership::mine(&state, &caller).await?))
}

/// The e-card with a fresh QR token.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Card),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.not_active` (none, suspended or withdrawn)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/membership/card")]
pub async fn my_card(state: web::Data<AppState>, caller: Caller) -> ApiResult<web::Json<Card>> {
    Ok(web::Json(membership::my_card(&state, &caller).await?))
}

/// Verifies a scanned e-card (station managers and union admins).
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    request_body = CardVerificationRequest,
    responses(
        (status = 200, body = CardVerification),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "`request.invalid_body`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, or `station.not_yours` (a station the caller does not manage)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`station.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/membership/card-verifications")]
pub async fn verify_card(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CardVerificationRequest>,
) -> ApiResult<web::Json<CardVerification>> {
    Ok(web::Json(
        membership::verify_card(&state, &caller, body.into_inner()).await?,
    ))
}

/// Asks to move the membership to another grassroots union; its admins decide.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    request_body = TransferRequest,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = TransferView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.not_active`, `membership.transfer_pending`, `membership.same_org`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.transfer_target_invalid`: not a grassroots union", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/membership/transfers")]
pub async fn request_transfer(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<TransferRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let (ctx, owned, actor) = (state.clone(), body.clone(), caller.clone());
    idempotent(&state, &req, &actor, &body, || async move {
        let view = membership::request_transfer(&ctx, &caller, owned).await?;
        Ok(HttpResponse::Created().json(view))
    })
    .await
}

/// Leaves the union, optionally erasing personal data.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    request_body = WithdrawalRequest,
    responses(
        (status = 200, body = MembershipView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.none`, `membership.claims_open` (erasure asked while a claim is open)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.invalid_note`: the note breaks its text rule", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/membership/withdrawal")]
pub async fn withdraw(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<WithdrawalRequest>,
) -> ApiResult<web::Json<MembershipView>> {
    Ok(web::Json(
        membership::withdraw(&state, &caller, body.into_inner()).await?,
    ))
}

/// Withdraws the caller's own pending application: it is not reviewed, and a new one may
/// be made.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ApplicationView),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.application_not_found` (also another person's)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.application_decided`: no longer pending", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/membership/applications/{id}/withdrawal")]
pub async fn withdraw_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ApplicationView>> {
    Ok(web::Json(
        membership::withdraw_application(&state, &caller, id.into_inner()).await?,
    ))
}

/// Closes the caller's account and erases their personal data, irreversibly (PIPL art.
/// 47), after an SMS step-up (`X-Step-Up-Token`): a pending application is withdrawn, a
/// pending transfer cancelled, a membership withdrawn; then name, ID number, phone, WeChat
/// ids, birth date and platform id leave every application and membership, and the inbox,
/// devices, the free text of the history and report notes go. Every session ends; signing
/// in again starts a new account. The union's register keeps ids, dates and card numbers.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    params(("X-Step-Up-Token" = String, Header, description = "Proof of a fresh SMS code")),
    responses(
        (status = 204, description = "Erased; the account is closed"),
        (status = 403, description = "`auth.step_up_required`, `auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.claims_open`: a claim is in review or approved and unpaid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/me")]
pub async fn close_account(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let proof = req
        .headers()
        .get("x-step-up-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    membership::close_account(&state, &caller, proof).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// All the caller's data, unmasked (it is theirs): after an SMS step-up
/// (`X-Step-Up-Token` from `POST /api/v1/auth/step-up`).
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    params(("X-Step-Up-Token" = String, Header, description = "Proof of a fresh SMS code")),
    responses(
        (status = 200, description = "Account, applications, memberships, transfers and history as JSON", body = Object),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.step_up_required`, `auth.workers_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/data-export")]
pub async fn data_export(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let proof = req
        .headers()
        .get("x-step-up-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let export = membership::data_export(&state, &caller, proof).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(export))
}
