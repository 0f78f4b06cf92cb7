//! A union's membership settings: which (region, occupation) applications it takes, and
//! whether it approves them automatically.

use gongyou_db::membership as db;
use gongyou_db::{orgs, write_tx};
use gongyou_domain::membership::Occupation;
use gongyou_domain::org::OrgPath;
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::require_org;
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::Context;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Route {
    /// GB/T 2260 code within the union's region.
    #[schema(value_type = RegionCode)]
    pub region_code: String,
    /// An occupation, or `any`.
    #[schema(schema_with = occupation_or_any)]
    pub occupation: String,
}

/// The routes one union may take.
pub const MAX_ROUTES: usize = 100;

fn occupation_or_any() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(
            Occupation::ALL
                .iter()
                .map(|o| o.as_str())
                .chain([db::ANY_OCCUPATION]),
        ))
        .build()
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MembershipSettings {
    /// Approve applications routed here at once (not those under identity review).
    pub auto_approve: bool,
    /// Applications from these regions and occupations are routed to this union (else to a
    /// grassroots union of the region, else to the nearest union above it). At most 100.
    #[schema(max_items = 100)]
    pub routes: Vec<Route>,
}

fn org_not_found() -> ServiceError {
    ServiceError::not_found("org.not_found", "组织不存在")
}

/// A union's settings (union admins of its subtree).
pub async fn settings(
    ctx: &Context,
    actor: &Actor,
    org_id: String,
) -> ServiceResult<MembershipSettings> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<MembershipSettings> {
            let org = require_org(conn, &actor, &org_id, org_not_found)?;
            Ok(MembershipSettings {
                auto_approve: db::auto_approve(conn, &org.id)?,
                routes: db::routes_to(conn, &org.id)?
                    .into_iter()
                    .map(|(region_code, occupation)| Route {
                        region_code,
                        occupation,
                    })
                    .collect(),
            })
        })
        .await
}

/// Replaces a union's settings. A route another union holds may only be taken by an admin
/// over that union too.
pub async fn put_settings(
    ctx: &Context,
    actor: &Actor,
    org_id: String,
    settings: MembershipSettings,
) -> ServiceResult<MembershipSettings> {
    authz::scopes(actor, Role::UnionAdmin)?;
    if settings.routes.len() > MAX_ROUTES {
        return Err(ServiceError::invalid(
            "request.invalid_body",
            "一个工会最多设置 100 条路由",
        ));
    }
    let now = ctx.now().naive_utc();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<MembershipSettings> {
                let org = require_org(conn, &actor, &org_id, org_not_found)?;
                let org_region = org
                    .region_code
                    .as_deref()
                    .and_then(|c| RegionCode::parse(c).ok());
                let invalid = || {
                    ServiceError::rule(
                        "membership.route_invalid",
                        "路由的地区或职业不正确，或不在本工会地区内",
                    )
                };
                db::clear_routes_to(conn, &org.id)?;
                let mut seen = std::collections::HashSet::new();
                for route in &settings.routes {
                    if !seen.insert((&route.region_code, &route.occupation)) {
                        continue;
                    }
                    let region = RegionCode::parse(&route.region_code).map_err(|_| invalid())?;
                    if org_region.is_some_and(|r| !region.is_within(r)) {
                        return Err(invalid());
                    }
                    if route.occupation != db::ANY_OCCUPATION
                        && Occupation::parse(&route.occupation).is_none()
                    {
                        return Err(invalid());
                    }
                    if let Some(owner) =
                        db::route_owner(conn, &region.to_string(), &route.occupation)?
                    {
                        let owner_path =
                            orgs::get(conn, &owner)?.map(|o| o.path).unwrap_or_default();
                        if !actor.holds(Role::UnionAdmin, &OrgPath::from_stored(owner_path)) {
                            return Err(ServiceError::conflict(
                                "membership.route_taken",
                                "该地区和职业的入会申请已由您管理范围以外的工会受理",
                            ));
                        }
                    }
                    db::set_route(conn, &region.to_string(), &route.occupation, &org.id, now)?;
                }
                db::set_auto_approve(conn, &org.id, settings.auto_approve, now)?;
                Ok(settings)
            })
        })
        .await
}
