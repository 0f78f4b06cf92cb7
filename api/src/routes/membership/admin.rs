//! Union admins' side of membership, each scoped to the admin's subtree: review
//! applications, decide transfers into their unions, search, suspend and reinstate members,
//! read unmasked identity (logged), and configure routing and auto-approval.

use actix_web::{get, post, put, web};
use gongyou_domain::status::{ApplicationStatus, MembershipStatus, TransferStatus};
use gongyou_services::membership::views::{
    ApplicationView, Identity, MemberDetail, MembershipView, TransferView,
};
use gongyou_services::membership::{self, MembershipSettings};
use gongyou_services::page::Page;
use gongyou_services::text::{DecisionReason, OptionalNote, ReadPurpose};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::paging::PageQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ApplicationListQuery {
    /// `pending`, `approved` or `rejected`.
    #[param(value_type = Option<ApplicationStatus>, nullable = false)]
    pub status: Option<String>,
    /// Only applications whose ID number is already held by another account.
    #[param(nullable = false)]
    pub identity_conflict: Option<bool>,
}

/// Applications routed to unions in the caller's subtree.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    params(ApplicationListQuery, PageQuery),
    responses(
        (status = 200, body = Page<ApplicationView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/membership/applications")]
pub async fn list_applications(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<ApplicationListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ApplicationView>>> {
    let page = page.into_inner().request()?;
    let filter = filter.into_inner();
    Ok(web::Json(
        membership::applications(
            &state,
            &caller,
            filter.status.as_deref(),
            filter.identity_conflict,
            page,
        )
        .await?,
    ))
}

/// Approves an application: the member gets a card number and a joined date.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MembershipView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.application_not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.application_decided`, `membership.already_member`, `membership.identity_in_use`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/membership/applications/{id}/approve")]
pub async fn approve_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<MembershipView>> {
    Ok(web::Json(
        membership::approve(&state, &caller, id.into_inner()).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Decision {
    /// Why (required for rejections and suspensions; shown to the worker).
    #[schema(value_type = DecisionReason, inline)]
    pub reason: String,
}

/// Rejects an application with a reason.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = Decision,
    responses(
        (status = 200, body = ApplicationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.application_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.application_decided`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.reason_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/membership/applications/{id}/reject")]
pub async fn reject_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Decision>,
) -> ApiResult<web::Json<ApplicationView>> {
    Ok(web::Json(
        membership::reject(&state, &caller, id.into_inner(), &body.reason).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TransferListQuery {
    /// `pending`, `approved`, `rejected` or `cancelled`.
    #[param(value_type = Option<TransferStatus>, nullable = false)]
    pub status: Option<String>,
}

/// Transfers into unions of the caller's subtree.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    params(TransferListQuery, PageQuery),
    responses(
        (status = 200, body = Page<TransferView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/membership/transfers")]
pub async fn list_transfers(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<TransferListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<TransferView>>> {
    let page = page.into_inner().request()?;
    Ok(web::Json(
        membership::transfers(&state, &caller, filter.status.as_deref(), page).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferDecision {
    #[schema(value_type = Option<OptionalNote>, inline)]
    pub note: Option<String>,
}

/// Approves a transfer into one of the caller's unions: the member moves, with a new card number.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = TransferDecision,
    responses(
        (status = 200, body = TransferView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.transfer_not_found` (also: not into your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.transfer_decided`, `membership.not_active`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.invalid_note`: the note breaks its text rule", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/membership/transfers/{id}/approve")]
pub async fn approve_transfer(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: Option<web::Json<TransferDecision>>,
) -> ApiResult<web::Json<TransferView>> {
    let note = body.and_then(|b| b.into_inner().note);
    Ok(web::Json(
        membership::decide_transfer(&state, &caller, id.into_inner(), true, note).await?,
    ))
}

/// Rejects a transfer into one of the caller's unions.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = TransferDecision,
    responses(
        (status = 200, body = TransferView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.transfer_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.transfer_decided`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.invalid_note`: the note breaks its text rule", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/membership/transfers/{id}/reject")]
pub async fn reject_transfer(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: Option<web::Json<TransferDecision>>,
) -> ApiResult<web::Json<TransferView>> {
    let note = body.and_then(|b| b.into_inner().note);
    Ok(web::Json(
        membership::decide_transfer(&state, &caller, id.into_inner(), false, note).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MemberSearch {
    /// A card number, a phone number, an ID number (matched by its blind index) or the
    /// beginning of a name.
    #[param(nullable = false)]
    pub q: Option<String>,
    /// `active`, `suspended` or `withdrawn`.
    #[param(value_type = Option<MembershipStatus>, nullable = false)]
    pub status: Option<String>,
}

/// Searches members of unions in the caller's subtree.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    params(MemberSearch, PageQuery),
    responses(
        (status = 200, body = Page<MembershipView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/members")]
pub async fn search_members(
    state: web::Data<AppState>,
    caller: Caller,
    search: web::Query<MemberSearch>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<MembershipView>>> {
    let page = page.into_inner().request()?;
    let MemberSearch { q, status } = search.into_inner();
    Ok(web::Json(
        membership::search(&state, &caller, q, status.as_deref(), page).await?,
    ))
}

/// One member, with history and the log of identity reads.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MemberDetail),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.member_not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/members/{membership_id}")]
pub async fn get_member(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<MemberDetail>> {
    Ok(web::Json(
        membership::member(&state, &caller, id.into_inner()).await?,
    ))
}

/// Suspends an active membership (the e-card stops verifying).
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = Decision,
    responses(
        (status = 200, body = MembershipView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.member_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.wrong_status`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.reason_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/members/{membership_id}/suspend")]
pub async fn suspend(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Decision>,
) -> ApiResult<web::Json<MembershipView>> {
    Ok(web::Json(
        membership::suspend(&state, &caller, id.into_inner(), &body.reason).await?,
    ))
}

/// Reinstates a suspended membership.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = Decision,
    responses(
        (status = 200, body = MembershipView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.member_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.wrong_status`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.reason_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/members/{membership_id}/reinstate")]
pub async fn reinstate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Decision>,
) -> ApiResult<web::Json<MembershipView>> {
    Ok(web::Json(
        membership::reinstate(&state, &caller, id.into_inner(), &body.reason).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct IdentityReadRequest {
    /// Why the unmasked identity is needed (recorded): at least 4 characters.
    #[schema(value_type = ReadPurpose, inline)]
    pub purpose: String,
}

/// Reads a member's unmasked ID number, for a stated purpose; the read is recorded.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = IdentityReadRequest,
    responses(
        (status = 200, body = Identity),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.member_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.erased`: erased at the member's request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.purpose_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/members/{membership_id}/identity-reads")]
pub async fn read_identity(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<IdentityReadRequest>,
) -> ApiResult<web::Json<Identity>> {
    Ok(web::Json(
        membership::read_identity(&state, &caller, id.into_inner(), &body.purpose).await?,
    ))
}

/// A union's membership settings: routing and auto-approval.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MembershipSettings),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/orgs/{id}/membership-settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<MembershipSettings>> {
    Ok(web::Json(
        membership::settings(&state, &caller, id.into_inner()).await?,
    ))
}

/// Replaces a union's membership settings.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = MembershipSettings,
    responses(
        (status = 200, body = MembershipSettings),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.route_taken`: a union outside your subtree takes these applications", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.route_invalid`: unknown region or occupation, or outside the union's region", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/admin/orgs/{id}/membership-settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<MembershipSettings>,
) -> ApiResult<web::Json<MembershipSettings>> {
    Ok(web::Json(
        membership::put_settings(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}
