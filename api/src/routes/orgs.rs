//! The union hierarchy: any signed-in caller may read it; union admins change their subtree.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use gongyou_db::orgs::{self, Org, OrgFilter};
use gongyou_db::write_tx;
use gongyou_domain::org::{parse_org_name, OrgPath, OrgType};
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::page::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub id: String,
    /// Null for the national federation only.
    pub parent_id: Option<String>,
    pub name: String,
    #[schema(value_type = String, example = "federation")]
    pub org_type: String,
    /// GB/T 2260 code; null for the national federation.
    pub region_code: Option<String>,
    pub region_name: Option<String>,
    /// Ids from the root down to this org.
    pub ancestor_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Org> for OrgView {
    fn from(org: &Org) -> Self {
        let path = OrgPath::from_stored(org.path.clone());
        let ids: Vec<String> = path.ids().map(str::to_owned).collect();
        Self {
            id: org.id.clone(),
            parent_id: org.parent_id.clone(),
            name: org.name.clone(),
            org_type: org.org_type.clone(),
            region_code: org.region_code.clone(),
            region_name: org
                .region_code
                .as_deref()
                .and_then(|c| RegionCode::parse(c).ok())
                .map(|c| c.name().to_owned()),
            ancestor_ids: ids[..ids.len().saturating_sub(1)].to_vec(),
            created_at: org.created_at.and_utc(),
            updated_at: org.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OrgListQuery {
    /// Only the direct children of this org.
    pub parent_id: Option<String>,
    /// Only orgs with this region code.
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
    let limit = page.limit()?;
    let (filter, cursor) = (filter.into_inner(), page.into_inner().cursor);
    let rows = state
        .db
        .run(move |conn| {
            orgs::list(
                conn,
                &OrgFilter {
                    parent_id: filter.parent_id.as_deref(),
                    within: None,
                    region_code: filter.region_code.as_deref(),
                    after: cursor.as_deref(),
                    limit: limit + 1,
                },
            )
        })
        .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |o| o.id.clone(),
        |o| OrgView::from(&o),
    )))
}

fn org_not_found() -> ApiError {
    ApiError::not_found("org.not_found", "组织不存在")
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
    let id = id.into_inner();
    let org = state
        .db
        .run(move |conn| orgs::get(conn, &id))
        .await?
        .ok_or_else(org_not_found)?;
    Ok(web::Json(OrgView::from(&org)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrg {
    pub parent_id: String,
    /// 2–64 characters, unique among its siblings.
    pub name: String,
    #[schema(value_type = String, example = "grassroots_union")]
    pub org_type: OrgType,
    /// GB/T 2260 code, within the parent's region.
    #[schema(value_type = String, example = "510104")]
    pub region_code: RegionCode,
}

fn check_region(parent: &Org, region: RegionCode) -> ApiResult<()> {
    let parent_region = parent
        .region_code
        .as_deref()
        .and_then(|c| RegionCode::parse(c).ok());
    match parent_region {
        Some(p) if !region.is_within(p) => Err(ApiError::unprocessable(
            "org.region_outside_parent",
            "组织所在地区须位于上级组织的地区之内",
        )),
        _ => Ok(()),
    }
}

fn validated_name(name: &str) -> ApiResult<String> {
    parse_org_name(name)
        .ok_or_else(|| ApiError::bad_request("org.invalid_name", "组织名称须为 2 至 64 个字符"))
}

/// Creates an org under a parent (union admins of the parent's subtree).
#[utoipa::path(
    tag = "orgs",
    security(("bearer" = [])),
    request_body = NewOrg,
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
    caller: Caller,
    body: web::Json<NewOrg>,
) -> ApiResult<HttpResponse> {
    authz::scopes(&caller, Role::UnionAdmin)?;
    let NewOrg {
        parent_id,
        name,
        org_type,
        region_code,
    } = body.into_inner();
    let name = validated_name(&name)?;
    let now = state.clock.now().naive_utc();
    let org = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<Org> {
                let parent = orgs::get(conn, &parent_id)?.ok_or_else(org_not_found)?;
                authz::require_visible(
                    &caller,
                    Role::UnionAdmin,
                    &OrgPath::from_stored(parent.path.clone()),
                )?;
                check_region(&parent, region_code)?;
                if orgs::child_named(conn, &parent.id, &name)?.is_some() {
                    return Err(ApiError::conflict(
                        "org.name_taken",
                        "同一上级组织下已有同名组织",
                    ));
                }
                let id = gongyou_domain::id::new_id();
                let org = Org {
                    path: OrgPath::from_stored(parent.path.clone())
                        .child(&id)
                        .as_str()
                        .to_owned(),
                    id,
                    parent_id: Some(parent.id),
                    name,
                    org_type: org_type.as_str().to_owned(),
                    region_code: Some(region_code.to_string()),
                    created_at: now,
                    updated_at: now,
                };
                orgs::insert(conn, &org)?;
                Ok(org)
            })
        })
        .await?;
    tracing::info!(org = %org.id, "org created");
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/orgs/{}", org.id)))
        .json(OrgView::from(&org)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OrgChanges {
    pub name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub org_type: Option<OrgType>,
    #[schema(value_type = Option<String>)]
    pub region_code: Option<RegionCode>,
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
    authz::scopes(&caller, Role::UnionAdmin)?;
    let id = id.into_inner();
    let OrgChanges {
        name,
        org_type,
        region_code,
    } = body.into_inner();
    let name = name.map(|n| validated_name(&n)).transpose()?;
    let now = state.clock.now().naive_utc();
    let org = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<Org> {
                let org = orgs::get(conn, &id)?.ok_or_else(org_not_found)?;
                authz::require(
                    &caller,
                    Role::UnionAdmin,
                    &OrgPath::from_stored(org.path.clone()),
                    org_not_found,
                )?;
                let parent = match &org.parent_id {
                    Some(pid) => orgs::get(conn, pid)?,
                    None => None,
                };
                // Where an org stands (its region, its type) is decided from above: an admin
                // of the org itself may rename it, not move its reach.
                if region_code.is_some() || org_type.is_some() {
                    let above = parent.as_ref().is_some_and(|p| {
                        caller.holds(Role::UnionAdmin, &OrgPath::from_stored(p.path.clone()))
                    });
                    if !above {
                        return Err(ApiError::forbidden(
                            "org.changed_from_above",
                            "组织的地区和类型须由上级组织的管理员修改",
                        ));
                    }
                }
                if let Some(region) = region_code {
                    let Some(parent) = &parent else {
                        return Err(ApiError::unprocessable(
                            "org.root_has_no_region",
                            "全国组织没有地区代码",
                        ));
                    };
                    check_region(parent, region)?;
                    let below = orgs::list(
                        conn,
                        &OrgFilter {
                            within: Some(&org.path),
                            limit: 100_000,
                            ..Default::default()
                        },
                    )?;
                    let outside = below.iter().filter(|o| o.id != org.id).any(|o| {
                        o.region_code
                            .as_deref()
                            .and_then(|c| RegionCode::parse(c).ok())
                            .is_some_and(|c| !c.is_within(region))
                    });
                    if outside {
                        return Err(ApiError::unprocessable(
                            "org.region_excludes_children",
                            "下级组织的地区须位于新地区之内",
                        ));
                    }
                }
                if let (Some(name), Some(parent)) = (&name, &parent) {
                    if orgs::child_named(conn, &parent.id, name)?.is_some_and(|o| o.id != org.id) {
                        return Err(ApiError::conflict(
                            "org.name_taken",
                            "同一上级组织下已有同名组织",
                        ));
                    }
                }
                let region = region_code.map(|r| r.to_string());
                orgs::update(
                    conn,
                    &org.id,
                    name.as_deref(),
                    org_type.map(OrgType::as_str),
                    region.as_deref().map(Some),
                    now,
                )?;
                Ok(orgs::get(conn, &org.id)?.unwrap_or(org))
            })
        })
        .await?;
    Ok(web::Json(OrgView::from(&org)))
}
