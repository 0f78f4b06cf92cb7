//! Staff management by union admins, within their own subtree and never above their own
//! rights (the rules are `gongyou_services::staff`).

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use gongyou_services::page::Page;
use gongyou_services::staff::{self, NewStaff, StaffChanges, StaffNames, StaffView};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::idempotency::{idempotent, IdempotencyKeyHeader};
use crate::paging::PageQuery;
use crate::state::AppState;

/// Lists staff whose home org lies in the caller's admin subtrees.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Page<StaffView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only` or `auth.role_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/staff")]
pub async fn list_staff(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<StaffView>>> {
    let page = page.into_inner().request()?;
    Ok(web::Json(staff::list(&state, &caller, page).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NamesQuery {
    /// Up to 100 staff ids, separated by commas.
    #[param(pattern = "^[0-9a-z-]{1,64}(,[0-9a-z-]{1,64}){0,99}$")]
    pub ids: String,
}

/// The display names of staff accounts, for any staff caller (trails, batches and claims
/// name the staff who acted by id). Unknown ids are left out.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(NamesQuery),
    responses(
        (status = 200, body = StaffNames),
        (status = 400, description = "`request.invalid_query`: not 1–100 ids", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/staff/names")]
pub async fn staff_names(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<NamesQuery>,
) -> ApiResult<web::Json<StaffNames>> {
    Ok(web::Json(
        staff::names(&state, &caller, &query.into_inner().ids).await?,
    ))
}

/// Creates a staff account in the caller's subtree.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = NewStaff,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = StaffView),
        (status = 400, description = "`staff.invalid_username`, `staff.invalid_display_name`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `auth.out_of_scope`, `staff.admin_from_above`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`staff.username_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`staff.weak_password`, `staff.unknown_org`, `staff.role_not_assignable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/staff")]
pub async fn create_staff(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<NewStaff>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let (ctx, owned, actor) = (state.clone(), body.clone(), caller.clone());
    idempotent(&state, &req, &actor, &body, || async move {
        let created = staff::create(&ctx, &caller, owned).await?;
        Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/api/v1/admin/staff/{}", created.id)))
            .json(created))
    })
    .await
}

/// Changes a staff member's roles, status, name or password. Role changes and disabling
/// take effect on the member's next request.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = StaffChanges,
    responses(
        (status = 200, body = StaffView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `auth.out_of_scope` (a role or the member reaches beyond your subtree), `staff.admin_from_above` (admins are granted and changed only from strictly above), `staff.not_on_yourself` (your own roles and password are changed from above)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`staff.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`staff.cannot_disable_self`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`staff.weak_password`, `staff.unknown_org`, `staff.role_not_assignable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/admin/staff/{id}")]
pub async fn update_staff(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<StaffChanges>,
) -> ApiResult<web::Json<StaffView>> {
    Ok(web::Json(
        staff::update(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}
