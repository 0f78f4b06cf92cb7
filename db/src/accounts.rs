//! Worker accounts, sessions and refresh tokens.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{refresh_tokens, sessions, users};
use crate::{DbConnection, DbError};

pub const USER_ACTIVE: &str = "active";
pub const USER_SUSPENDED: &str = "suspended";
pub const USER_MERGED: &str = "merged";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub phone: Option<String>,
    pub wechat_openid: Option<String>,
    pub wechat_unionid: Option<String>,
    pub status: String,
    pub merged_into: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl User {
    pub fn new(id: String, now: NaiveDateTime) -> Self {
        Self {
            id,
            phone: None,
            wechat_openid: None,
            wechat_unionid: None,
            status: USER_ACTIVE.into(),
            merged_into: None,
            created_at: now,
            updated_at: now,
        }
    }
}

pub fn user(conn: &mut DbConnection, id: &str) -> Result<Option<User>, DbError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn user_by_phone(conn: &mut DbConnection, phone: &str) -> Result<Option<User>, DbError> {
    Ok(users::table
        .filter(users::phone.eq(phone))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// The user of a WeChat identity: by unionid when known, else by openid.
pub fn user_by_wechat(
    conn: &mut DbConnection,
    openid: &str,
    unionid: Option<&str>,
) -> Result<Option<User>, DbError> {
    if let Some(unionid) = unionid {
        let found = users::table
            .filter(users::wechat_unionid.eq(unionid))
            .select(User::as_select())
            .first(conn)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(users::table
        .filter(users::wechat_openid.eq(openid))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_user(conn: &mut DbConnection, user: &User) -> Result<(), DbError> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    Ok(())
}

pub fn set_wechat(
    conn: &mut DbConnection,
    id: &str,
    openid: Option<&str>,
    unionid: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::wechat_openid.eq(openid),
            users::wechat_unionid.eq(unionid),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_phone(
    conn: &mut DbConnection,
    id: &str,
    phone: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((users::phone.eq(phone), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Folds account `from` into `into`: `from` keeps no identity and points at `into`.
pub fn mark_merged(
    conn: &mut DbConnection,
    from: &str,
    into: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(users::table.find(from))
        .set((
            users::status.eq(USER_MERGED),
            users::merged_into.eq(into),
            users::phone.eq(None::<String>),
            users::wechat_openid.eq(None::<String>),
            users::wechat_unionid.eq(None::<String>),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub method: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
}

pub fn insert_session(conn: &mut DbConnection, session: &Session) -> Result<(), DbError> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)?;
    Ok(())
}

pub fn session(conn: &mut DbConnection, id: &str) -> Result<Option<Session>, DbError> {
    Ok(sessions::table
        .find(id)
        .select(Session::as_select())
        .first(conn)
        .optional()?)
}

pub fn revoke_session(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    Ok(())
}

/// The ids of a subject's sessions, revoked or not (for cache invalidation).
pub fn session_ids_of(
    conn: &mut DbConnection,
    kind: &str,
    subject_id: &str,
) -> Result<Vec<String>, DbError> {
    Ok(sessions::table
        .filter(
            sessions::subject_kind
                .eq(kind)
                .and(sessions::subject_id.eq(subject_id)),
        )
        .select(sessions::id)
        .load(conn)?)
}

/// Revokes every live session of a subject.
pub fn revoke_sessions_of(
    conn: &mut DbConnection,
    kind: &str,
    subject_id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(
        sessions::table.filter(
            sessions::subject_kind
                .eq(kind)
                .and(sessions::subject_id.eq(subject_id))
                .and(sessions::revoked_at.is_null()),
        ),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub token_hash: String,
    pub session_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub rotated_at: Option<NaiveDateTime>,
}

pub fn insert_refresh(conn: &mut DbConnection, token: &RefreshToken) -> Result<(), DbError> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

pub fn refresh(conn: &mut DbConnection, token_hash: &str) -> Result<Option<RefreshToken>, DbError> {
    Ok(refresh_tokens::table
        .find(token_hash)
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a token rotated; returns false when someone else rotated it first.
pub fn mark_rotated(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        refresh_tokens::table
            .find(token_hash)
            .filter(refresh_tokens::rotated_at.is_null()),
    )
    .set(refresh_tokens::rotated_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}
