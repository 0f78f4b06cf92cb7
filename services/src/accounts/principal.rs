//! Authentication: what an access token's session stands for. The token names the subject
//! and the session; everything that can change (session revoked, account disabled, roles)
//! is looked up per request from a short cache (the key/value store, so shared by replicas
//! with Redis) that every change invalidates. A revoked role or a signed-out session stops
//! working on the next request.

use std::time::Duration;

use gongyou_db::{accounts, staff as staff_db, DbError};
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};

use super::tokens::{SubjectKind, TokenError, TokenType};
use crate::actor::{Actor, ScopedRole, Subject};
use crate::error::{ServiceError, ServiceResult};
use crate::Context;

const CACHE_TTL: Duration = Duration::from_secs(30);

/// A session as cached: what it stands for, and why it cannot be used if it cannot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Principal {
    pub session_id: String,
    pub method: String,
    pub subject: Subject,
    pub refused: Option<Refusal>,
    /// When the session started (Unix seconds): it ends at its absolute lifetime however
    /// active it is.
    #[serde(default)]
    pub started_at: i64,
}

/// How long a session of this kind may last from sign-in, however active
/// (`GONGYOU_SESSION_MAX_DAYS` for workers, `GONGYOU_STAFF_SESSION_MAX_HOURS` for staff).
pub fn max_session_age(ctx: &Context, kind: SubjectKind) -> chrono::Duration {
    let limit = match kind {
        SubjectKind::User => ctx.config.limits.session_max_age,
        SubjectKind::Staff => ctx.config.limits.staff_session_max_age,
    };
    chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX)
}

/// The error for a session past its absolute lifetime.
pub fn session_expired() -> ServiceError {
    ServiceError::unauthenticated("auth.session_expired", "登录已超过最长有效期，请重新登录")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    SessionRevoked,
    AccountDisabled,
}

fn cache_key(session_id: &str) -> String {
    format!("auth:principal:{session_id}")
}

fn changed_key(session_id: &str) -> String {
    format!("auth:changed:{session_id}")
}

/// Forgets cached principals of these sessions (after any change to them or their subject).
pub async fn invalidate(ctx: &Context, session_ids: &[String]) {
    for sid in session_ids {
        // A request that read the database before this change must not cache what it read
        // after the deletion below: the marker keeps such late fills out for a cache lifetime.
        if let Err(e) = ctx
            .kv
            .set(&changed_key(sid), "1", CACHE_TTL + Duration::from_secs(5))
            .await
        {
            tracing::error!(error = %e, "could not mark a session changed");
        }
        if let Err(e) = ctx.kv.delete(&cache_key(sid)).await {
            tracing::error!(error = %e, "could not invalidate a cached session; it lapses within 30 s");
        }
    }
}

/// Forgets cached principals of every session of a subject.
pub async fn invalidate_subject(
    ctx: &Context,
    kind: SubjectKind,
    subject_id: &str,
) -> ServiceResult<()> {
    let subject_id = subject_id.to_owned();
    let ids = ctx
        .db
        .run(move |conn| accounts::session_ids_of(conn, kind.as_str(), &subject_id))
        .await?;
    invalidate(ctx, &ids).await;
    Ok(())
}

async fn load_principal(
    ctx: &Context,
    session_id: &str,
    kind: SubjectKind,
    subject_id: &str,
) -> ServiceResult<Option<Principal>> {
    let key = cache_key(session_id);
    match ctx.kv.get(&key).await {
        Ok(Some(json)) => {
            if let Ok(principal) = serde_json::from_str::<Principal>(&json) {
                return Ok(Some(principal));
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "session cache unavailable; reading the database"),
    }
    let (sid, sub) = (session_id.to_owned(), subject_id.to_owned());
    let principal = ctx
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
                started_at: session.created_at.and_utc().timestamp(),
            }))
        })
        .await?;
    let recently_changed = matches!(ctx.kv.get(&changed_key(session_id)).await, Ok(Some(_)));
    if let Some(p) = principal.as_ref().filter(|_| !recently_changed) {
        if let Ok(json) = serde_json::to_string(p) {
            if let Err(e) = ctx.kv.set(&key, &json, CACHE_TTL).await {
                tracing::warn!(error = %e, "could not cache a session");
            }
        }
    }
    Ok(principal)
}

/// The actor an access token stands for: 401 without a token, with a bad or expired one, or
/// for a session that ended or an account that was disabled.
pub async fn authenticate(ctx: &Context, access_token: Option<&str>) -> ServiceResult<Actor> {
    let token = access_token
        .ok_or_else(|| ServiceError::unauthenticated("auth.unauthenticated", "请先登录"))?;
    let claims = ctx
        .tokens
        .verify(token, TokenType::Access, ctx.now())
        .map_err(|e| match e {
            TokenError::Expired => {
                ServiceError::unauthenticated("auth.token_expired", "登录已过期，请刷新或重新登录")
            }
            TokenError::Invalid => {
                ServiceError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
            }
        })?;
    let principal = load_principal(ctx, &claims.sid, claims.knd, &claims.sub)
        .await?
        .ok_or_else(|| {
            ServiceError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
        })?;
    let started = chrono::DateTime::from_timestamp(principal.started_at, 0).unwrap_or_default();
    if ctx.now() >= started + max_session_age(ctx, claims.knd) {
        return Err(session_expired());
    }
    match principal.refused {
        Some(Refusal::SessionRevoked) => Err(ServiceError::unauthenticated(
            "auth.session_revoked",
            "您已退出登录，请重新登录",
        )),
        Some(Refusal::AccountDisabled) => Err(ServiceError::unauthenticated(
            "auth.account_disabled",
            "账号已停用",
        )),
        None => Ok(Actor {
            session_id: principal.session_id,
            subject: principal.subject,
        }),
    }
}

/// Requires a fresh step-up proof (`POST /api/v1/auth/step-up`) of this actor's session.
pub fn require_step_up(ctx: &Context, actor: &Actor, proof: &str) -> ServiceResult<()> {
    let user_id = actor.user_id()?;
    let valid = ctx
        .tokens
        .verify(proof, TokenType::StepUp, ctx.now())
        .is_ok_and(|c| c.sub == user_id && c.sid == actor.session_id());
    if valid {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            "auth.step_up_required",
            "请先通过短信验证码验证身份",
        ))
    }
}
