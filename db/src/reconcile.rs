//! Reconciliation's storage (issue 15, ADR 020): runs, their exceptions, their matched lines
//! (narrow, written with `COPY` on PostgreSQL), finance's resolutions, and the attempts a
//! day's statement may name.

use std::cell::RefCell;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::schema::{
    payout_attempts, payouts, reconciliation_items, reconciliation_matches,
    reconciliation_resolutions, reconciliation_runs,
};
use crate::{DbConnection, DbError};

/// Rows per multi-row INSERT (SQLite's matches, items).
const INSERT_CHUNK: usize = 500;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = reconciliation_runs)]
pub struct Run {
    pub id: String,
    pub channel: String,
    pub statement_date: NaiveDate,
    pub status: String,
    pub source: Option<String>,
    pub file_id: Option<String>,
    pub uploaded_by: Option<String>,
    pub statement_template: Option<String>,
    pub statement_lines: i64,
    pub exceptions: i64,
    pub summary: Option<String>,
    pub failure_code: Option<String>,
    pub failure_detail: Option<String>,
    pub tries: i32,
    pub overdue_notified_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// A change to a run (`None`: unchanged).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = reconciliation_runs)]
pub struct RunChange {
    pub status: Option<String>,
    pub source: Option<Option<String>>,
    pub file_id: Option<Option<String>>,
    pub uploaded_by: Option<Option<String>>,
    pub statement_template: Option<Option<String>>,
    pub statement_lines: Option<i64>,
    pub exceptions: Option<i64>,
    pub summary: Option<Option<String>>,
    pub failure_code: Option<Option<String>>,
    pub failure_detail: Option<Option<String>>,
    pub tries: Option<i32>,
    pub overdue_notified_at: Option<Option<NaiveDateTime>>,
    pub started_at: Option<Option<NaiveDateTime>>,
    pub finished_at: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = reconciliation_items)]
pub struct Item {
    pub run_id: String,
    pub seq: i64,
    pub item_key: String,
    pub outcome: String,
    pub line: Option<i64>,
    pub provider_no: Option<String>,
    pub reference: Option<String>,
    pub direction: Option<String>,
    pub statement_fen: Option<i64>,
    pub booked_at: Option<NaiveDateTime>,
    pub attempt_id: Option<String>,
    pub out_bill_no: Option<String>,
    pub payout_id: Option<String>,
    pub our_fen: Option<i64>,
    pub held: Option<String>,
    pub org_path: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = reconciliation_resolutions)]
pub struct Resolution {
    pub id: String,
    pub run_id: String,
    pub item_key: String,
    pub note: String,
    pub resolved_by: String,
    pub resolved_at: NaiveDateTime,
}

/// One of our attempts as the matcher needs it.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct Candidate {
    pub out_bill_no: String,
    pub transfer_bill_no: Option<String>,
    pub payout_id: String,
    pub amount_fen: i64,
    pub state: String,
    pub final_at: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
}

/// A matched line, for the items list.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct MatchedLine {
    pub line: i64,
    pub out_bill_no: String,
    pub direction: String,
    pub attempt_id: String,
    pub payout_id: String,
    pub amount_fen: i64,
    pub org_path: String,
}

pub fn run(conn: &mut DbConnection, id: &str) -> Result<Option<Run>, DbError> {
    Ok(reconciliation_runs::table
        .find(id)
        .select(Run::as_select())
        .first(conn)
        .optional()?)
}

pub fn run_of_day(
    conn: &mut DbConnection,
    channel: &str,
    date: NaiveDate,
) -> Result<Option<Run>, DbError> {
    Ok(reconciliation_runs::table
        .filter(reconciliation_runs::channel.eq(channel))
        .filter(reconciliation_runs::statement_date.eq(date))
        .select(Run::as_select())
        .first(conn)
        .optional()?)
}

/// Inserts a run; `false` when the day's run exists already (another writer won).
pub fn insert_run(conn: &mut DbConnection, run: &Run) -> Result<bool, DbError> {
    match diesel::insert_into(reconciliation_runs::table)
        .values(run)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub fn update_run(conn: &mut DbConnection, id: &str, change: &RunChange) -> Result<bool, DbError> {
    Ok(diesel::update(reconciliation_runs::table.find(id))
        .set(change)
        .execute(conn)?
        == 1)
}

/// Moves a run from one of `from` to `to` (compare-and-set); whether it moved.
pub fn move_run(
    conn: &mut DbConnection,
    id: &str,
    from: &[&str],
    change: &RunChange,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        reconciliation_runs::table
            .find(id)
            .filter(reconciliation_runs::status.eq_any(from)),
    )
    .set(change)
    .execute(conn)?
        == 1)
}

/// Runs filter.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub channel: Option<String>,
    pub status: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub with_exceptions: Option<bool>,
}

/// Runs, newest day first, after `(date, id)`.
pub fn runs(
    conn: &mut DbConnection,
    filter: &RunFilter,
    after: Option<(NaiveDate, String)>,
    limit: i64,
) -> Result<Vec<Run>, DbError> {
    let mut q = reconciliation_runs::table.into_boxed();
    if let Some(c) = &filter.channel {
        q = q.filter(reconciliation_runs::channel.eq(c.clone()));
    }
    if let Some(s) = &filter.status {
        q = q.filter(reconciliation_runs::status.eq(s.clone()));
    }
    if let Some(f) = filter.from {
        q = q.filter(reconciliation_runs::statement_date.ge(f));
    }
    if let Some(t) = filter.to {
        q = q.filter(reconciliation_runs::statement_date.le(t));
    }
    match filter.with_exceptions {
        Some(true) => q = q.filter(reconciliation_runs::exceptions.gt(0)),
        Some(false) => q = q.filter(reconciliation_runs::exceptions.eq(0)),
        None => {}
    }
    if let Some((date, id)) = after {
        q = q.filter(
            reconciliation_runs::statement_date
                .lt(date)
                .or(reconciliation_runs::statement_date
                    .eq(date)
                    .and(reconciliation_runs::id.lt(id))),
        );
    }
    Ok(q.order((
        reconciliation_runs::statement_date.desc(),
        reconciliation_runs::id.desc(),
    ))
    .limit(limit)
    .select(Run::as_select())
    .load(conn)?)
}

/// Drops a run's results (items and matched lines) before it is reconciled again; its
/// resolutions stay.
pub fn clear_results(conn: &mut DbConnection, run_id: &str) -> Result<(), DbError> {
    diesel::delete(reconciliation_items::table.filter(reconciliation_items::run_id.eq(run_id)))
        .execute(conn)?;
    diesel::delete(reconciliation_matches::table.filter(reconciliation_matches::run_id.eq(run_id)))
        .execute(conn)?;
    Ok(())
}

pub fn insert_items(conn: &mut DbConnection, items: &[Item]) -> Result<(), DbError> {
    for chunk in items.chunks(INSERT_CHUNK) {
        let q = diesel::insert_into(reconciliation_items::table).values(chunk);
        match conn {
            DbConnection::Pg(c) => q.execute(c)?,
            DbConnection::Sqlite(c) => q.execute(c)?,
        };
    }
    Ok(())
}

/// Matched lines as `(line, out_bill_no, direction)`.
pub type MatchRow<'a> = (i64, &'a str, &'a str);

/// Writes matched lines as `produce` yields them, streaming: on PostgreSQL one `COPY`
/// (`produce` runs inside it), on SQLite multi-row inserts. An error of `produce` aborts
/// the write and is returned as it was.
pub fn write_matches<E, F>(conn: &mut DbConnection, run_id: &str, produce: F) -> Result<u64, E>
where
    E: From<DbError>,
    F: FnOnce(&mut dyn FnMut(MatchRow<'_>) -> Result<(), DbError>) -> Result<(), E>,
{
    match conn {
        DbConnection::Pg(pg) => {
            use diesel::pg::CopyFormat;
            use diesel::prelude::ExecuteCopyFromDsl;
            use std::io::Write;
            let produce = RefCell::new(Some(produce));
            let failure: RefCell<Option<E>> = RefCell::new(None);
            let written = std::cell::Cell::new(0u64);
            let result = diesel::copy_from(reconciliation_matches::table)
                .from_raw_data(
                    (
                        reconciliation_matches::run_id,
                        reconciliation_matches::line,
                        reconciliation_matches::out_bill_no,
                        reconciliation_matches::direction,
                    ),
                    |w: &mut dyn Write| -> Result<(), DbError> {
                        let Some(produce) = produce.borrow_mut().take() else {
                            return Ok(());
                        };
                        let mut out = std::io::BufWriter::with_capacity(1 << 16, w);
                        let mut sink = |(line, bill, direction): MatchRow<'_>| {
                            // Text format: no tab, newline or backslash in these values
                            // (an id, a number, 32 hex digits, a word).
                            if [bill, direction].iter().any(|v| {
                                v.bytes()
                                    .any(|b| b == b'\t' || b == b'\n' || b == b'\\' || b == b'\r')
                            }) {
                                return Err(DbError::Payload(format!(
                                    "unexpected character in matched line {line}"
                                )));
                            }
                            writeln!(out, "{run_id}\t{line}\t{bill}\t{direction}")
                                .map_err(|e| DbError::Payload(format!("COPY write failed: {e}")))?;
                            written.set(written.get() + 1);
                            Ok(())
                        };
                        if let Err(e) = produce(&mut sink) {
                            *failure.borrow_mut() = Some(e);
                            return Err(DbError::Payload("matching stopped".into()));
                        }
                        out.flush()
                            .map_err(|e| DbError::Payload(format!("COPY write failed: {e}")))?;
                        Ok(())
                    },
                )
                .with_format(CopyFormat::Text)
                .execute(pg);
            if let Some(e) = failure.into_inner() {
                return Err(e);
            }
            result.map_err(|e| E::from(e))?;
            Ok(written.get())
        }
        DbConnection::Sqlite(_) => {
            let mut buffer: Vec<(String, i64, String, String)> = Vec::with_capacity(INSERT_CHUNK);
            let mut written = 0u64;
            let mut failed: Option<DbError> = None;
            let flush = |conn: &mut DbConnection,
                         buffer: &mut Vec<(String, i64, String, String)>|
             -> Result<(), DbError> {
                if buffer.is_empty() {
                    return Ok(());
                }
                let rows: Vec<_> = buffer
                    .drain(..)
                    .map(|(run, line, bill, dir)| {
                        (
                            reconciliation_matches::run_id.eq(run),
                            reconciliation_matches::line.eq(line),
                            reconciliation_matches::out_bill_no.eq(bill),
                            reconciliation_matches::direction.eq(dir),
                        )
                    })
                    .collect();
                let q = diesel::insert_into(reconciliation_matches::table).values(&rows);
                match conn {
                    DbConnection::Pg(c) => q.execute(c)?,
                    DbConnection::Sqlite(c) => q.execute(c)?,
                };
                Ok(())
            };
            {
                let mut sink = |(line, bill, direction): MatchRow<'_>| -> Result<(), DbError> {
                    buffer.push((
                        run_id.to_owned(),
                        line,
                        bill.to_owned(),
                        direction.to_owned(),
                    ));
                    written += 1;
                    if buffer.len() >= INSERT_CHUNK {
                        if let Err(e) = flush(conn, &mut buffer) {
                            let copy = DbError::Payload(e.to_string());
                            failed = Some(e);
                            return Err(copy);
                        }
                    }
                    Ok(())
                };
                let produced = produce(&mut sink);
                if let Some(e) = failed.take() {
                    return Err(e.into());
                }
                produced?;
            }
            flush(conn, &mut buffer)?;
            Ok(written)
        }
    }
}

/// Our attempts on `channel` a statement of the day may name: final within `[lo, hi)`, or
/// sent and not final yet. Streamed to `f` row by row.
pub fn candidates(
    conn: &mut DbConnection,
    channel: &str,
    lo: NaiveDateTime,
    hi: NaiveDateTime,
    mut f: impl FnMut(Candidate),
) -> Result<u64, DbError> {
    let query = payout_attempts::table
        .filter(payout_attempts::channel.eq(channel))
        .filter(
            payout_attempts::final_at
                .ge(lo)
                .and(payout_attempts::final_at.lt(hi))
                .or(payout_attempts::final_at
                    .is_null()
                    .and(payout_attempts::sent_at.is_not_null())),
        )
        .select((
            payout_attempts::out_bill_no,
            payout_attempts::transfer_bill_no,
            payout_attempts::payout_id,
            payout_attempts::amount_fen,
            payout_attempts::state,
            payout_attempts::final_at,
            payout_attempts::sent_at,
        ));
    let mut n = 0u64;
    match conn {
        DbConnection::Pg(pg) => {
            // Row by row: libpq would otherwise hold the whole result (a million rows).
            for row in query.load_iter::<Candidate, diesel::pg::PgRowByRowLoadingMode>(pg)? {
                f(row?);
                n += 1;
            }
        }
        DbConnection::Sqlite(sqlite) => {
            for row in
                query.load_iter::<Candidate, diesel::connection::DefaultLoadingMode>(sqlite)?
            {
                f(row?);
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Our attempts on `channel` named by these provider numbers or `out_bill_no`s, whenever
/// they were final (for statement lines naming an attempt outside the day's window).
pub fn candidates_named(
    conn: &mut DbConnection,
    channel: &str,
    provider_nos: &[String],
    references: &[String],
) -> Result<Vec<Candidate>, DbError> {
    let mut out = Vec::new();
    let select = (
        payout_attempts::out_bill_no,
        payout_attempts::transfer_bill_no,
        payout_attempts::payout_id,
        payout_attempts::amount_fen,
        payout_attempts::state,
        payout_attempts::final_at,
        payout_attempts::sent_at,
    );
    for chunk in provider_nos.chunks(INSERT_CHUNK) {
        out.extend(
            payout_attempts::table
                .filter(payout_attempts::channel.eq(channel))
                .filter(payout_attempts::transfer_bill_no.eq_any(chunk))
                .select(select)
                .load::<Candidate>(conn)?,
        );
    }
    for chunk in references.chunks(INSERT_CHUNK) {
        out.extend(
            payout_attempts::table
                .filter(payout_attempts::channel.eq(channel))
                .filter(payout_attempts::out_bill_no.eq_any(chunk))
                .select(select)
                .load::<Candidate>(conn)?,
        );
    }
    out.sort_by(|a, b| a.out_bill_no.cmp(&b.out_bill_no));
    out.dedup_by(|a, b| a.out_bill_no == b.out_bill_no);
    Ok(out)
}

/// For these `out_bill_no`s: the attempt's id and its payout's frozen org path.
pub fn attempt_details(
    conn: &mut DbConnection,
    out_bill_nos: &[String],
) -> Result<Vec<(String, String, String)>, DbError> {
    let mut out = Vec::new();
    for chunk in out_bill_nos.chunks(INSERT_CHUNK) {
        out.extend(
            payout_attempts::table
                .inner_join(payouts::table.on(payouts::id.eq(payout_attempts::payout_id)))
                .filter(payout_attempts::out_bill_no.eq_any(chunk))
                .select((
                    payout_attempts::out_bill_no,
                    payout_attempts::id,
                    payouts::org_path,
                ))
                .load::<(String, String, String)>(conn)?,
        );
    }
    Ok(out)
}

/// The runs of `channel` for the days `from..=to`.
pub fn runs_between(
    conn: &mut DbConnection,
    channel: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, NaiveDate)>, DbError> {
    Ok(reconciliation_runs::table
        .filter(reconciliation_runs::channel.eq(channel))
        .filter(reconciliation_runs::statement_date.between(from, to))
        .select((reconciliation_runs::id, reconciliation_runs::statement_date))
        .load(conn)?)
}

/// Which of these `out_bill_no`s one of `runs` matched as paid out: `(out_bill_no, run)`.
/// Each lookup is one of the key's (run, out_bill_no).
pub fn matched_in(
    conn: &mut DbConnection,
    runs: &[String],
    out_bill_nos: &[String],
) -> Result<Vec<(String, String)>, DbError> {
    let mut out = Vec::new();
    if runs.is_empty() {
        return Ok(out);
    }
    for chunk in out_bill_nos.chunks(INSERT_CHUNK) {
        out.extend(
            reconciliation_matches::table
                .filter(reconciliation_matches::run_id.eq_any(runs))
                .filter(reconciliation_matches::out_bill_no.eq_any(chunk))
                .filter(reconciliation_matches::direction.eq("out"))
                .select((
                    reconciliation_matches::out_bill_no,
                    reconciliation_matches::run_id,
                ))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(out)
}

/// A run's exceptions after `after` (by seq), of `outcome` if given, within the org paths
/// given (`None`: all).
pub fn items(
    conn: &mut DbConnection,
    run_id: &str,
    outcome: Option<&str>,
    within: Option<&[String]>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<(Item, Option<Resolution>)>, DbError> {
    let mut q = reconciliation_items::table
        .left_join(
            reconciliation_resolutions::table.on(reconciliation_resolutions::run_id
                .eq(reconciliation_items::run_id)
                .and(reconciliation_resolutions::item_key.eq(reconciliation_items::item_key))),
        )
        .filter(reconciliation_items::run_id.eq(run_id))
        .into_boxed();
    if let Some(o) = outcome {
        q = q.filter(reconciliation_items::outcome.eq(o.to_owned()));
    }
    if let Some(a) = after {
        q = q.filter(reconciliation_items::seq.gt(a));
    }
    if let Some(within) = within {
        if within.is_empty() {
            return Ok(Vec::new());
        }
        q = crate::within_subtrees!(q, within, reconciliation_items::org_path);
    }
    Ok(q.order(reconciliation_items::seq.asc())
        .limit(limit)
        .select((Item::as_select(), Option::<Resolution>::as_select()))
        .load(conn)?)
}

pub fn item(
    conn: &mut DbConnection,
    run_id: &str,
    seq: i64,
) -> Result<Option<(Item, Option<Resolution>)>, DbError> {
    Ok(reconciliation_items::table
        .left_join(
            reconciliation_resolutions::table.on(reconciliation_resolutions::run_id
                .eq(reconciliation_items::run_id)
                .and(reconciliation_resolutions::item_key.eq(reconciliation_items::item_key))),
        )
        .filter(reconciliation_items::run_id.eq(run_id))
        .filter(reconciliation_items::seq.eq(seq))
        .select((Item::as_select(), Option::<Resolution>::as_select()))
        .first(conn)
        .optional()?)
}

/// How many of a run's exceptions have no resolution.
pub fn unresolved(conn: &mut DbConnection, run_id: &str) -> Result<i64, DbError> {
    let resolved: i64 = reconciliation_items::table
        .inner_join(
            reconciliation_resolutions::table.on(reconciliation_resolutions::run_id
                .eq(reconciliation_items::run_id)
                .and(reconciliation_resolutions::item_key.eq(reconciliation_items::item_key))),
        )
        .filter(reconciliation_items::run_id.eq(run_id))
        .count()
        .get_result(conn)?;
    let all: i64 = reconciliation_items::table
        .filter(reconciliation_items::run_id.eq(run_id))
        .count()
        .get_result(conn)?;
    Ok(all - resolved)
}

/// Records a resolution; `false` when the item is resolved already.
pub fn insert_resolution(conn: &mut DbConnection, r: &Resolution) -> Result<bool, DbError> {
    match diesel::insert_into(reconciliation_resolutions::table)
        .values(r)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A run's matched lines after `after` (by `out_bill_no`, the key's order), with their
/// attempts, within the org paths given (`None`: all).
pub fn matched_lines(
    conn: &mut DbConnection,
    run_id: &str,
    within: Option<&[String]>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MatchedLine>, DbError> {
    let mut q = reconciliation_matches::table
        .inner_join(
            payout_attempts::table
                .on(payout_attempts::out_bill_no.eq(reconciliation_matches::out_bill_no)),
        )
        .inner_join(payouts::table.on(payouts::id.eq(payout_attempts::payout_id)))
        .filter(reconciliation_matches::run_id.eq(run_id))
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(reconciliation_matches::out_bill_no.gt(a.to_owned()));
    }
    if let Some(within) = within {
        if within.is_empty() {
            return Ok(Vec::new());
        }
        q = crate::within_subtrees!(q, within, payouts::org_path);
    }
    Ok(q.order(reconciliation_matches::out_bill_no.asc())
        .limit(limit)
        .select((
            reconciliation_matches::line,
            reconciliation_matches::out_bill_no,
            reconciliation_matches::direction,
            payout_attempts::id,
            payout_attempts::payout_id,
            payout_attempts::amount_fen,
            payouts::org_path,
        ))
        .load(conn)?)
}

/// The org paths where active staff hold `role` (distinct).
pub fn grant_paths(conn: &mut DbConnection, role: &str) -> Result<Vec<String>, DbError> {
    use crate::schema::{orgs, role_grants, staff};
    Ok(role_grants::table
        .inner_join(orgs::table.on(orgs::id.eq(role_grants::org_id)))
        .inner_join(staff::table.on(staff::id.eq(role_grants::staff_id)))
        .filter(role_grants::role.eq(role))
        .filter(staff::status.eq("active"))
        .select(orgs::path)
        .distinct()
        .load(conn)?)
}
