//! Authorization: one way to ask "may this actor act on this object", deny by default.
//!
//! Every staff permission is a role held on an org subtree. A worker asking for a staff
//! action gets 403; staff without the role anywhere get 403; staff holding the role only
//! elsewhere get 404 for an object outside their subtree (it is not theirs to know of).

use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::Role;

use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};

/// The subtrees where the actor holds `role`; 403 when there are none.
pub fn scopes(actor: &Actor, role: Role) -> ServiceResult<Vec<OrgPath>> {
    actor.staff()?;
    let scopes = actor.scopes(role);
    if scopes.is_empty() {
        return Err(ServiceError::forbidden(
            "auth.role_required",
            "没有执行此操作的权限",
        ));
    }
    Ok(scopes)
}

/// The materialized paths of [`scopes`], for queries filtered to them.
pub fn scope_paths(actor: &Actor, role: Role) -> ServiceResult<Vec<String>> {
    Ok(scopes(actor, role)?
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect())
}

/// Requires `role` over the object at `path`; `hidden` is the 404 for objects outside scope.
pub fn require(
    actor: &Actor,
    role: Role,
    path: &OrgPath,
    hidden: impl FnOnce() -> ServiceError,
) -> ServiceResult<()> {
    let scopes = scopes(actor, role)?;
    if scopes.iter().any(|scope| scope.contains(path)) {
        Ok(())
    } else {
        Err(hidden())
    }
}

/// Requires `role` over the org at `path`, answering 403 (not 404) outside scope: for orgs
/// named in a request body, which the caller already knows of.
pub fn require_visible(actor: &Actor, role: Role, path: &OrgPath) -> ServiceResult<()> {
    require(actor, role, path, || {
        ServiceError::forbidden("auth.out_of_scope", "超出您的管理范围")
    })
}

/// The org `org_id` when the actor holds `role` over it: 403 without the role anywhere, 404
/// `org.not_found` for an org outside its scope (or none).
pub fn org_in_scope(
    conn: &mut gongyou_db::DbConnection,
    actor: &Actor,
    role: Role,
    org_id: &str,
) -> ServiceResult<gongyou_db::orgs::Org> {
    let hidden = || ServiceError::not_found("org.not_found", "组织不存在");
    scopes(actor, role)?;
    let org = gongyou_db::orgs::get(conn, org_id)?.ok_or_else(hidden)?;
    require(actor, role, &OrgPath::from_stored(org.path.clone()), hidden)?;
    Ok(org)
}
