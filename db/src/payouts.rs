//! Storage of payouts (ADR 019): one payout per payable claim (`payouts`), its attempts at
//! the provider (`payout_attempts`, one `out_bill_no` each), batches, the event trail,
//! payee changes waiting on a second approver, and per-org bank file templates.
//!
//! Changes to a payout are compare-and-set on its `revision`, like claims: of two workers
//! (or a worker and a callback) acting on the same state, one wins and the other reloads.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{
    payout_attempts, payout_batches, payout_events, payout_payee_requests, payout_settings, payouts,
};
use crate::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payouts)]
pub struct Payout {
    pub id: String,
    pub claim_id: String,
    pub claimant_id: String,
    pub org_id: String,
    pub org_path: String,
    pub amount_fen: i64,
    pub status: String,
    pub payee_kind: String,
    pub payee_claim_id: String,
    pub payee_request_id: Option<String>,
    pub batch_id: Option<String>,
    pub open_attempt_id: Option<String>,
    pub attempts: i32,
    pub failure_code: Option<String>,
    pub failure_detail: Option<String>,
    pub paid_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub revision: i32,
}

/// A state change of a payout; `None` leaves a column as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = payouts)]
pub struct Change {
    pub status: Option<String>,
    pub payee_kind: Option<String>,
    pub payee_claim_id: Option<String>,
    pub payee_request_id: Option<Option<String>>,
    pub batch_id: Option<Option<String>>,
    pub open_attempt_id: Option<Option<String>>,
    pub attempts: Option<i32>,
    pub failure_code: Option<Option<String>>,
    pub failure_detail: Option<Option<String>>,
    pub paid_at: Option<Option<NaiveDateTime>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payout_attempts)]
pub struct Attempt {
    pub id: String,
    pub payout_id: String,
    pub out_bill_no: String,
    pub channel: String,
    pub amount_fen: i64,
    pub appid: Option<String>,
    pub openid: Option<String>,
    pub user_name_enc: Option<String>,
    pub remark: String,
    pub state: String,
    pub outcome_unknown: bool,
    pub sends: i32,
    pub transfer_bill_no: Option<String>,
    pub package_info: Option<String>,
    pub fail_reason: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub reminded_at: Option<NaiveDateTime>,
    pub next_check_at: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub final_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What a send, a query or a callback learnt about an attempt.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = payout_attempts)]
pub struct AttemptChange {
    pub state: Option<String>,
    pub outcome_unknown: Option<bool>,
    pub sends: Option<i32>,
    pub transfer_bill_no: Option<Option<String>>,
    pub package_info: Option<Option<String>>,
    pub fail_reason: Option<Option<String>>,
    pub expires_at: Option<Option<NaiveDateTime>>,
    pub next_check_at: Option<Option<NaiveDateTime>>,
    pub sent_at: Option<Option<NaiveDateTime>>,
    pub final_at: Option<Option<NaiveDateTime>>,
    pub user_name_enc: Option<Option<String>>,
    pub openid: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payout_batches)]
pub struct Batch {
    pub id: String,
    pub org_id: String,
    pub org_path: String,
    pub channel: String,
    pub status: String,
    pub payouts: i32,
    pub total_fen: i64,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub approved_at: Option<NaiveDateTime>,
    pub file_taken_by: Option<String>,
    pub file_taken_at: Option<NaiveDateTime>,
    pub results_imported_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payout_events)]
pub struct Event {
    pub id: String,
    pub payout_id: String,
    pub attempt_id: Option<String>,
    pub at: NaiveDateTime,
    /// `staff`, `system` or `provider`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason_code: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payout_payee_requests)]
pub struct PayeeRequest {
    pub id: String,
    pub payout_id: String,
    pub payee_kind: String,
    pub holder_enc: Option<String>,
    pub bank: Option<String>,
    pub account_enc: Option<String>,
    pub account_masked: Option<String>,
    pub reason: String,
    pub status: String,
    pub requested_by: String,
    pub requested_at: NaiveDateTime,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = payout_settings)]
pub struct Settings {
    pub org_id: String,
    pub bank_template: String,
    pub result_template: String,
    pub updated_by: String,
    pub updated_at: NaiveDateTime,
    /// The bank account statement's layout (reconciliation); `None`: the default.
    pub statement_template: Option<String>,
}

pub fn insert(conn: &mut DbConnection, p: &Payout) -> Result<(), DbError> {
    diesel::insert_into(payouts::table)
        .values(p)
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Payout>, DbError> {
    Ok(payouts::table
        .find(id)
        .select(Payout::as_select())
        .first(conn)
        .optional()?)
}

pub fn of_claim(conn: &mut DbConnection, claim_id: &str) -> Result<Option<Payout>, DbError> {
    Ok(payouts::table
        .filter(payouts::claim_id.eq(claim_id))
        .select(Payout::as_select())
        .first(conn)
        .optional()?)
}

/// Applies `change` if the payout is still at `revision`; false when it moved meanwhile.
pub fn apply(
    conn: &mut DbConnection,
    id: &str,
    revision: i32,
    change: &Change,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        payouts::table
            .find(id)
            .filter(payouts::revision.eq(revision)),
    )
    .set((
        change,
        payouts::revision.eq(revision + 1),
        payouts::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// What finance filters payouts by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Org paths (subtrees) the caller may see; never empty.
    pub within: Vec<String>,
    pub status: Option<String>,
    pub payee_kind: Option<String>,
    pub batch_id: Option<String>,
    /// Only payouts in no batch yet.
    pub unbatched: bool,
    pub claim_id: Option<String>,
    pub min_fen: Option<i64>,
    pub max_fen: Option<i64>,
    /// Newest first, ids below this one (ids are time-ordered).
    pub before: Option<String>,
}

/// Payouts matching `filter`, newest first.
pub fn list(conn: &mut DbConnection, f: &Filter, limit: i64) -> Result<Vec<Payout>, DbError> {
    if f.within.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = payouts::table.select(Payout::as_select()).into_boxed();
    q = crate::within_subtrees!(q, &f.within, payouts::org_path);
    if let Some(s) = &f.status {
        q = q.filter(payouts::status.eq(s.clone()));
    }
    if let Some(k) = &f.payee_kind {
        q = q.filter(payouts::payee_kind.eq(k.clone()));
    }
    if let Some(b) = &f.batch_id {
        q = q.filter(payouts::batch_id.eq(b.clone()));
    }
    if f.unbatched {
        q = q.filter(payouts::batch_id.is_null());
    }
    if let Some(c) = &f.claim_id {
        q = q.filter(payouts::claim_id.eq(c.clone()));
    }
    if let Some(v) = f.min_fen {
        q = q.filter(payouts::amount_fen.ge(v));
    }
    if let Some(v) = f.max_fen {
        q = q.filter(payouts::amount_fen.le(v));
    }
    if let Some(b) = &f.before {
        q = q.filter(payouts::id.lt(b.clone()));
    }
    Ok(q.order(payouts::id.desc()).limit(limit).load(conn)?)
}

/// Payable payouts in no batch, oldest first (what a batch built by amount or count takes).
pub fn unbatched_oldest(
    conn: &mut DbConnection,
    within: &str,
    payee_kind: &str,
    limit: i64,
) -> Result<Vec<Payout>, DbError> {
    Ok(payouts::table
        .filter(payouts::org_path.like(format!("{within}%")))
        .filter(payouts::batch_id.is_null())
        .filter(payouts::status.eq("pending"))
        .filter(payouts::payee_kind.eq(payee_kind))
        .order(payouts::id.asc())
        .limit(limit)
        .select(Payout::as_select())
        .load(conn)?)
}

/// A claimant's payouts, newest first.
pub fn of_claimant(conn: &mut DbConnection, claimant_id: &str) -> Result<Vec<Payout>, DbError> {
    Ok(payouts::table
        .filter(payouts::claimant_id.eq(claimant_id))
        .order(payouts::id.desc())
        .limit(200)
        .select(Payout::as_select())
        .load(conn)?)
}

/// Payouts of the claimant that are not settled (they block erasure).
pub fn open_of_claimant(conn: &mut DbConnection, claimant_id: &str) -> Result<i64, DbError> {
    Ok(payouts::table
        .filter(payouts::claimant_id.eq(claimant_id))
        .filter(payouts::status.ne("paid"))
        .count()
        .get_result(conn)?)
}

/// Puts payouts into a batch: each only if it is still payable and in no batch. Returns how
/// many were taken.
pub fn take_into_batch(
    conn: &mut DbConnection,
    ids: &[String],
    batch_id: &str,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        payouts::table
            .filter(payouts::id.eq_any(ids))
            .filter(payouts::batch_id.is_null())
            .filter(payouts::status.eq("pending")),
    )
    .set((
        payouts::batch_id.eq(batch_id),
        payouts::revision.eq(payouts::revision + 1),
        payouts::updated_at.eq(now),
    ))
    .execute(conn)?)
}

/// The payouts of a batch, oldest first.
pub fn of_batch(conn: &mut DbConnection, batch_id: &str) -> Result<Vec<Payout>, DbError> {
    Ok(payouts::table
        .filter(payouts::batch_id.eq(batch_id))
        .order(payouts::id.asc())
        .select(Payout::as_select())
        .load(conn)?)
}

/// Per status of a batch's payouts: how many and how much.
pub fn batch_sums(
    conn: &mut DbConnection,
    batch_id: &str,
) -> Result<Vec<(String, i64, i64)>, DbError> {
    let rows: Vec<(String, i64)> = payouts::table
        .filter(payouts::batch_id.eq(batch_id))
        .select((payouts::status, payouts::amount_fen))
        .load(conn)?;
    let mut sums: Vec<(String, i64, i64)> = Vec::new();
    for (status, fen) in rows {
        match sums.iter_mut().find(|s| s.0 == status) {
            Some(s) => {
                s.1 += 1;
                s.2 += fen;
            }
            None => sums.push((status, 1, fen)),
        }
    }
    Ok(sums)
}

pub fn insert_attempt(conn: &mut DbConnection, a: &Attempt) -> Result<(), DbError> {
    diesel::insert_into(payout_attempts::table)
        .values(a)
        .execute(conn)?;
    Ok(())
}

pub fn attempt(conn: &mut DbConnection, id: &str) -> Result<Option<Attempt>, DbError> {
    Ok(payout_attempts::table
        .find(id)
        .select(Attempt::as_select())
        .first(conn)
        .optional()?)
}

pub fn attempt_by_bill(
    conn: &mut DbConnection,
    out_bill_no: &str,
) -> Result<Option<Attempt>, DbError> {
    Ok(payout_attempts::table
        .filter(payout_attempts::out_bill_no.eq(out_bill_no))
        .select(Attempt::as_select())
        .first(conn)
        .optional()?)
}

/// A payout's attempts, oldest first.
pub fn attempts_of(conn: &mut DbConnection, payout_id: &str) -> Result<Vec<Attempt>, DbError> {
    Ok(payout_attempts::table
        .filter(payout_attempts::payout_id.eq(payout_id))
        .order((payout_attempts::created_at.asc(), payout_attempts::id.asc()))
        .select(Attempt::as_select())
        .load(conn)?)
}

/// Updates an attempt unless it is already final (a final state never changes again).
pub fn update_attempt(
    conn: &mut DbConnection,
    id: &str,
    change: &AttemptChange,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        payout_attempts::table
            .find(id)
            .filter(payout_attempts::final_at.is_null()),
    )
    .set((change, payout_attempts::updated_at.eq(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Marks the rider reminded of an attempt still waiting for them; false when it was already
/// (or it is final).
pub fn mark_reminded(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        payout_attempts::table
            .find(id)
            .filter(payout_attempts::reminded_at.is_null())
            .filter(payout_attempts::final_at.is_null()),
    )
    .set(payout_attempts::reminded_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// Open attempts due a check at `now`, soonest first.
pub fn due_checks(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Attempt>, DbError> {
    Ok(payout_attempts::table
        .filter(payout_attempts::next_check_at.le(now))
        .filter(payout_attempts::final_at.is_null())
        .order(payout_attempts::next_check_at.asc())
        .limit(limit)
        .select(Attempt::as_select())
        .load(conn)?)
}

pub fn insert_batch(conn: &mut DbConnection, b: &Batch) -> Result<(), DbError> {
    diesel::insert_into(payout_batches::table)
        .values(b)
        .execute(conn)?;
    Ok(())
}

pub fn batch(conn: &mut DbConnection, id: &str) -> Result<Option<Batch>, DbError> {
    Ok(payout_batches::table
        .find(id)
        .select(Batch::as_select())
        .first(conn)
        .optional()?)
}

/// Batches under any of `within`, newest first.
pub fn batches(
    conn: &mut DbConnection,
    within: &[String],
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Batch>, DbError> {
    if within.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = payout_batches::table
        .select(Batch::as_select())
        .into_boxed();
    q = crate::within_subtrees!(q, within, payout_batches::org_path);
    if let Some(b) = before {
        q = q.filter(payout_batches::id.lt(b.to_owned()));
    }
    Ok(q.order(payout_batches::id.desc()).limit(limit).load(conn)?)
}

/// Moves a batch from `from` to `to` status, setting the approver when given; false when
/// it is no longer in `from`.
pub fn set_batch_status(
    conn: &mut DbConnection,
    id: &str,
    from: &str,
    to: &str,
    approved_by: Option<(&str, NaiveDateTime)>,
) -> Result<bool, DbError> {
    let target = payout_batches::table
        .find(id)
        .filter(payout_batches::status.eq(from));
    let n = match approved_by {
        Some((who, at)) => diesel::update(target)
            .set((
                payout_batches::status.eq(to),
                payout_batches::approved_by.eq(who),
                payout_batches::approved_at.eq(at),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set(payout_batches::status.eq(to))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// Records that the bank file was taken; false when someone took it already.
pub fn take_file(
    conn: &mut DbConnection,
    id: &str,
    staff_id: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        payout_batches::table
            .find(id)
            .filter(payout_batches::file_taken_at.is_null()),
    )
    .set((
        payout_batches::file_taken_by.eq(staff_id),
        payout_batches::file_taken_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn results_imported(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(payout_batches::table.find(id))
        .set(payout_batches::results_imported_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn insert_event(conn: &mut DbConnection, e: &Event) -> Result<(), DbError> {
    diesel::insert_into(payout_events::table)
        .values(e)
        .execute(conn)?;
    Ok(())
}

/// A payout's events, oldest first.
pub fn events(conn: &mut DbConnection, payout_id: &str) -> Result<Vec<Event>, DbError> {
    Ok(payout_events::table
        .filter(payout_events::payout_id.eq(payout_id))
        .order((payout_events::at.asc(), payout_events::id.asc()))
        .select(Event::as_select())
        .load(conn)?)
}

pub fn insert_payee_request(conn: &mut DbConnection, r: &PayeeRequest) -> Result<(), DbError> {
    diesel::insert_into(payout_payee_requests::table)
        .values(r)
        .execute(conn)?;
    Ok(())
}

/// The payee change of a payout waiting on a second approver, if any.
pub fn pending_payee_request(
    conn: &mut DbConnection,
    payout_id: &str,
) -> Result<Option<PayeeRequest>, DbError> {
    Ok(payout_payee_requests::table
        .filter(payout_payee_requests::payout_id.eq(payout_id))
        .filter(payout_payee_requests::status.eq("pending"))
        .select(PayeeRequest::as_select())
        .first(conn)
        .optional()?)
}

pub fn payee_request(conn: &mut DbConnection, id: &str) -> Result<Option<PayeeRequest>, DbError> {
    Ok(payout_payee_requests::table
        .find(id)
        .select(PayeeRequest::as_select())
        .first(conn)
        .optional()?)
}

/// Decides a pending payee change; false when it was decided meanwhile.
pub fn decide_payee_request(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    staff_id: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        payout_payee_requests::table
            .find(id)
            .filter(payout_payee_requests::status.eq("pending")),
    )
    .set((
        payout_payee_requests::status.eq(status),
        payout_payee_requests::decided_by.eq(staff_id),
        payout_payee_requests::decided_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn settings(conn: &mut DbConnection, org_id: &str) -> Result<Option<Settings>, DbError> {
    Ok(payout_settings::table
        .find(org_id)
        .select(Settings::as_select())
        .first(conn)
        .optional()?)
}

pub fn put_settings(conn: &mut DbConnection, s: &Settings) -> Result<(), DbError> {
    let n = diesel::update(payout_settings::table.find(&s.org_id))
        .set(s)
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(payout_settings::table)
            .values(s)
            .execute(conn)?;
    }
    Ok(())
}

/// When the oldest attempt still in flight (sent, not final) was sent; `None` when none is.
/// (The metrics' `payouts_in_flight_oldest_seconds`; read through the open attempts' index.)
pub fn oldest_in_flight(conn: &mut DbConnection) -> Result<Option<NaiveDateTime>, DbError> {
    Ok(payout_attempts::table
        .filter(payout_attempts::final_at.is_null())
        .filter(payout_attempts::sent_at.is_not_null())
        .select(diesel::dsl::min(payout_attempts::sent_at))
        .first::<Option<NaiveDateTime>>(conn)?)
}
