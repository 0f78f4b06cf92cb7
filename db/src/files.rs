//! Storage records of sealed files (ADR 016): where each object is, what it is for, its
//! state, its plaintext size and SHA-256, and its per-file key wrapped by the data key.
//!
//! A record moves `uploading` → `stored` → `deleting` → `deleted`, each step a conditional
//! update (`… WHERE state = <expected>`), so two processes racing on a file (an upload
//! finishing while housekeeping sweeps it, an import attaching it while it is swept) agree
//! on who won by the number of rows changed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::stored_files;
use crate::{DbConnection, DbError};

/// Being written; the object may not exist yet.
pub const UPLOADING: &str = "uploading";
/// Written whole and recorded: it can be read.
pub const STORED: &str = "stored";
/// Its key is gone and its object is being removed (housekeeping finishes the job).
pub const DELETING: &str = "deleting";
/// Its object is gone; the record stays as a trace.
pub const DELETED: &str = "deleted";

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = stored_files)]
pub struct StoredFile {
    pub id: String,
    pub object_key: String,
    pub purpose: String,
    pub owner: Option<String>,
    pub state: String,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    /// The per-file key, encrypted by the data key `key_id`; None once deletion began.
    pub wrapped_key: Option<String>,
    pub key_id: String,
    pub created_at: NaiveDateTime,
    pub stored_at: Option<NaiveDateTime>,
    pub attached_at: Option<NaiveDateTime>,
    pub deleted_at: Option<NaiveDateTime>,
}

/// A file's id and wrapped key, for rewrapping under another data key.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct WrappedKey {
    pub id: String,
    pub key_id: String,
    pub wrapped_key: String,
}

pub fn insert(conn: &mut DbConnection, file: &StoredFile) -> Result<(), DbError> {
    diesel::insert_into(stored_files::table)
        .values(file)
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<StoredFile>, DbError> {
    Ok(stored_files::table
        .find(id)
        .select(StoredFile::as_select())
        .first(conn)
        .optional()?)
}

/// `uploading` → `stored`, with what was written. False when the file was no longer
/// uploading (housekeeping took it for an abandoned upload).
pub fn mark_stored(
    conn: &mut DbConnection,
    id: &str,
    size: i64,
    sha256: &str,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        stored_files::table
            .find(id)
            .filter(stored_files::state.eq(UPLOADING)),
    )
    .set((
        stored_files::state.eq(STORED),
        stored_files::size.eq(Some(size)),
        stored_files::sha256.eq(Some(sha256)),
        stored_files::stored_at.eq(Some(at)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Marks a stored file as used (first time only). False when it is not stored (unknown,
/// still uploading, being deleted) or was attached already.
pub fn attach(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> Result<bool, DbError> {
    let changed = diesel::update(
        stored_files::table
            .find(id)
            .filter(stored_files::state.eq(STORED))
            .filter(stored_files::attached_at.is_null()),
    )
    .set(stored_files::attached_at.eq(Some(at)))
    .execute(conn)?;
    Ok(changed == 1)
}

/// `uploading` or `stored` → `deleting`: the wrapped key is dropped at once, so the file
/// cannot be read any more whatever becomes of its object. False when it was neither.
pub fn begin_delete(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> Result<bool, DbError> {
    let changed = diesel::update(
        stored_files::table
            .find(id)
            .filter(stored_files::state.eq_any([UPLOADING, STORED])),
    )
    .set(deleting_now(at))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Like [`begin_delete`], but only while the file is still an orphan: uploading since
/// before `uploading_before`, or stored before `stored_before` and never attached. False
/// when it stopped being one (finished, attached, deleted) in the meantime.
pub fn begin_delete_orphan(
    conn: &mut DbConnection,
    id: &str,
    uploading_before: NaiveDateTime,
    stored_before: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        stored_files::table
            .find(id)
            .filter(orphaned(uploading_before, stored_before)),
    )
    .set(deleting_now(at))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Up to `limit` orphans (see [`begin_delete_orphan`]), oldest first.
pub fn orphans(
    conn: &mut DbConnection,
    uploading_before: NaiveDateTime,
    stored_before: NaiveDateTime,
    limit: i64,
) -> Result<Vec<StoredFile>, DbError> {
    Ok(stored_files::table
        .filter(orphaned(uploading_before, stored_before))
        .order((stored_files::created_at, stored_files::id))
        .limit(limit)
        .select(StoredFile::as_select())
        .load(conn)?)
}

/// Up to `limit` files whose deletion began but whose object may still be there.
pub fn deleting(conn: &mut DbConnection, limit: i64) -> Result<Vec<StoredFile>, DbError> {
    Ok(stored_files::table
        .filter(stored_files::state.eq(DELETING))
        .order((stored_files::created_at, stored_files::id))
        .limit(limit)
        .select(StoredFile::as_select())
        .load(conn)?)
}

/// `deleting` → `deleted` once the object is gone.
pub fn mark_deleted(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    let changed = diesel::update(
        stored_files::table
            .find(id)
            .filter(stored_files::state.eq(DELETING)),
    )
    .set(stored_files::state.eq(DELETED))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Up to `limit` keys wrapped under a data key other than `current_key_id`, in id order
/// after `after_id` (page through with the last id seen).
pub fn wrapped_under_other_keys(
    conn: &mut DbConnection,
    current_key_id: &str,
    after_id: &str,
    limit: i64,
) -> Result<Vec<WrappedKey>, DbError> {
    let rows: Vec<(String, String, Option<String>)> = stored_files::table
        .filter(stored_files::key_id.ne(current_key_id))
        .filter(stored_files::wrapped_key.is_not_null())
        .filter(stored_files::id.gt(after_id))
        .order(stored_files::id)
        .limit(limit)
        .select((
            stored_files::id,
            stored_files::key_id,
            stored_files::wrapped_key,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, key_id, wrapped_key)| {
            wrapped_key.map(|wrapped_key| WrappedKey {
                id,
                key_id,
                wrapped_key,
            })
        })
        .collect())
}

/// Replaces a wrapped key, if it is still the one wrapped under `old_key_id` (a file
/// deleted meanwhile keeps no key).
pub fn rewrap(
    conn: &mut DbConnection,
    id: &str,
    old_key_id: &str,
    wrapped_key: &str,
    key_id: &str,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        stored_files::table
            .find(id)
            .filter(stored_files::key_id.eq(old_key_id))
            .filter(stored_files::wrapped_key.is_not_null()),
    )
    .set((
        stored_files::wrapped_key.eq(Some(wrapped_key)),
        stored_files::key_id.eq(key_id),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

type Orphaned = diesel::dsl::Or<
    diesel::dsl::And<
        diesel::dsl::Eq<stored_files::state, &'static str>,
        diesel::dsl::Lt<stored_files::created_at, NaiveDateTime>,
    >,
    diesel::dsl::And<
        diesel::dsl::And<
            diesel::dsl::Eq<stored_files::state, &'static str>,
            diesel::dsl::IsNull<stored_files::attached_at>,
        >,
        diesel::dsl::Lt<stored_files::stored_at, NaiveDateTime>,
    >,
>;

fn orphaned(uploading_before: NaiveDateTime, stored_before: NaiveDateTime) -> Orphaned {
    stored_files::state
        .eq(UPLOADING)
        .and(stored_files::created_at.lt(uploading_before))
        .or(stored_files::state
            .eq(STORED)
            .and(stored_files::attached_at.is_null())
            .and(stored_files::stored_at.lt(stored_before)))
}

#[allow(clippy::type_complexity)]
fn deleting_now(
    at: NaiveDateTime,
) -> (
    diesel::dsl::Eq<stored_files::state, &'static str>,
    diesel::dsl::Eq<stored_files::wrapped_key, Option<String>>,
    diesel::dsl::Eq<stored_files::deleted_at, Option<NaiveDateTime>>,
) {
    (
        stored_files::state.eq(DELETING),
        stored_files::wrapped_key.eq(None::<String>),
        stored_files::deleted_at.eq(Some(at)),
    )
}
