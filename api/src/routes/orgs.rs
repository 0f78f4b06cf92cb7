//! The union hierarchy: any signed-in caller may read it; union admins change their subtree.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use gongyou_services::orgs::{self, NewOrg, OrgChanges, OrgView};
use gongyou_services::page::Page;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::idempotency::{idempotent, IdempotencyKeyHeader};
use crate::paging::PageQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct OrgListQuery {
    /// Only the direct children of this org.
    #[param(nullable = false)]
    pub parent_id: Option<String>,
    /// Only orgs with this region code.
    #[param(nullable = false)]
    pub region_code: Option<String>,
}

/// Lists orgs (any signed-in caller), by id, with cursor pagination.
#[utoipa::path(
    tag = "orgs",
    security(("bearer" = [])),
    params(OrgListQuery, PageQuery),
    responses(
        (status = 200, body = Page<OrgView>),
        (status = 400, description = "`request.invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orgs")]
pub async fn list_orgs(
    state: web::Data<AppState>,
    _caller: Caller,
    filter: web::Query<OrgListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<OrgView>>> {
    let page = page.into_inner().request()?;
    let OrgListQuery {
        parent_id,
        region_code,
    } = filter.into_inner();
    Ok(web::Json(
        orgs::list(&state, parent_id, region_code, page).await?,
    ))
}

/// One org (any signed-in caller).
#[utoipa::path(
    tag = "orgs",
    security(("bearer" = [])),
    responses(
        (status = 200, body = OrgView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orgs/{id}")]
pub async fn get_org(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<OrgView>> {
    Ok(web::Json(orgs::get(&state, id.into_inner()).await?))
}

/// Creates an org under a parent (union admins of the parent's subtree).
#[utoipa::path(
    tag = "orgs",
    security(("bearer" = [])),
    request_body = NewOrg,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = OrgView),
        (status = 400, description = "`org.invalid_name`, unknown region code or org type", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required` or `auth.out_of_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`: no such parent", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`org.name_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`org.region_outside_parent`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orgs")]
pub async fn create_org(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<NewOrg>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let (ctx, owned, actor) = (state.clone(), body.clone(), caller.clone());
    idempotent(&state, &req, &actor, &body, || async move {
        let org = orgs::create(&ctx, &caller, owned).await?;
        Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/api/v1/orgs/{}", org.id)))
            .json(org))
    })
    .await
}

/// Changes an org's name, type or region (union admins of its subtree; never its place).
#[utoipa::path(
    tag = "orgs",
    security(("bearer" = [])),
    request_body = OrgChanges,
    responses(
        (status = 200, body = OrgView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, or `org.changed_from_above` (region and type are changed by an admin of the parent)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`org.name_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`org.region_outside_parent`, `org.region_excludes_children` or `org.root_has_no_region`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/orgs/{id}")]
pub async fn update_org(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<OrgChanges>,
) -> ApiResult<web::Json<OrgView>> {
    Ok(web::Json(
        orgs::update(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}
