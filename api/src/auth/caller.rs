//! Who is calling. The access token names the subject and the session; everything that can
//! change (session revoked, account disabled, roles) is looked up per request from a short
//! cache (the key/value store, so shared by replicas with Redis) that every change
//! invalidates. A revoked role or a signed-out session stops working on the next request.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use gongyou_db::{accounts, staff as staff_db, DbError};
use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};

use super::tokens::{SubjectKind, TokenError, TokenType};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const CACHE_TTL: Duration = Duration::from_secs(30);

/// One role on one org subtree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopedRole {
    pub role: Role,
    pub org_id: String,
    pub org_path: String,
}

/// What a session stands for, as cached.
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Principal {
    pub session_id: String,
    pub method: String,
    pub subject: Subject,
    /// Why the session cannot be used, if it cannot.
    pub refused: Option<Refusal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    SessionRevoked,
    AccountDisabled,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    pub fn session_id(&self) -> &str {
        &self.0.session_id
    }

    pub fn subject(&self) -> &Subject {
        &self.0.subject
    }

    /// The worker account id, or 403 for staff.
    pub fn user_id(&self) -> ApiResult<&str> {
        match &self.0.subject {
            Subject::User { id, .. } => Ok(id),
            Subject::Staff { .. } => Err(ApiError::forbidden(
                "auth.workers_only",
                "此操作仅限职工本人账号",
            )),
        }
    }

    /// Whose inbox the caller reads: a worker's, or a staff member's (staff notices, such as a
    /// report on a managed station, go to the inbox only).
    pub fn inbox_owner(&self) -> &str {
        match &self.0.subject {
            Subject::User { id, .. } | Subject::Staff { id, .. } => id,
        }
    }

    /// A staff caller's id and roles, or 403 for workers (whatever phone they signed in with).
    pub fn staff(&self) -> ApiResult<(&str, &[ScopedRole])> {
        match &self.0.subject {
            Subject::Staff { id, roles, .. } => Ok((id, roles)),
            Subject::User { .. } => {
                Err(ApiError::forbidden("auth.staff_only", "此操作仅限工作人员"))
            }
        }
    }

    /// The subtrees on which the caller holds `role` (empty for workers).
    pub fn scopes(&self, role: Role) -> Vec<OrgPath> {
        match &self.0.subject {
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

fn cache_key(session_id: &str) -> String {
    format!("auth:principal:{session_id}")
}

/// Forgets cached principals of these sessions (after any change to them or their subject).
pub async fn invalidate(state: &AppState, session_ids: &[String]) {
    for sid in session_ids {
        // A request that read the database before this change must not cache what it read
        // after the deletion below: the marker keeps such late fills out for a cache lifetime.
        if let Err(e) = state
            .kv
            .set(&changed_key(sid), "1", CACHE_TTL + Duration::from_secs(5))
            .await
        {
            tracing::error!(error = %e, "could not mark a session changed");
        }
        if let Err(e) = state.kv.delete(&cache_key(sid)).await {
            tracing::error!(error = %e, "could not invalidate a cached session; it lapses within 30 s");
        }
    }
}

fn changed_key(session_id: &str) -> String {
    format!("auth:changed:{session_id}")
}

/// Forgets cached principals of every session of a subject.
pub async fn invalidate_subject(
    state: &AppState,
    kind: SubjectKind,
    subject_id: &str,
) -> ApiResult<()> {
    let subject_id = subject_id.to_owned();
    let ids = state
        .db
        .run(move |conn| accounts::session_ids_of(conn, kind.as_str(), &subject_id))
        .await?;
    invalidate(state, &ids).await;
    Ok(())
}

async fn load_principal(
    state: &AppState,
    session_id: &str,
    kind: SubjectKind,
    subject_id: &str,
) -> ApiResult<Option<Principal>> {
    let key = cache_key(session_id);
    match state.kv.get(&key).await {
        Ok(Some(json)) => {
            if let Ok(principal) = serde_json::from_str::<Principal>(&json) {
                return Ok(Some(principal));
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "session cache unavailable; reading the database"),
    }
    let (sid, sub) = (session_id.to_owned(), subject_id.to_owned());
    let principal = state
        .db
        .run(move |conn| -> Result<Option<Principal>, DbError> {
            let Some(session) = accounts::session(conn, &sid)? else {
                return Ok(None);
            };
            if session.subject_id != sub || session.subject_kind != kind.as_str() {
                return Ok(None);
            }
            let mut refused = session.revoked_at.map(|_| Refusal::SessionRevoked);
            // Staff rights live only in password sessions (defence in depth: staff accounts
            // have no other way to sign in).
            if kind == SubjectKind::Staff && session.method != "password" {
                refused = Some(Refusal::SessionRevoked);
            }
            let subject = match kind {
                SubjectKind::User => {
                    let Some(user) = accounts::user(conn, &sub)? else {
                        return Ok(None);
                    };
                    if user.status != accounts::USER_ACTIVE {
                        refused = refused.or(Some(Refusal::AccountDisabled));
                    }
                    Subject::User {
                        id: user.id,
                        phone: user.phone,
                    }
                }
                SubjectKind::Staff => {
                    let Some(member) = staff_db::get(conn, &sub)? else {
                        return Ok(None);
                    };
                    if member.status != staff_db::STAFF_ACTIVE {
                        refused = refused.or(Some(Refusal::AccountDisabled));
                    }
                    let home = gongyou_db::orgs::get(conn, &member.org_id)?
                        .map(|o| o.path)
                        .unwrap_or_default();
                    let roles = staff_db::grants(conn, &member.id)?
                        .into_iter()
                        .filter_map(|g| {
                            Some(ScopedRole {
                                role: Role::parse(&g.role)?,
                                org_id: g.org_id,
                                org_path: g.org_path,
                            })
                        })
                        .collect();
                    Subject::Staff {
                        id: member.id,
                        org_path: home,
                        roles,
                    }
                }
            };
            Ok(Some(Principal {
                session_id: session.id,
                method: session.method,
                subject,
                refused,
            }))
        })
        .await?;
    let recently_changed = matches!(state.kv.get(&changed_key(session_id)).await, Ok(Some(_)));
    if let Some(p) = principal.as_ref().filter(|_| !recently_changed) {
        if let Ok(json) = serde_json::to_string(p) {
            if let Err(e) = state.kv.set(&key, &json, CACHE_TTL).await {
                tracing::warn!(error = %e, "could not cache a session");
            }
        }
    }
    Ok(principal)
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

async fn authenticate(req: HttpRequest) -> ApiResult<Caller> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?
        .clone();
    let token = bearer(&req)
        .ok_or_else(|| ApiError::unauthenticated("auth.unauthenticated", "请先登录"))?;
    let claims = state
        .tokens
        .verify(&token, TokenType::Access, state.clock.now())
        .map_err(|e| match e {
            TokenError::Expired => {
                ApiError::unauthenticated("auth.token_expired", "登录已过期，请刷新或重新登录")
            }
            TokenError::Invalid => {
                ApiError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
            }
        })?;
    let principal = load_principal(&state, &claims.sid, claims.knd, &claims.sub)
        .await?
        .ok_or_else(|| {
            ApiError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
        })?;
    match principal.refused {
        Some(Refusal::SessionRevoked) => Err(ApiError::unauthenticated(
            "auth.session_revoked",
            "您已退出登录，请重新登录",
        )),
        Some(Refusal::AccountDisabled) => Err(ApiError::unauthenticated(
            "auth.account_disabled",
            "账号已停用",
        )),
        None => Ok(Caller(principal)),
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
