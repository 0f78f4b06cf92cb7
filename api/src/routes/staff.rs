//! Staff management by union admins, within their own subtree and never above their own
//! rights: every org named (home org, role scopes) must lie in the admin's subtree, and only
//! staff wholly inside it (home org and every grant) can be changed.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use gongyou_db::staff::{self as staff_db, Staff, STAFF_ACTIVE, STAFF_DISABLED};
use gongyou_db::{accounts, orgs, write_tx, DbConnection};
use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::{NewPassword, Role, Username};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::caller::invalidate_subject;
use crate::auth::tokens::SubjectKind;
use crate::auth::{password, Caller};
use crate::authz;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::me::{OrgRef, RoleView};
use crate::routes::page::{Page, PageQuery};
use crate::state::AppState;

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

fn view(conn: &mut DbConnection, member: &Staff) -> ApiResult<StaffView> {
    let org = orgs::get(conn, &member.org_id)?;
    let roles = staff_db::grants(conn, &member.id)?
        .into_iter()
        .map(|g| RoleView {
            role: g.role,
            org_id: g.org_id,
            org_name: g.org_name,
        })
        .collect();
    Ok(StaffView {
        id: member.id.clone(),
        username: member.username.clone(),
        display_name: member.display_name.clone(),
        org: OrgRef {
            id: member.org_id.clone(),
            name: org.map(|o| o.name).unwrap_or_default(),
        },
        status: member.status.clone(),
        roles,
        created_at: member.created_at.and_utc(),
        updated_at: member.updated_at.and_utc(),
    })
}

fn staff_not_found() -> ApiError {
    ApiError::not_found("staff.not_found", "工作人员不存在")
}

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
    let scopes: Vec<String> = authz::scopes(&caller, Role::UnionAdmin)?
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let items = state
        .db
        .run(move |conn| -> ApiResult<Page<StaffView>> {
            let rows = staff_db::list(conn, &scopes, cursor.as_deref(), limit + 1)?;
            let page = Page::from_rows(rows, limit, |(m, _)| m.id.clone(), |(m, _)| m);
            let items = page
                .items
                .iter()
                .map(|m| view(conn, m))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(Page {
                items,
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(items))
}

#[derive(Debug, Deserialize, Serialize, ToSchema, Clone)]
pub struct RoleGrant {
    /// `claims_reviewer`, `finance_approver` or `union_admin` (`station_manager` is granted
    /// per station, with the stations feature).
    #[schema(value_type = String, example = "claims_reviewer")]
    pub role: Role,
    /// The org whose subtree the role covers.
    pub org_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStaff {
    pub username: String,
    pub display_name: String,
    /// At least 10 characters, mixing digits and other characters.
    pub password: String,
    /// Home org, inside your subtree.
    pub org_id: String,
    #[serde(default)]
    pub roles: Vec<RoleGrant>,
}

/// Checks grants against the admin's scope; returns (role, org id) pairs.
fn checked_grants(
    conn: &mut DbConnection,
    caller: &Caller,
    grants: &[RoleGrant],
) -> ApiResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for grant in grants {
        if grant.role == Role::StationManager {
            return Err(ApiError::unprocessable(
                "staff.role_not_assignable",
                "驿站管理员需在驿站上指派，不能按组织授予",
            ));
        }
        let org = orgs::get(conn, &grant.org_id)?
            .ok_or_else(|| ApiError::unprocessable("staff.unknown_org", "授权的组织不存在"))?;
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
fn require_strictly_below(caller: &Caller, path: &OrgPath) -> ApiResult<()> {
    let above = caller
        .scopes(Role::UnionAdmin)
        .iter()
        .any(|scope| scope.contains(path) && scope != path);
    if above {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "staff.admin_from_above",
            "工会管理员只能由上级组织的管理员授予或修改",
        ))
    }
}

fn checked_identity(username: &str, display_name: &str) -> ApiResult<(Username, String)> {
    let username = Username::parse(username).ok_or_else(|| {
        ApiError::bad_request(
            "staff.invalid_username",
            "用户名须为 3 至 32 位小写字母、数字或 . _ -，以字母开头",
        )
    })?;
    let display_name = checked_display_name(display_name)?;
    Ok((username, display_name))
}

fn checked_display_name(display_name: &str) -> ApiResult<String> {
    let name = display_name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::bad_request(
            "staff.invalid_display_name",
            "姓名须为 1 至 64 个字符",
        ));
    }
    Ok(name.to_owned())
}

fn checked_password(password: &str) -> ApiResult<NewPassword> {
    NewPassword::parse(password).ok_or_else(|| {
        ApiError::unprocessable(
            "staff.weak_password",
            "密码至少 10 位，且须同时包含数字和其他字符",
        )
    })
}

/// Creates a staff account in the caller's subtree.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = NewStaff,
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
    caller: Caller,
    body: web::Json<NewStaff>,
) -> ApiResult<HttpResponse> {
    let (admin_id, _) = caller.staff()?;
    let admin_id = admin_id.to_owned();
    authz::scopes(&caller, Role::UnionAdmin)?;
    let body = body.into_inner();
    let (username, display_name) = checked_identity(&body.username, &body.display_name)?;
    let hash = password::hash(checked_password(&body.password)?.expose().to_owned()).await?;
    let now = state.clock.now().naive_utc();
    let created = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<StaffView> {
                let home = orgs::get(conn, &body.org_id)?.ok_or_else(|| {
                    ApiError::unprocessable("staff.unknown_org", "所属组织不存在")
                })?;
                authz::require_visible(
                    &caller,
                    Role::UnionAdmin,
                    &OrgPath::from_stored(home.path),
                )?;
                let grants = checked_grants(conn, &caller, &body.roles)?;
                if staff_db::by_username(conn, username.as_str())?.is_some() {
                    return Err(ApiError::conflict("staff.username_taken", "用户名已被使用"));
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
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/admin/staff/{}", created.id)))
        .json(created))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StaffChanges {
    pub display_name: Option<String>,
    /// Replaces all roles when present.
    pub roles: Option<Vec<RoleGrant>>,
    /// Disabling ends the member's sessions at once.
    pub disabled: Option<bool>,
    /// Sets a new password (the member should change it).
    pub password: Option<String>,
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
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `auth.out_of_scope` (a role or the member reaches beyond your subtree), `staff.admin_from_above` (admins are granted and changed only from strictly above)", body = Problem, content_type = "application/problem+json"),
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
    let (admin_id, _) = caller.staff()?;
    let admin_id = admin_id.to_owned();
    authz::scopes(&caller, Role::UnionAdmin)?;
    let id = id.into_inner();
    let changes = body.into_inner();
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
        return Err(ApiError::conflict(
            "staff.cannot_disable_self",
            "不能停用自己的账号",
        ));
    }
    let now = state.clock.now().naive_utc();
    let target = id.clone();
    let by = admin_id.clone();
    let updated = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<StaffView> {
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
    invalidate_subject(&state, SubjectKind::Staff, &id).await?;
    tracing::info!(staff = %id, by = %by, "staff account changed");
    Ok(web::Json(updated))
}
