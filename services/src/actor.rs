//! Who is acting: a signed-in worker or staff member (what their session stands for), as
//! the API's authentication found it. Use-cases take an `&Actor` and decide from it — never
//! from a request — whether the caller may see or change an object ([`crate::authz`]).

use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};

use crate::error::{ServiceError, ServiceResult};

/// One role on one org subtree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopedRole {
    pub role: Role,
    pub org_id: String,
    pub org_path: String,
}

/// What a session stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Subject {
    User {
        id: String,
        phone: Option<String>,
    },
    Staff {
        id: String,
        org_path: String,
        roles: Vec<ScopedRole>,
    },
}

/// The authenticated caller of a use-case.
#[derive(Debug, Clone)]
pub struct Actor {
    pub session_id: String,
    pub subject: Subject,
}

impl Actor {
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// The worker account id, or 403 for staff.
    pub fn user_id(&self) -> ServiceResult<&str> {
        match &self.subject {
            Subject::User { id, .. } => Ok(id),
            Subject::Staff { .. } => Err(ServiceError::forbidden(
                "auth.workers_only",
                "此操作仅限职工本人账号",
            )),
        }
    }

    /// Whose inbox the caller reads: a worker's, or a staff member's (staff notices, such as
    /// a report on a managed station, go to the inbox only).
    pub fn inbox_owner(&self) -> &str {
        match &self.subject {
            Subject::User { id, .. } | Subject::Staff { id, .. } => id,
        }
    }

    /// A staff caller's id and roles, or 403 for workers (whatever phone they signed in with).
    pub fn staff(&self) -> ServiceResult<(&str, &[ScopedRole])> {
        match &self.subject {
            Subject::Staff { id, roles, .. } => Ok((id, roles)),
            Subject::User { .. } => Err(ServiceError::forbidden(
                "auth.staff_only",
                "此操作仅限工作人员",
            )),
        }
    }

    /// A staff caller's id, or 403 for workers.
    pub fn staff_id(&self) -> ServiceResult<String> {
        Ok(self.staff()?.0.to_owned())
    }

    /// The subtrees on which the caller holds `role` (empty for workers).
    pub fn scopes(&self, role: Role) -> Vec<OrgPath> {
        match &self.subject {
            Subject::Staff { roles, .. } => roles
                .iter()
                .filter(|r| r.role == role)
                .map(|r| OrgPath::from_stored(r.org_path.clone()))
                .collect(),
            Subject::User { .. } => Vec::new(),
        }
    }

    /// Whether the caller holds `role` over the org at `path`.
    pub fn holds(&self, role: Role, path: &OrgPath) -> bool {
        self.scopes(role).iter().any(|scope| scope.contains(path))
    }
}
