//! The union hierarchy: any signed-in caller may read it; union admins change their subtree.

use chrono::{DateTime, Utc};
use gongyou_db::orgs::{self, Org, OrgFilter};
use gongyou_db::write_tx;
use gongyou_domain::org::{parse_org_name, OrgPath, OrgType};
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};
use crate::text::OrgName;
use crate::Context;

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

/// Lists orgs (any signed-in caller), by id: all, the direct children of `parent_id`, or
/// those with `region_code`.
pub async fn list(
    ctx: &Context,
    parent_id: Option<String>,
    region_code: Option<String>,
    page: PageRequest,
) -> ServiceResult<Page<OrgView>> {
    let limit = page.limit;
    let rows = ctx
        .db
        .run(move |conn| {
            orgs::list(
                conn,
                &OrgFilter {
                    parent_id: parent_id.as_deref(),
                    within: None,
                    region_code: region_code.as_deref(),
                    after: page.cursor.as_deref(),
                    limit: page.fetch(),
                },
            )
        })
        .await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |o| o.id.clone(),
        |o| OrgView::from(&o),
    ))
}

fn org_not_found() -> ServiceError {
    ServiceError::not_found("org.not_found", "组织不存在")
}

/// One org (any signed-in caller).
pub async fn get(ctx: &Context, id: String) -> ServiceResult<OrgView> {
    let org = ctx
        .db
        .run(move |conn| orgs::get(conn, &id))
        .await?
        .ok_or_else(org_not_found)?;
    Ok(OrgView::from(&org))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct NewOrg {
    pub parent_id: String,
    /// 2–64 characters, unique among its siblings.
    #[schema(value_type = OrgName, inline)]
    pub name: String,
    pub org_type: OrgType,
    /// GB/T 2260 code, within the parent's region.
    pub region_code: RegionCode,
}

fn check_region(parent: &Org, region: RegionCode) -> ServiceResult<()> {
    let parent_region = parent
        .region_code
        .as_deref()
        .and_then(|c| RegionCode::parse(c).ok());
    match parent_region {
        Some(p) if !region.is_within(p) => Err(ServiceError::rule(
            "org.region_outside_parent",
            "组织所在地区须位于上级组织的地区之内",
        )),
        _ => Ok(()),
    }
}

fn validated_name(name: &str) -> ServiceResult<String> {
    parse_org_name(name)
        .ok_or_else(|| ServiceError::invalid("org.invalid_name", "组织名称须为 2 至 64 个字符"))
}

/// Creates an org under a parent (union admins of the parent's subtree).
pub async fn create(ctx: &Context, actor: &Actor, new: NewOrg) -> ServiceResult<OrgView> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let NewOrg {
        parent_id,
        name,
        org_type,
        region_code,
    } = new;
    let actor = actor.clone();
    let name = validated_name(&name)?;
    let now = ctx.now().naive_utc();
    let org = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Org> {
                let parent = orgs::get(conn, &parent_id)?.ok_or_else(org_not_found)?;
                authz::require_visible(
                    &actor,
                    Role::UnionAdmin,
                    &OrgPath::from_stored(parent.path.clone()),
                )?;
                check_region(&parent, region_code)?;
                if orgs::child_named(conn, &parent.id, &name)?.is_some() {
                    return Err(ServiceError::conflict(
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
    Ok(OrgView::from(&org))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OrgChanges {
    #[schema(value_type = Option<OrgName>, inline)]
    pub name: Option<String>,
    pub org_type: Option<OrgType>,
    pub region_code: Option<RegionCode>,
}

/// Changes an org's name, type or region (union admins of its subtree; never its place).
pub async fn update(
    ctx: &Context,
    actor: &Actor,
    id: String,
    changes: OrgChanges,
) -> ServiceResult<OrgView> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let OrgChanges {
        name,
        org_type,
        region_code,
    } = changes;
    let actor = actor.clone();
    let name = name.map(|n| validated_name(&n)).transpose()?;
    let now = ctx.now().naive_utc();
    let org = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Org> {
                let org = orgs::get(conn, &id)?.ok_or_else(org_not_found)?;
                authz::require(
                    &actor,
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
                        actor.holds(Role::UnionAdmin, &OrgPath::from_stored(p.path.clone()))
                    });
                    if !above {
                        return Err(ServiceError::forbidden(
                            "org.changed_from_above",
                            "组织的地区和类型须由上级组织的管理员修改",
                        ));
                    }
                }
                if let Some(region) = region_code {
                    let Some(parent) = &parent else {
                        return Err(ServiceError::rule(
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
                        return Err(ServiceError::rule(
                            "org.region_excludes_children",
                            "下级组织的地区须位于新地区之内",
                        ));
                    }
                }
                if let (Some(name), Some(parent)) = (&name, &parent) {
                    if orgs::child_named(conn, &parent.id, name)?.is_some_and(|o| o.id != org.id) {
                        return Err(ServiceError::conflict(
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
    Ok(OrgView::from(&org))
}
