//! Authorization: one way to ask "may this caller act on this object", deny by default.
//!
//! Every staff permission is a role held on an org subtree. A worker asking for a staff
//! action gets 403; staff without the role anywhere get 403; staff holding the role only
//! elsewhere get 404 for an object outside their subtree (it is not theirs to know of).

use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::Role;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// The subtrees where the caller holds `role`; 403 when there are none.
pub fn scopes(caller: &Caller, role: Role) -> ApiResult<Vec<OrgPath>> {
    caller.staff()?;
    let scopes = caller.scopes(role);
    if scopes.is_empty() {
        return Err(ApiError::forbidden(
            "auth.role_required",
            "没有执行此操作的权限",
        ));
    }
    Ok(scopes)
}

/// Requires `role` over the object at `path`; `hidden` is the 404 for objects outside scope.
pub fn require(
    caller: &Caller,
    role: Role,
    path: &OrgPath,
    hidden: impl FnOnce() -> ApiError,
) -> ApiResult<()> {
    let scopes = scopes(caller, role)?;
    if scopes.iter().any(|scope| scope.contains(path)) {
        Ok(())
    } else {
        Err(hidden())
    }
}

/// Requires `role` over the org at `path`, answering 403 (not 404) outside scope: for orgs
/// named in a request body, which the caller already knows of.
pub fn require_visible(caller: &Caller, role: Role, path: &OrgPath) -> ApiResult<()> {
    require(caller, role, path, || {
        ApiError::forbidden("auth.out_of_scope", "超出您的管理范围")
    })
}
