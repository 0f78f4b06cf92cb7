//! Storage of benefit claims (ADR 018): the claim's state (`claims`), its personal and
//! free-text details (`claim_details`, sealed where sensitive), the invoice numbers that
//! count (`claim_invoices`, one row per number across everyone), documents and every staff
//! read of one, the event trail, and per-org confirm thresholds.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{
    claim_details, claim_document_reads, claim_documents, claim_events, claim_invoices,
    claim_queue, claim_settings, claims, orgs,
};
use crate::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = claims)]
pub struct Claim {
    pub id: String,
    pub claimant_id: String,
    pub membership_id: String,
    pub org_id: String,
    pub org_path: String,
    pub enrollment_id: String,
    pub plan_code: String,
    pub plan_version: i32,
    pub benefit_code: String,
    pub status: String,
    pub incident_type: String,
    pub occurred_on: String,
    pub admitted_on: Option<String>,
    pub discharged_on: Option<String>,
    pub claimed_cost_fen: Option<i64>,
    pub days: Option<i32>,
    pub amount_fen: Option<i64>,
    pub approved_fen: Option<i64>,
    pub payee_kind: Option<String>,
    pub assigned_to: Option<String>,
    pub approved_by: Option<String>,
    pub confirmed_by: Option<String>,
    pub waiting_since: Option<NaiveDateTime>,
    pub reminded_at: Option<NaiveDateTime>,
    pub submitted_at: Option<NaiveDateTime>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub revision: i32,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = claim_details, treat_none_as_null = true)]
pub struct Details {
    pub claim_id: String,
    pub place: String,
    pub hospital_enc: Option<String>,
    pub diagnosis_enc: Option<String>,
    pub invoice_numbers: String,
    pub payee_holder_enc: Option<String>,
    pub payee_bank: Option<String>,
    pub payee_account_enc: Option<String>,
    pub payee_account_masked: Option<String>,
    pub erased_at: Option<NaiveDateTime>,
}

/// What a draft's owner may change (a draft or a returned claim).
#[derive(Debug, Clone, PartialEq, AsChangeset)]
#[diesel(table_name = claims, treat_none_as_null = true)]
pub struct DraftFields {
    pub incident_type: String,
    pub occurred_on: String,
    pub admitted_on: Option<String>,
    pub discharged_on: Option<String>,
    pub claimed_cost_fen: Option<i64>,
    pub payee_kind: Option<String>,
    pub updated_at: NaiveDateTime,
}

/// A state change; `None` leaves a column as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = claims)]
pub struct Change {
    pub status: Option<String>,
    pub days: Option<Option<i32>>,
    pub amount_fen: Option<Option<i64>>,
    pub approved_fen: Option<Option<i64>>,
    pub assigned_to: Option<Option<String>>,
    pub approved_by: Option<Option<String>>,
    pub confirmed_by: Option<Option<String>>,
    pub waiting_since: Option<Option<NaiveDateTime>>,
    pub reminded_at: Option<Option<NaiveDateTime>>,
    pub submitted_at: Option<Option<NaiveDateTime>>,
    pub decided_at: Option<Option<NaiveDateTime>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = claim_documents)]
pub struct Document {
    pub id: String,
    pub claim_id: String,
    pub kind: String,
    pub file_id: Option<String>,
    pub content_type: String,
    pub bytes: i64,
    pub uploaded_at: NaiveDateTime,
    pub erased_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = claim_document_reads)]
pub struct DocumentRead {
    pub id: String,
    pub claim_id: String,
    pub document_id: String,
    pub staff_id: String,
    pub read_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = claim_events)]
pub struct Event {
    pub id: String,
    pub claim_id: String,
    pub at: NaiveDateTime,
    /// `worker`, `staff` or `system`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason_code: Option<String>,
    pub note: Option<String>,
    pub amount_fen: Option<i64>,
    pub for_claimant: bool,
}

pub fn insert(conn: &mut DbConnection, c: &Claim, d: &Details) -> Result<(), DbError> {
    diesel::insert_into(claims::table).values(c).execute(conn)?;
    diesel::insert_into(claim_details::table)
        .values(d)
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Claim>, DbError> {
    Ok(claims::table
        .find(id)
        .select(Claim::as_select())
        .first(conn)
        .optional()?)
}

pub fn details(conn: &mut DbConnection, id: &str) -> Result<Option<Details>, DbError> {
    Ok(claim_details::table
        .find(id)
        .select(Details::as_select())
        .first(conn)
        .optional()?)
}

/// Rewrites a claim its owner may still edit; false when it moved on (or the revision is
/// stale).
pub fn update_draft(
    conn: &mut DbConnection,
    id: &str,
    revision: i32,
    fields: &DraftFields,
    details: &Details,
) -> Result<bool, DbError> {
    let n = diesel::update(
        claims::table
            .find(id)
            .filter(claims::revision.eq(revision))
            .filter(claims::status.eq_any(["draft", "returned"])),
    )
    .set((fields, claims::revision.eq(revision + 1)))
    .execute(conn)?;
    if n == 1 {
        diesel::update(claim_details::table.find(id))
            .set(details)
            .execute(conn)?;
    }
    Ok(n == 1)
}

/// Applies `change` if the claim is still at `revision` (so of two decisions made on the
/// same state, one wins); false otherwise.
pub fn apply(
    conn: &mut DbConnection,
    id: &str,
    revision: i32,
    change: &Change,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(claims::table.find(id).filter(claims::revision.eq(revision)))
        .set((
            change,
            claims::revision.eq(revision + 1),
            claims::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 1 {
        sync_queue(conn, id)?;
    }
    Ok(n == 1)
}

/// Keeps the claim's review-queue rows: one per org on its path while it waits on staff,
/// none otherwise.
fn sync_queue(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    diesel::delete(claim_queue::table.filter(claim_queue::claim_id.eq(id))).execute(conn)?;
    let Some(c) = get(conn, id)? else {
        return Ok(());
    };
    let Some(since) = c.waiting_since else {
        return Ok(());
    };
    for org in c.org_path.split('/').filter(|s| !s.is_empty()) {
        diesel::insert_into(claim_queue::table)
            .values((
                claim_queue::org_id.eq(org),
                claim_queue::claim_id.eq(id),
                claim_queue::status.eq(&c.status),
                claim_queue::waiting_since.eq(since),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A claimant's claims, newest first, after the cursor (a claim id: ids are time-ordered).
pub fn of_claimant(
    conn: &mut DbConnection,
    claimant_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Claim>, DbError> {
    let mut q = claims::table
        .filter(claims::claimant_id.eq(claimant_id))
        .select(Claim::as_select())
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(claims::id.lt(before));
    }
    Ok(q.order(claims::id.desc()).limit(limit).load(conn)?)
}

/// Every claim of a claimant (for the limits: a member has few).
pub fn all_of_claimant(
    conn: &mut DbConnection,
    claimant_id: &str,
) -> Result<Vec<(Claim, String)>, DbError> {
    Ok(claims::table
        .inner_join(claim_details::table)
        .filter(claims::claimant_id.eq(claimant_id))
        .order(claims::id.asc())
        .select((Claim::as_select(), claim_details::invoice_numbers))
        .load(conn)?)
}

/// Claims of the claimant that are not settled: open ones block erasure.
pub fn open_of_claimant(conn: &mut DbConnection, claimant_id: &str) -> Result<i64, DbError> {
    Ok(claims::table
        .filter(claims::claimant_id.eq(claimant_id))
        .filter(claims::status.eq_any([
            "submitted",
            "under_review",
            "returned",
            "awaiting_confirmation",
            "approved",
            "payout_failed",
        ]))
        .count()
        .get_result(conn)?)
}

/// Which of `numbers` are held by a claim other than `claim_id`.
pub fn invoices_taken(
    conn: &mut DbConnection,
    numbers: &[String],
    claim_id: &str,
) -> Result<Vec<String>, DbError> {
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    Ok(claim_invoices::table
        .filter(claim_invoices::number.eq_any(numbers))
        .filter(claim_invoices::claim_id.ne(claim_id))
        .select(claim_invoices::number)
        .load(conn)?)
}

/// Holds `numbers` for `claim_id` (after [`invoices_taken`] found them free, in the same
/// transaction; the primary key refuses a race).
pub fn hold_invoices(
    conn: &mut DbConnection,
    claim_id: &str,
    numbers: &[String],
) -> Result<(), DbError> {
    release_invoices(conn, claim_id)?;
    for number in numbers {
        diesel::insert_into(claim_invoices::table)
            .values((
                claim_invoices::number.eq(number),
                claim_invoices::claim_id.eq(claim_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn release_invoices(conn: &mut DbConnection, claim_id: &str) -> Result<(), DbError> {
    diesel::delete(claim_invoices::table.filter(claim_invoices::claim_id.eq(claim_id)))
        .execute(conn)?;
    Ok(())
}

pub fn insert_event(conn: &mut DbConnection, e: &Event) -> Result<(), DbError> {
    diesel::insert_into(claim_events::table)
        .values(e)
        .execute(conn)?;
    Ok(())
}

/// A claim's events, oldest first; only those meant for the claimant when `for_claimant`.
pub fn events(
    conn: &mut DbConnection,
    claim_id: &str,
    for_claimant: bool,
) -> Result<Vec<Event>, DbError> {
    let mut q = claim_events::table
        .filter(claim_events::claim_id.eq(claim_id))
        .select(Event::as_select())
        .into_boxed();
    if for_claimant {
        q = q.filter(claim_events::for_claimant.eq(true));
    }
    Ok(q.order((claim_events::at.asc(), claim_events::id.asc()))
        .load(conn)?)
}

pub fn insert_document(conn: &mut DbConnection, d: &Document) -> Result<(), DbError> {
    diesel::insert_into(claim_documents::table)
        .values(d)
        .execute(conn)?;
    Ok(())
}

pub fn documents(conn: &mut DbConnection, claim_id: &str) -> Result<Vec<Document>, DbError> {
    Ok(claim_documents::table
        .filter(claim_documents::claim_id.eq(claim_id))
        .order((
            claim_documents::uploaded_at.asc(),
            claim_documents::id.asc(),
        ))
        .select(Document::as_select())
        .load(conn)?)
}

pub fn document_count(conn: &mut DbConnection, claim_id: &str) -> Result<i64, DbError> {
    Ok(claim_documents::table
        .filter(claim_documents::claim_id.eq(claim_id))
        .count()
        .get_result(conn)?)
}

pub fn record_read(conn: &mut DbConnection, r: &DocumentRead) -> Result<(), DbError> {
    diesel::insert_into(claim_document_reads::table)
        .values(r)
        .execute(conn)?;
    Ok(())
}

/// Staff reads of a claim's documents, newest first.
pub fn reads(conn: &mut DbConnection, claim_id: &str) -> Result<Vec<DocumentRead>, DbError> {
    Ok(claim_document_reads::table
        .filter(claim_document_reads::claim_id.eq(claim_id))
        .order((
            claim_document_reads::read_at.desc(),
            claim_document_reads::id.desc(),
        ))
        .limit(200)
        .select(DocumentRead::as_select())
        .load(conn)?)
}

/// Filters of the review queue.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter<'a> {
    /// Org subtrees (materialized paths) in scope; empty: nothing.
    pub within: &'a [String],
    pub statuses: &'a [String],
    pub plan_code: Option<&'a str>,
    pub benefit_code: Option<&'a str>,
    pub min_amount_fen: Option<i64>,
    pub max_amount_fen: Option<i64>,
    /// Waiting since before this instant.
    pub waiting_before: Option<NaiveDateTime>,
    pub assigned_to: Option<&'a str>,
    /// Keyset: after (waiting_since, id).
    pub after: Option<(NaiveDateTime, &'a str)>,
    pub limit: i64,
}

/// The orgs whose subtrees make up `within`, without one inside another (so no claim is
/// listed twice): the last id of each path.
fn scope_orgs(within: &[String]) -> Vec<String> {
    let mut paths: Vec<&String> = within.iter().collect();
    paths.sort_by_key(|p| p.len());
    let mut kept: Vec<&String> = Vec::new();
    for p in paths {
        if !kept.iter().any(|k| p.starts_with(k.as_str())) {
            kept.push(p);
        }
    }
    kept.iter()
        .filter_map(|p| p.split('/').rfind(|s| !s.is_empty()))
        .map(str::to_owned)
        .collect()
}

/// The review queue: claims waiting on staff in scope, oldest first. Each scope is one
/// index range of `claim_queue` (its org's rows), walked in keyset order.
pub fn queue(conn: &mut DbConnection, f: &QueueFilter<'_>) -> Result<Vec<Claim>, DbError> {
    let orgs = scope_orgs(f.within);
    if orgs.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = claim_queue::table
        .inner_join(claims::table)
        .select(Claim::as_select())
        .into_boxed();
    // One org and one status as `=`: PostgreSQL then walks the index in order (it does not
    // treat `= ANY` of one element as a constant).
    match orgs.as_slice() {
        [one] => q = q.filter(claim_queue::org_id.eq(one.clone())),
        many => q = q.filter(claim_queue::org_id.eq_any(many.to_vec())),
    }
    match f.statuses {
        [] => {}
        [one] => q = q.filter(claim_queue::status.eq(one)),
        many => q = q.filter(claim_queue::status.eq_any(many)),
    }
    if let Some(plan) = f.plan_code {
        q = q.filter(claims::plan_code.eq(plan));
    }
    if let Some(benefit) = f.benefit_code {
        q = q.filter(claims::benefit_code.eq(benefit));
    }
    if let Some(min) = f.min_amount_fen {
        q = q.filter(claims::amount_fen.ge(min));
    }
    if let Some(max) = f.max_amount_fen {
        q = q.filter(claims::amount_fen.le(max));
    }
    if let Some(before) = f.waiting_before {
        q = q.filter(claim_queue::waiting_since.lt(before));
    }
    if let Some(staff) = f.assigned_to {
        q = q.filter(claims::assigned_to.eq(staff));
    }
    if let Some((at, id)) = f.after {
        // A row comparison: PostgreSQL makes it the index condition of the walk. Written as
        // `>= at AND (> at OR id > …)` its row estimate collapsed near the end of a long
        // queue and the planner switched to a bitmap scan and a sort (16× slower; ADR 018).
        q = q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "(claim_queue.waiting_since, claim_queue.claim_id) > (",
            )
            .bind::<diesel::sql_types::Timestamp, _>(at)
            .sql(", ")
            .bind::<diesel::sql_types::Text, _>(id.to_owned())
            .sql(")"),
        );
    }
    Ok(q.order((
        claim_queue::waiting_since.asc(),
        claim_queue::claim_id.asc(),
    ))
    .limit(f.limit)
    .load(conn)?)
}

/// Claims waiting on staff since before `before` and not reminded since `reminded_before`.
pub fn overdue(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    reminded_before: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Claim>, DbError> {
    Ok(claims::table
        .filter(claims::waiting_since.lt(before))
        .filter(
            claims::reminded_at
                .is_null()
                .or(claims::reminded_at.lt(reminded_before)),
        )
        .order((claims::waiting_since.asc(), claims::id.asc()))
        .limit(limit)
        .select(Claim::as_select())
        .load(conn)?)
}

pub fn mark_reminded(
    conn: &mut DbConnection,
    ids: &[String],
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(claims::table.filter(claims::id.eq_any(ids)))
        .set(claims::reminded_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Every org's confirm threshold, with the org's path.
pub fn thresholds(conn: &mut DbConnection) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(claim_settings::table
        .inner_join(orgs::table.on(orgs::id.eq(claim_settings::org_id)))
        .select((
            claim_settings::org_id,
            orgs::path,
            claim_settings::confirm_threshold_fen,
        ))
        .load(conn)?)
}

pub fn threshold_of(conn: &mut DbConnection, org_id: &str) -> Result<Option<i64>, DbError> {
    Ok(claim_settings::table
        .find(org_id)
        .select(claim_settings::confirm_threshold_fen)
        .first(conn)
        .optional()?)
}

pub fn set_threshold(
    conn: &mut DbConnection,
    org_id: &str,
    fen: i64,
    by: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(claim_settings::table.find(org_id)).execute(conn)?;
    diesel::insert_into(claim_settings::table)
        .values((
            claim_settings::org_id.eq(org_id),
            claim_settings::confirm_threshold_fen.eq(fen),
            claim_settings::updated_by.eq(by),
            claim_settings::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Active staff holding `role` over the org at `org_path` (on it or an ancestor), with the
/// path of each grant's org.
pub fn staff_over(
    conn: &mut DbConnection,
    role: &str,
    org_path: &str,
) -> Result<Vec<String>, DbError> {
    use crate::schema::{role_grants, staff};
    let grants: Vec<(String, String)> = role_grants::table
        .inner_join(orgs::table.on(orgs::id.eq(role_grants::org_id)))
        .inner_join(staff::table.on(staff::id.eq(role_grants::staff_id)))
        .filter(role_grants::role.eq(role))
        .filter(staff::status.eq("active"))
        .select((role_grants::staff_id, orgs::path))
        .load(conn)?;
    let mut out: Vec<String> = grants
        .into_iter()
        .filter(|(_, path)| org_path.starts_with(path.as_str()))
        .map(|(id, _)| id)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Deletes what is left of erased people's claims (their money record) last changed
/// before `before`: the retention period is over. Returns the claims deleted.
pub fn purge_erased(conn: &mut DbConnection, before: NaiveDateTime) -> Result<usize, DbError> {
    let ids: Vec<String> = claims::table
        .inner_join(claim_details::table)
        .filter(claim_details::erased_at.is_not_null())
        .filter(claims::updated_at.lt(before))
        .select(claims::id)
        .limit(1000)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(claim_events::table.filter(claim_events::claim_id.eq_any(&ids)))
        .execute(conn)?;
    diesel::delete(claim_document_reads::table.filter(claim_document_reads::claim_id.eq_any(&ids)))
        .execute(conn)?;
    diesel::delete(claim_documents::table.filter(claim_documents::claim_id.eq_any(&ids)))
        .execute(conn)?;
    diesel::delete(claim_invoices::table.filter(claim_invoices::claim_id.eq_any(&ids)))
        .execute(conn)?;
    diesel::delete(claim_details::table.filter(claim_details::claim_id.eq_any(&ids)))
        .execute(conn)?;
    Ok(diesel::delete(claims::table.filter(claims::id.eq_any(&ids))).execute(conn)?)
}

/// Removes a document of a claim; the removed row, or None when there was none.
pub fn remove_document(
    conn: &mut DbConnection,
    claim_id: &str,
    document_id: &str,
) -> Result<Option<Document>, DbError> {
    let found = claim_documents::table
        .find(document_id)
        .filter(claim_documents::claim_id.eq(claim_id))
        .filter(claim_documents::erased_at.is_null())
        .select(Document::as_select())
        .first(conn)
        .optional()?;
    if found.is_some() {
        diesel::delete(claim_documents::table.find(document_id)).execute(conn)?;
    }
    Ok(found)
}
