//! Staff management by union admins, within their own subtree and never above their own
//! rights: every org named (home org, role scopes) must lie in the admin's subtree, and only
//! staff wholly inside it (home org and every grant) can be changed.

use chrono::{DateTime, Utc};
use gongyou_db::staff::{self as staff_db, Staff, STAFF_ACTIVE, STAFF_DISABLED};
use gongyou_db::{accounts, orgs, write_tx, DbConnection};
use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::{NewPassword, Role, Username};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::password;
use crate::accounts::principal::invalidate_subject;
use crate::accounts::tokens::SubjectKind;
use crate::accounts::views::{role_views, RoleView};
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};
use crate::text::DisplayName;
use crate::views::{org_ref, OrgRef};
use crate::Context;

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// The org the staff member belongs to.
    pub org: OrgRef,
    /// `active` or `disabled`.
    pub status: String,
    pub roles: Vec<RoleView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn view(conn: &mut DbConnection, member: &Staff) -> ServiceResult<StaffView> {
    Ok(StaffView {
        id: member.id.clone(),
        username: member.username.clone(),
        display_name: member.display_name.clone(),
        org: org_ref(conn, &member.org_id)?,
        status: member.status.clone(),
        roles: role_views(conn, &member.id)?,
        created_at: member.created_at.and_utc(),
        updated_at: member.updated_at.and_utc(),
    })
}

/// A colleague's name, as the trails and batches show who did what.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffName {
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffNames {
    /// The ids asked for that name a staff account (unknown ids are left out), by id.
    pub items: Vec<StaffName>,
}

/// Ids one request may ask for.
pub const MAX_NAMES: usize = 100;

/// The display names of staff accounts, for any staff caller: events, batches and claims
/// name the staff who acted by id, and a finance approver or reviewer may not list staff.
/// Display names only (no username, org or roles).
pub async fn names(ctx: &Context, actor: &Actor, ids: &str) -> ServiceResult<StaffNames> {
    actor.staff()?;
    let mut ids: Vec<String> = ids.split(',').map(str::to_owned).collect();
    let valid = |id: &String| {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if ids.len() > MAX_NAMES || !ids.iter().all(valid) {
        return Err(ServiceError::invalid(
            "request.invalid_query",
            "ids 须为 1 至 100 个以逗号分隔的工作人员编号",
        ));
    }
    ids.sort();
    ids.dedup();
    ctx.db
        .run(move |conn| -> ServiceResult<StaffNames> {
            let items = staff_db::names(conn, &ids)?
                .into_iter()
                .map(|(id, display_name)| StaffName { id, display_name })
                .collect();
            Ok(StaffNames { items })
        })
        .await
}

fn staff_not_found() -> ServiceError {
    ServiceError::not_found("staff.not_found", "工作人员不存在")
}

/// Lists staff whose home org lies in the actor's admin subtrees.
pub async fn list(
    ctx: &Context,
    actor: &Actor,
    page: PageRequest,
) -> ServiceResult<Page<StaffView>> {
    let scopes = authz::scope_paths(actor, Role::UnionAdmin)?;
    ctx.db
        .run(move |conn| -> ServiceResult<Page<StaffView>> {
            let rows = staff_db::list(conn, &scopes, page.cursor.as_deref(), page.fetch())?;
            Page::from_rows(rows, page.limit, |(m, _)| m.id.clone(), |(m, _)| m)
                .try_map(|m| view(conn, &m))
        })
        .await
}

#[derive(Debug, Deserialize, Serialize, ToSchema, Clone)]
pub struct RoleGrant {
    /// `claims_reviewer`, `finance_approver` or `union_admin` (`station_manager` is granted
    /// per station, with the stations feature).
    #[schema(schema_with = assignable_role_schema)]
    pub role: Role,
    /// The org whose subtree the role covers.
    pub org_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct NewStaff {
    /// 3–32 characters of a–z, 0–9, `.`, `_`, `-`, starting with a letter.
    #[schema(pattern = "^[a-z][a-z0-9._-]{2,31}$")]
    pub username: String,
    #[schema(value_type = DisplayName, inline)]
    pub display_name: String,
    /// 10–128 characters, mixing digits and other characters.
    #[schema(min_length = 10, max_length = 128, pattern = "[0-9][^0-9]|[^0-9][0-9]")]
    pub password: String,
    /// Home org, inside your subtree.
    pub org_id: String,
    #[serde(default)]
    #[schema(max_items = 50)]
    pub roles: Vec<RoleGrant>,
}

/// Grants one request may carry.
const MAX_GRANTS: usize = 50;

/// The roles granted on an org subtree (station managers are assigned per station).
fn assignable_role_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(
            Role::ALL
                .iter()
                .filter(|r| **r != Role::StationManager)
                .map(|r| r.as_str()),
        ))
        .build()
}

/// Checks grants against the admin's scope; returns (role, org id) pairs.
fn checked_grants(
    conn: &mut DbConnection,
    caller: &Actor,
    grants: &[RoleGrant],
) -> ServiceResult<Vec<(String, String)>> {
    if grants.len() > MAX_GRANTS {
        return Err(ServiceError::invalid(
            "request.invalid_body",
            "一次最多授予 50 个角色",
        ));
    }
    let mut out = Vec::new();
    for grant in grants {
        if grant.role == Role::StationManager {
            return Err(ServiceError::rule(
                "staff.role_not_assignable",
                "驿站管理员需在驿站上指派，不能按组织授予",
            ));
        }
        let org = orgs::get(conn, &grant.org_id)?
            .ok_or_else(|| ServiceError::rule("staff.unknown_org", "授权的组织不存在"))?;
        let path = OrgPath::from_stored(org.path);
        authz::require_visible(caller, Role::UnionAdmin, &path)?;
        if grant.role == Role::UnionAdmin {
            require_strictly_below(caller, &path)?;
        }
        let pair = (grant.role.as_str().to_owned(), org.id);
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    Ok(out)
}

/// Admin rights are granted, and admins changed, only from strictly above.
fn require_strictly_below(caller: &Actor, path: &OrgPath) -> ServiceResult<()> {
    let above = caller
        .scopes(Role::UnionAdmin)
        .iter()
        .any(|scope| scope.contains(path) && scope != path);
    if above {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            "staff.admin_from_above",
            "工会管理员只能由上级组织的管理员授予或修改",
        ))
    }
}

fn checked_identity(username: &str, display_name: &str) -> ServiceResult<(Username, String)> {
    let username = Username::parse(username).ok_or_else(|| {
        ServiceError::invalid(
            "staff.invalid_username",
            "用户名须为 3 至 32 位小写字母、数字或 . _ -，以字母开头",
        )
    })?;
    let display_name = checked_display_name(display_name)?;
    Ok((username, display_name))
}

fn checked_display_name(display_name: &str) -> ServiceResult<String> {
    DisplayName::RULE.check(display_name).ok_or_else(|| {
        ServiceError::invalid("staff.invalid_display_name", "姓名须为 1 至 64 个字符")
    })
}

fn checked_password(password: &str) -> ServiceResult<NewPassword> {
    NewPassword::parse(password).ok_or_else(|| {
        ServiceError::rule(
            "staff.weak_password",
            "密码至少 10 位，且须同时包含数字和其他字符",
        )
    })
}

/// Creates a staff account in the actor's subtree.
pub async fn create(ctx: &Context, actor: &Actor, body: NewStaff) -> ServiceResult<StaffView> {
    let admin_id = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    let caller = actor.clone();
    let (username, display_name) = checked_identity(&body.username, &body.display_name)?;
    let hash = password::hash(checked_password(&body.password)?.expose().to_owned()).await?;
    let now = ctx.now().naive_utc();
    let created = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<StaffView> {
                let home = orgs::get(conn, &body.org_id)?
                    .ok_or_else(|| ServiceError::rule("staff.unknown_org", "所属组织不存在"))?;
                authz::require_visible(
                    &caller,
                    Role::UnionAdmin,
                    &OrgPath::from_stored(home.path),
                )?;
                let grants = checked_grants(conn, &caller, &body.roles)?;
                if staff_db::by_username(conn, username.as_str())?.is_some() {
                    return Err(ServiceError::conflict(
                        "staff.username_taken",
                        "用户名已被使用",
                    ));
                }
                let member = Staff {
                    id: gongyou_domain::id::new_id(),
                    username: username.as_str().to_owned(),
                    display_name,
                    password_hash: hash,
                    org_id: home.id,
                    status: STAFF_ACTIVE.into(),
                    created_by: Some(admin_id.clone()),
                    created_at: now,
                    updated_at: now,
                };
                staff_db::insert(conn, &member)?;
                staff_db::replace_grants(conn, &member.id, &grants, Some(&admin_id), now)?;
                view(conn, &member)
            })
        })
        .await?;
    tracing::info!(staff = %created.id, "staff account created");
    Ok(created)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StaffChanges {
    #[schema(value_type = Option<DisplayName>, inline)]
    pub display_name: Option<String>,
    /// Replaces all roles when present.
    #[schema(max_items = 50)]
    pub roles: Option<Vec<RoleGrant>>,
    /// Disabling ends the member's sessions at once.
    pub disabled: Option<bool>,
    /// Sets a new password (the member should change it): 10–128 characters, mixing digits
    /// and other characters.
    #[schema(min_length = 10, max_length = 128, pattern = "[0-9][^0-9]|[^0-9][0-9]")]
    pub password: Option<String>,
}

/// Changes a staff member's roles, status, name or password. Role changes and disabling
/// take effect on the member's next request.
pub async fn update(
    ctx: &Context,
    actor: &Actor,
    id: String,
    changes: StaffChanges,
) -> ServiceResult<StaffView> {
    let admin_id = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    let caller = actor.clone();
    let display_name = changes
        .display_name
        .as_deref()
        .map(checked_display_name)
        .transpose()?;
    let hash = match &changes.password {
        Some(p) => Some(password::hash(checked_password(p)?.expose().to_owned()).await?),
        None => None,
    };
    if changes.disabled == Some(true) && id == admin_id {
        return Err(ServiceError::conflict(
            "staff.cannot_disable_self",
            "不能停用自己的账号",
        ));
    }
    // One's own rights and password are changed from above: a stolen admin session must not
    // be able to reset the password (ending the owner's sessions) or rewrite its own grants.
    if id == admin_id && (changes.roles.is_some() || changes.password.is_some()) {
        return Err(ServiceError::forbidden(
            "staff.not_on_yourself",
            "不能修改自己的角色或密码，请由上级管理员操作",
        ));
    }
    let now = ctx.now().naive_utc();
    let target = id.clone();
    let by = admin_id.clone();
    let updated = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<StaffView> {
                let member = staff_db::get(conn, &target)?.ok_or_else(staff_not_found)?;
                let home = orgs::get(conn, &member.org_id)?.ok_or_else(staff_not_found)?;
                authz::require(
                    &caller,
                    Role::UnionAdmin,
                    &OrgPath::from_stored(home.path),
                    staff_not_found,
                )?;
                // Never above one's own rights: every current grant must be within scope too,
                // and another admin's only strictly below (peers cannot take each other over).
                for grant in staff_db::grants(conn, &member.id)? {
                    let path = OrgPath::from_stored(grant.org_path);
                    authz::require_visible(&caller, Role::UnionAdmin, &path)?;
                    if grant.role == Role::UnionAdmin.as_str() && member.id != admin_id {
                        require_strictly_below(&caller, &path)?;
                    }
                }
                if let Some(roles) = &changes.roles {
                    let grants = checked_grants(conn, &caller, roles)?;
                    staff_db::replace_grants(conn, &member.id, &grants, Some(&admin_id), now)?;
                }
                let status = changes
                    .disabled
                    .map(|d| if d { STAFF_DISABLED } else { STAFF_ACTIVE });
                staff_db::update(
                    conn,
                    &member.id,
                    display_name.as_deref(),
                    status,
                    hash.as_deref(),
                    now,
                )?;
                if changes.disabled == Some(true) {
                    accounts::revoke_sessions_of(conn, "staff", &member.id, "disabled", now)?;
                } else if hash.is_some() {
                    // A reset password ends every session (the reason to reset may be a leak).
                    accounts::revoke_sessions_of(conn, "staff", &member.id, "password_reset", now)?;
                }
                let member = staff_db::get(conn, &member.id)?.ok_or_else(staff_not_found)?;
                view(conn, &member)
            })
        })
        .await?;
    invalidate_subject(ctx, SubjectKind::Staff, &id).await?;
    tracing::info!(staff = %id, by = %by, "staff account changed");
    Ok(updated)
}
