//! Reconciliation's storage (issue 15, ADR 020): runs, their exceptions, their matched lines
//! (in pages of [`PAGE_ENTRIES`], written with `COPY` on PostgreSQL), finance's resolutions,
//! and the attempts a day's statement may name.

use std::cell::RefCell;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::schema::{
    payout_attempts, payouts, reconciliation_items, reconciliation_match_pages,
    reconciliation_resolutions, reconciliation_runs,
};
use crate::{DbConnection, DbError};

/// Rows per multi-row INSERT (items).
const INSERT_CHUNK: usize = 500;
/// Matched lines a page holds (a page's body is about 45 KB).
pub const PAGE_ENTRIES: usize = 1024;
/// Pages per multi-row INSERT on SQLite.
const PAGE_CHUNK: usize = 16;

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
    crate::tx::insert_unless_taken(conn, |c| {
        diesel::insert_into(reconciliation_runs::table)
            .values(run)
            .execute(c)
    })
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
    diesel::delete(
        reconciliation_match_pages::table.filter(reconciliation_match_pages::run_id.eq(run_id)),
    )
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

/// A matched line: the attempt's `out_bill_no`, the statement's line, and whether money
/// went out (`true`) or came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub out_bill_no: String,
    pub line: i64,
    pub out: bool,
}

/// One page of matched lines being filled.
#[derive(Debug, Default)]
struct PageBuilder {
    first: Option<String>,
    last: String,
    entries: i64,
    body: String,
}

impl PageBuilder {
    /// Adds a line; `Some(page)` when the page is full (`(first, last, entries, body)`).
    fn push(&mut self, m: &Match) -> Result<Option<(String, String, i64, String)>, DbError> {
        let bill = m.out_bill_no.as_str();
        if bill.is_empty()
            || bill
                .bytes()
                .any(|b| matches!(b, b',' | b';' | b'\t' | b'\n' | b'\r' | b'\\'))
        {
            return Err(DbError::Payload(format!(
                "unexpected out_bill_no in matched line {}",
                m.line
            )));
        }
        if self.first.is_some() && bill <= self.last.as_str() {
            return Err(DbError::Payload(format!(
                "matched lines out of order at line {}",
                m.line
            )));
        }
        use std::fmt::Write;
        if self.first.is_none() {
            self.first = Some(bill.to_owned());
        } else {
            self.body.push(';');
        }
        let _ = write!(
            self.body,
            "{bill},{},{}",
            m.line,
            if m.out { 'o' } else { 'i' }
        );
        self.last.clear();
        self.last.push_str(bill);
        self.entries += 1;
        Ok((self.entries >= PAGE_ENTRIES as i64)
            .then(|| self.take())
            .flatten())
    }

    /// The page so far, if it holds anything; the builder starts a new one (keeping `last`
    /// for the order check).
    fn take(&mut self) -> Option<(String, String, i64, String)> {
        let first = self.first.take()?;
        let entries = std::mem::take(&mut self.entries);
        let body = std::mem::take(&mut self.body);
        Some((first, self.last.clone(), entries, body))
    }
}

/// The lines of a page's body.
fn page_entries(body: &str) -> impl Iterator<Item = Match> + '_ {
    body.split(';').filter_map(|e| {
        let mut parts = e.split(',');
        let bill = parts.next()?;
        let line = parts.next()?.parse().ok()?;
        let out = parts.next()? == "o";
        Some(Match {
            out_bill_no: bill.to_owned(),
            line,
            out,
        })
    })
}

/// Writes a run's matched lines, given in ascending `out_bill_no` order (an error
/// otherwise), a page of [`PAGE_ENTRIES`] a row: on PostgreSQL one `COPY`, on SQLite
/// multi-row inserts. Returns how many lines were written.
pub fn write_matches(
    conn: &mut DbConnection,
    run_id: &str,
    matches: impl Iterator<Item = Match>,
) -> Result<u64, DbError> {
    let mut builder = PageBuilder::default();
    let mut written = 0u64;
    match conn {
        DbConnection::Pg(pg) => {
            use diesel::pg::CopyFormat;
            use diesel::prelude::ExecuteCopyFromDsl;
            use std::io::Write;
            // diesel's callback is an `Fn`: what it changes sits in cells.
            let matches = RefCell::new(Some(matches));
            let builder = RefCell::new(builder);
            let count = std::cell::Cell::new(0u64);
            let failure: RefCell<Option<DbError>> = RefCell::new(None);
            let result = diesel::copy_from(reconciliation_match_pages::table)
                .from_raw_data(
                    (
                        reconciliation_match_pages::run_id,
                        reconciliation_match_pages::first_bill,
                        reconciliation_match_pages::last_bill,
                        reconciliation_match_pages::entries,
                        reconciliation_match_pages::body,
                    ),
                    |w: &mut dyn Write| -> Result<(), DbError> {
                        let Some(matches) = matches.borrow_mut().take() else {
                            return Ok(());
                        };
                        let mut builder = builder.borrow_mut();
                        // Text format: no tab, newline or backslash in these values (checked
                        // by the builder).
                        let mut emit =
                            |(first, last, entries, body): (String, String, i64, String)| {
                                writeln!(w, "{run_id}\t{first}\t{last}\t{entries}\t{body}").map_err(
                                    |e| DbError::Payload(format!("COPY write failed: {e}")),
                                )
                            };
                        for m in matches {
                            match builder.push(&m) {
                                Ok(Some(page)) => emit(page)?,
                                Ok(None) => {}
                                Err(e) => {
                                    *failure.borrow_mut() = Some(e);
                                    return Err(DbError::Payload("matched lines refused".into()));
                                }
                            }
                            count.set(count.get() + 1);
                        }
                        if let Some(page) = builder.take() {
                            emit(page)?;
                        }
                        Ok(())
                    },
                )
                .with_format(CopyFormat::Text)
                .execute(pg);
            if let Some(e) = failure.into_inner() {
                return Err(e);
            }
            result?;
            written = count.get();
        }
        DbConnection::Sqlite(sqlite) => {
            let mut pages: Vec<(String, String, i64, String)> = Vec::with_capacity(PAGE_CHUNK);
            let mut flush =
                |pages: &mut Vec<(String, String, i64, String)>| -> Result<(), DbError> {
                    if pages.is_empty() {
                        return Ok(());
                    }
                    let rows: Vec<_> = pages
                        .drain(..)
                        .map(|(first, last, entries, body)| {
                            (
                                reconciliation_match_pages::run_id.eq(run_id.to_owned()),
                                reconciliation_match_pages::first_bill.eq(first),
                                reconciliation_match_pages::last_bill.eq(last),
                                reconciliation_match_pages::entries.eq(entries),
                                reconciliation_match_pages::body.eq(body),
                            )
                        })
                        .collect();
                    diesel::insert_into(reconciliation_match_pages::table)
                        .values(&rows)
                        .execute(sqlite)?;
                    Ok(())
                };
            for m in matches {
                if let Some(page) = builder.push(&m)? {
                    pages.push(page);
                    if pages.len() >= PAGE_CHUNK {
                        flush(&mut pages)?;
                    }
                }
                written += 1;
            }
            if let Some(page) = builder.take() {
                pages.push(page);
            }
            flush(&mut pages)?;
        }
    }
    Ok(written)
}

/// The page of a run's matched lines whose range may hold `bill`: the last page starting at
/// or before it.
fn page_holding(
    conn: &mut DbConnection,
    run_id: &str,
    bill: &str,
) -> Result<Option<(String, String)>, DbError> {
    Ok(reconciliation_match_pages::table
        .filter(reconciliation_match_pages::run_id.eq(run_id))
        .filter(reconciliation_match_pages::first_bill.le(bill))
        .order(reconciliation_match_pages::first_bill.desc())
        .select((
            reconciliation_match_pages::last_bill,
            reconciliation_match_pages::body,
        ))
        .first(conn)
        .optional()?)
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
/// Per run, the numbers in order, one page read for each page they fall in.
pub fn matched_in(
    conn: &mut DbConnection,
    runs: &[String],
    out_bill_nos: &[String],
) -> Result<Vec<(String, String)>, DbError> {
    let mut out = Vec::new();
    let mut bills: Vec<&str> = out_bill_nos.iter().map(String::as_str).collect();
    bills.sort_unstable();
    bills.dedup();
    for run in runs {
        // The page read last: its last number and its lines out.
        let mut page: Option<(String, std::collections::HashSet<String>)> = None;
        for &bill in &bills {
            let covered = page.as_ref().is_some_and(|(last, _)| bill <= last.as_str());
            if !covered {
                page = page_holding(conn, run, bill)?.map(|(last, body)| {
                    let outs = page_entries(&body)
                        .filter(|m| m.out)
                        .map(|m| m.out_bill_no)
                        .collect();
                    (last, outs)
                });
            }
            if page.as_ref().is_some_and(|(_, outs)| outs.contains(bill)) {
                out.push((bill.to_owned(), run.clone()));
            }
        }
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
    Ok(unresolved_of(conn, &[run_id.to_owned()])?
        .get(run_id)
        .copied()
        .unwrap_or(0))
}

/// How many exceptions of each of these runs are unresolved, in one query (runs with none
/// are absent).
pub fn unresolved_of(
    conn: &mut DbConnection,
    run_ids: &[String],
) -> Result<std::collections::HashMap<String, i64>, DbError> {
    if run_ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<(String, i64)> = reconciliation_items::table
        .left_join(
            reconciliation_resolutions::table.on(reconciliation_resolutions::run_id
                .eq(reconciliation_items::run_id)
                .and(reconciliation_resolutions::item_key.eq(reconciliation_items::item_key))),
        )
        .filter(reconciliation_items::run_id.eq_any(run_ids))
        .filter(reconciliation_resolutions::id.is_null())
        .group_by(reconciliation_items::run_id)
        .select((reconciliation_items::run_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Exceptions of every run that finance has not resolved (the metrics'
/// `reconciliation_unresolved_exceptions`).
pub fn unresolved_total(conn: &mut DbConnection) -> Result<i64, DbError> {
    Ok(reconciliation_items::table
        .left_join(
            reconciliation_resolutions::table.on(reconciliation_resolutions::run_id
                .eq(reconciliation_items::run_id)
                .and(reconciliation_resolutions::item_key.eq(reconciliation_items::item_key))),
        )
        .filter(reconciliation_resolutions::id.is_null())
        .count()
        .get_result(conn)?)
}

/// The item keys of a run that finance resolved.
pub fn resolved_keys(conn: &mut DbConnection, run_id: &str) -> Result<Vec<String>, DbError> {
    Ok(reconciliation_resolutions::table
        .filter(reconciliation_resolutions::run_id.eq(run_id))
        .select(reconciliation_resolutions::item_key)
        .load(conn)?)
}

/// Records a resolution; `false` when the item is resolved already.
pub fn insert_resolution(conn: &mut DbConnection, r: &Resolution) -> Result<bool, DbError> {
    crate::tx::insert_unless_taken(conn, |c| {
        diesel::insert_into(reconciliation_resolutions::table)
            .values(r)
            .execute(c)
    })
}

/// A run's matched lines after `after` (by `out_bill_no`), at most `limit`, read page by
/// page.
pub fn matches_after(
    conn: &mut DbConnection,
    run_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Match>, DbError> {
    let mut out: Vec<Match> = Vec::new();
    let mut cursor: Option<String> = after.map(str::to_owned);
    while out.len() < limit {
        // The next page holding a number after the cursor.
        let mut q = reconciliation_match_pages::table
            .filter(reconciliation_match_pages::run_id.eq(run_id))
            .into_boxed();
        if let Some(c) = &cursor {
            q = q.filter(reconciliation_match_pages::last_bill.gt(c.clone()));
        }
        let Some((last, body)) = q
            .order(reconciliation_match_pages::first_bill.asc())
            .select((
                reconciliation_match_pages::last_bill,
                reconciliation_match_pages::body,
            ))
            .first::<(String, String)>(conn)
            .optional()?
        else {
            break;
        };
        out.extend(
            page_entries(&body)
                .filter(|m| cursor.as_deref().is_none_or(|c| m.out_bill_no.as_str() > c))
                .take(limit - out.len()),
        );
        cursor = Some(last);
    }
    Ok(out)
}

/// A run's matched lines after `after` (by `out_bill_no`, the pages' order), with their
/// attempts, within the org paths given (`None`: all): at most `limit`.
pub fn matched_lines(
    conn: &mut DbConnection,
    run_id: &str,
    within: Option<&[String]>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MatchedLine>, DbError> {
    let mut out: Vec<MatchedLine> = Vec::new();
    if within.is_some_and(<[String]>::is_empty) {
        return Ok(out);
    }
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut cursor: Option<String> = after.map(str::to_owned);
    while out.len() < limit {
        let want = (limit - out.len()).clamp(64, PAGE_ENTRIES);
        let lines = matches_after(conn, run_id, cursor.as_deref(), want)?;
        let Some(last) = lines.last().map(|m| m.out_bill_no.clone()) else {
            break;
        };
        // Their attempts (in scope), a chunk at a time, in the page's order.
        for chunk in lines.chunks(INSERT_CHUNK) {
            if out.len() >= limit {
                break;
            }
            let bills: Vec<&str> = chunk.iter().map(|m| m.out_bill_no.as_str()).collect();
            let mut q = payout_attempts::table
                .inner_join(payouts::table.on(payouts::id.eq(payout_attempts::payout_id)))
                .filter(payout_attempts::out_bill_no.eq_any(bills))
                .into_boxed();
            if let Some(within) = within {
                q = crate::within_subtrees!(q, within, payouts::org_path);
            }
            let found: std::collections::HashMap<String, (String, String, i64, String)> = q
                .select((
                    payout_attempts::out_bill_no,
                    payout_attempts::id,
                    payout_attempts::payout_id,
                    payout_attempts::amount_fen,
                    payouts::org_path,
                ))
                .load::<(String, String, String, i64, String)>(conn)?
                .into_iter()
                .map(|(bill, attempt, payout, fen, path)| (bill, (attempt, payout, fen, path)))
                .collect();
            for m in chunk {
                if out.len() >= limit {
                    break;
                }
                if let Some((attempt_id, payout_id, amount_fen, org_path)) =
                    found.get(&m.out_bill_no).cloned()
                {
                    out.push(MatchedLine {
                        line: m.line,
                        out_bill_no: m.out_bill_no.clone(),
                        direction: if m.out { "out" } else { "in" }.to_owned(),
                        attempt_id,
                        payout_id,
                        amount_fen,
                        org_path,
                    });
                }
            }
        }
        cursor = Some(last);
    }
    Ok(out)
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
