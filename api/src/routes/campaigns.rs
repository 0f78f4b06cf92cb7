//! Campaigns: a union admin's notice to the active members of their subtree (optionally
//! one occupation), e.g. a heat-wave warning. Fanned out by a job in batches.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use gongyou_services::notifications::campaigns::{self, CampaignView, NewCampaign};
use gongyou_services::page::Page;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::idempotency::{idempotent, IdempotencyKeyHeader};
use crate::paging::PageQuery;
use crate::state::AppState;

/// Sends a notice to a subtree's active members.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    request_body = NewCampaign,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = CampaignView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `auth.out_of_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`campaign.invalid_title`, `campaign.invalid_body`, `campaign.unknown_org`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/campaigns")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<NewCampaign>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let (ctx, owned, actor) = (state.clone(), body.clone(), caller.clone());
    idempotent(&state, &req, &actor, &body, || async move {
        let created = campaigns::create(&ctx, &caller, owned).await?;
        Ok(HttpResponse::Created()
            .insert_header((
                "Location",
                format!("/api/v1/admin/campaigns/{}", created.id),
            ))
            .json(created))
    })
    .await
}

/// Admins' notices to orgs in the caller's subtrees, newest first, with their progress.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Page<CampaignView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only` or `auth.role_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/campaigns")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<CampaignView>>> {
    let page = page.into_inner().request()?;
    Ok(web::Json(campaigns::list(&state, &caller, page).await?))
}

/// A campaign's progress and delivery counts.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CampaignView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`campaign.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/campaigns/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<CampaignView>> {
    Ok(web::Json(
        campaigns::get(&state, &caller, id.into_inner()).await?,
    ))
}
