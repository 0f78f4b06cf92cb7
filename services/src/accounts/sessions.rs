//! Starting sessions and the sign-in response every sign-in returns.

use chrono::{DateTime, Utc};
use gongyou_db::accounts::{self, RefreshToken, Session};
use gongyou_db::{DbConnection, DbError};

use super::tokens::{hash_token, SubjectKind, TokenKeys, ACCESS_TTL, REFRESH_TTL};
use super::views::{Me, TokenResponse};

/// How a session was started.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    Sms,
    Wechat,
    Password,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Sms => "sms",
            Method::Wechat => "wechat",
            Method::Password => "password",
        }
    }
}

/// Inserts a session and its first refresh token (inside the caller's transaction);
/// returns (session id, refresh token).
pub fn start(
    conn: &mut DbConnection,
    kind: SubjectKind,
    subject_id: &str,
    method: Method,
    now: DateTime<Utc>,
) -> Result<(String, String), DbError> {
    let session_id = gongyou_domain::id::new_id();
    let refresh = TokenKeys::new_refresh_token();
    accounts::insert_session(
        conn,
        &Session {
            id: session_id.clone(),
            subject_kind: kind.as_str().into(),
            subject_id: subject_id.into(),
            method: method.as_str().into(),
            created_at: now.naive_utc(),
            revoked_at: None,
            revoked_reason: None,
        },
    )?;
    accounts::insert_refresh(
        conn,
        &RefreshToken {
            token_hash: hash_token(&refresh),
            session_id: session_id.clone(),
            created_at: now.naive_utc(),
            expires_at: (now + REFRESH_TTL).naive_utc(),
            rotated_at: None,
        },
    )?;
    Ok((session_id, refresh))
}

/// The tokens of a session, with the caller's view.
pub fn response(
    keys: &TokenKeys,
    kind: SubjectKind,
    subject_id: &str,
    session_id: &str,
    refresh_token: String,
    user: Me,
    now: DateTime<Utc>,
) -> TokenResponse {
    TokenResponse {
        access_token: keys.access_token(kind, subject_id, session_id, now),
        refresh_token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL.num_seconds(),
        user,
    }
}
