//! Storage of roster imports: progress counters with the checkpoint, rejected rows, and the
//! set lookups a batch needs (members by blind index, enrollments already held).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::membership::Membership;
use crate::schema::{
    enrollments, memberships, platform_starts, roster_import_errors, roster_imports,
};
use crate::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = roster_imports)]
pub struct RosterImport {
    pub id: String,
    pub plan_code: String,
    pub created_by: String,
    pub file_id: Option<String>,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub encoding: String,
    pub total_rows: i64,
    /// Data rows done: the checkpoint, committed with each batch.
    pub processed_rows: i64,
    pub enrolled: i64,
    pub already_enrolled: i64,
    pub not_members: i64,
    pub ineligible: i64,
    pub invalid_rows: i64,
    pub failure: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = roster_import_errors)]
pub struct RowError {
    pub import_id: String,
    pub row_no: i64,
    pub id_number_masked: Option<String>,
    pub code: String,
    pub detail: String,
}

/// What one batch adds to the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub rows: i64,
    pub enrolled: i64,
    pub already_enrolled: i64,
    pub not_members: i64,
    pub ineligible: i64,
    pub invalid_rows: i64,
}

pub fn insert(conn: &mut DbConnection, i: &RosterImport) -> Result<(), DbError> {
    diesel::insert_into(roster_imports::table)
        .values(i)
        .execute(conn)?;
    Ok(())
}

/// For the rest of the transaction, PostgreSQL plans each statement for its actual
/// arguments: a batch's lookups take arrays of ids, and a cached generic plan (chosen after
/// five runs, blind to the array) scanned whole tables. No-op on SQLite.
pub fn plan_for_arguments(conn: &mut DbConnection) -> Result<(), DbError> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query("SET LOCAL plan_cache_mode = force_custom_plan").execute(c)?;
    }
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<RosterImport>, DbError> {
    Ok(roster_imports::table
        .find(id)
        .select(RosterImport::as_select())
        .first(conn)
        .optional()?)
}

/// A plan's imports, newest first (ids are UUIDv7), before the cursor.
pub fn list_for_plan(
    conn: &mut DbConnection,
    plan_code: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<RosterImport>, DbError> {
    let mut query = roster_imports::table
        .filter(roster_imports::plan_code.eq(plan_code))
        .select(RosterImport::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(roster_imports::id.lt(before));
    }
    Ok(query
        .order(roster_imports::id.desc())
        .limit(limit)
        .load(conn)?)
}

pub fn start(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(roster_imports::table.find(id))
        .set((
            roster_imports::status.eq("running"),
            roster_imports::started_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Adds a batch's counts and moves the checkpoint, only from `from_row` (so a batch
/// replayed after a crash, whose checkpoint already moved, changes nothing). False when the
/// checkpoint was elsewhere.
pub fn advance(
    conn: &mut DbConnection,
    id: &str,
    from_row: i64,
    c: BatchCounts,
) -> Result<bool, DbError> {
    let n = diesel::update(
        roster_imports::table
            .find(id)
            .filter(roster_imports::processed_rows.eq(from_row)),
    )
    .set((
        roster_imports::processed_rows.eq(roster_imports::processed_rows + c.rows),
        roster_imports::enrolled.eq(roster_imports::enrolled + c.enrolled),
        roster_imports::already_enrolled.eq(roster_imports::already_enrolled + c.already_enrolled),
        roster_imports::not_members.eq(roster_imports::not_members + c.not_members),
        roster_imports::ineligible.eq(roster_imports::ineligible + c.ineligible),
        roster_imports::invalid_rows.eq(roster_imports::invalid_rows + c.invalid_rows),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Done (or failed with a reason): the file is gone, only counts and errors remain. Only
/// from `queued` or `running`; false when it had already ended.
pub fn finish(
    conn: &mut DbConnection,
    id: &str,
    failure: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        roster_imports::table
            .find(id)
            .filter(roster_imports::status.eq_any(["queued", "running"])),
    )
    .set((
        roster_imports::status.eq(if failure.is_some() { "failed" } else { "done" }),
        roster_imports::failure.eq(failure),
        roster_imports::file_id.eq(None::<String>),
        roster_imports::finished_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn insert_errors(conn: &mut DbConnection, rows: &[RowError]) -> Result<(), DbError> {
    for chunk in rows.chunks(500) {
        let q = diesel::insert_into(roster_import_errors::table).values(chunk);
        match conn {
            DbConnection::Pg(c) => q.execute(c)?,
            DbConnection::Sqlite(c) => q.execute(c)?,
        };
    }
    Ok(())
}

/// Rejected rows in row order, a page at a time (`after`: the last row number seen).
pub fn errors(
    conn: &mut DbConnection,
    id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<RowError>, DbError> {
    Ok(roster_import_errors::table
        .filter(roster_import_errors::import_id.eq(id))
        .filter(roster_import_errors::row_no.gt(after))
        .order(roster_import_errors::row_no.asc())
        .limit(limit)
        .select(RowError::as_select())
        .load(conn)?)
}

/// Live (not withdrawn) memberships whose ID number has one of these blind indexes.
pub fn members_by_index(
    conn: &mut DbConnection,
    indexes: &[String],
) -> Result<Vec<Membership>, DbError> {
    let mut out = Vec::with_capacity(indexes.len());
    for chunk in indexes.chunks(500) {
        out.extend(
            memberships::table
                .filter(memberships::id_number_index.eq_any(chunk))
                // A literal, not a bound parameter: it must match the partial unique index
                // (`WHERE status <> 'withdrawn'`) even in a cached generic plan.
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "memberships.status <> 'withdrawn'",
                ))
                .select(Membership::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Of these accounts, those enrolled in the plan (the `(user_id, plan_code)` index).
pub fn enrolled_among(
    conn: &mut DbConnection,
    plan_code: &str,
    user_ids: &[String],
) -> Result<Vec<String>, DbError> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(500) {
        out.extend(
            enrollments::table
                .filter(enrollments::user_id.eq_any(chunk))
                .filter(enrollments::plan_code.eq(plan_code))
                .select(enrollments::user_id)
                .load::<String>(conn)?,
        );
    }
    Ok(out)
}

/// Records platform start dates a roster gave for these memberships, where none is
/// recorded yet (the first roster wins): one narrow row each, multi-row inserts.
pub fn record_platform_starts(
    conn: &mut DbConnection,
    starts: &[(String, chrono::NaiveDate)],
    import_id: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    let rows: Vec<_> = starts
        .iter()
        .map(|(membership, day)| {
            (
                platform_starts::membership_id.eq(membership.as_str()),
                platform_starts::started_on.eq(day.to_string()),
                platform_starts::roster_import_id.eq(import_id),
                platform_starts::recorded_at.eq(now),
            )
        })
        .collect();
    for chunk in rows.chunks(500) {
        let q = diesel::insert_into(platform_starts::table)
            .values(chunk)
            .on_conflict_do_nothing();
        match conn {
            DbConnection::Pg(c) => q.execute(c)?,
            DbConnection::Sqlite(c) => q.execute(c)?,
        };
    }
    Ok(())
}

/// The platform start dates rosters gave for these memberships (membership id → date).
pub fn platform_starts_of(
    conn: &mut DbConnection,
    membership_ids: &[String],
) -> Result<std::collections::HashMap<String, String>, DbError> {
    let mut out = std::collections::HashMap::new();
    for chunk in membership_ids.chunks(500) {
        out.extend(
            platform_starts::table
                .filter(platform_starts::membership_id.eq_any(chunk))
                .select((platform_starts::membership_id, platform_starts::started_on))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(out)
}

pub fn insert_enrollments(
    conn: &mut DbConnection,
    rows: &[crate::plans::Enrollment],
) -> Result<(), DbError> {
    for chunk in rows.chunks(500) {
        let q = diesel::insert_into(enrollments::table).values(chunk);
        match conn {
            DbConnection::Pg(c) => q.execute(c)?,
            DbConnection::Sqlite(c) => q.execute(c)?,
        };
    }
    Ok(())
}
