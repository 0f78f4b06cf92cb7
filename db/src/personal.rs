//! The registry of personal data: every column of every table, classified — not personal,
//! or personal with how erasure treats it (overwrite, delete the row, or keep for a stated
//! reason) — and which rows belong to a worker. Erasure ([`erase_person`]) iterates it; a test
//! checks it against the migrated schema, so a column added without being classified here
//! fails the build's tests. A feature that stores something about a person extends this
//! table, and erasure covers it without further code (PIPL art. 47).

use chrono::NaiveDateTime;
use diesel::sql_types::{Text, Timestamp};
use diesel::RunQueryDsl;

use crate::{DbConnection, DbError};

/// How erasure treats a personal column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Overwritten on erasure with this SQL expression (it may use the row's own
    /// columns, e.g. `'erased:' || id`).
    Anonymize(&'static str),
    /// The whole row is deleted on erasure.
    Delete,
    /// Kept on erasure, for the stated reason.
    Keep(&'static str),
}

/// Which rows of a table belong to a worker (`{p}` stands for the account id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// `column = {p}`.
    Account(&'static str),
    /// Rows of the worker's memberships: `column IN (their membership ids)`.
    Memberships(&'static str),
    /// A condition of its own.
    Where(&'static str),
    /// No row belongs to one worker; the reason says why.
    NoOne(&'static str),
}

/// One table: whose rows, its personal columns with their handling, its other columns (not
/// personal: ids, statuses, timestamps, settings, the union's own content), and what else
/// erasure sets on the rows (SQL assignments; `{now}` is the time of erasure).
#[derive(Debug, Clone, Copy)]
pub struct TableEntry {
    pub table: &'static str,
    pub owner: Owner,
    pub personal: &'static [(&'static str, Handling)],
    pub plain: &'static [&'static str],
    pub also_set: &'static [&'static str],
}

use Handling::{Anonymize, Delete, Keep};

const STATISTICS: &str = "occupation, platform and region feed the union's aggregate \
    statistics (members by trade and district); with name, ID number and phone gone they \
    identify no one";
const CONSENT: &str = "proof of the consent the data was collected under (PIPL art. 14) \
    outlives the data";
const CARD: &str = "the union's register and finance records reference the card number; \
    alone, with name and ID number gone, it identifies no one";
const STAFF: &str = "a staff member's work identity, not a worker's: kept while the staff \
    account exists (staff accounts are disabled, not erased, so the audit trail keeps naming \
    who acted)";
const STAFF_PHONE: &str = "a staff member's own contact phone for urgent staff notices, \
    sealed at rest and shown masked: not a worker's data, so worker erasure does not reach \
    it; the staff member removes it themselves (DELETE /api/v1/me/contact-phone)";
const VISITOR: &str = "a keyed hash of the account id (ADR 011), never the id itself; the \
    account keeps no identity after erasure, so visits remain as anonymous counts";
const AUDIT: &str = "the record of who read whose identity and why is kept for \
    accountability (PIPL art. 54–55)";
const BATCH_OPENIDS: &str = "WeChat openids frozen in a campaign's subscribe batch while it \
    is sent, so that a dispatcher taking it over resumes with the same recipients; cleared as \
    soon as the batch is done (ADR 021)";
const BATCH_DEVICES: &str = "push registration ids frozen in a campaign batch so that a \
    resend reaches the same devices; housekeeping clears them a day after the batch is done";
const COVER: &str = "the record that cover was granted: claims and the union's accounts of \
    its plans reference the certificate; it holds ids and dates only, no personal data";
const ROSTER: &str = "rows of a platform's roster that were rejected; not linked to an \
    account (the row may be no member at all)";
const ROSTER_MASKED: &str = "the error report shows the ID number masked to its first four and \
    last character, and a reason sentence: together they identify no one";
const STATION_PHONE: &str = "a station's public contact number, published by its operator";
const CLAIM_RECORD: &str = "a claim's money record — what was claimed and paid, for what \
    incident and when, to a masked payee — is kept for the retention period finance must keep \
    (GONGYOU_CLAIM_RETENTION_YEARS, ADR 018); documents, diagnosis, hospital and the bank \
    account are erased";
const CLAIM_READS: &str = "the record of which staff member read which claim document and \
    when is kept for accountability (PIPL art. 54–55); it names no content";
const PAYOUT_RECORD: &str = "a payout's money record — amount, the numbers it was sent under \
    (out_bill_no, WeChat's transfer bill number), its states and dates, the masked payee — is kept \
    with the claim's for the retention period finance must keep (ADR 019); the openid, the \
    encrypted name sent with it and unmasked accounts are erased";
const OF_PAYOUTS: &str = "payout_id IN (SELECT id FROM payouts WHERE claimant_id = {p})";
const OF_CLAIMS: &str = "claim_id IN (SELECT id FROM claims WHERE claimant_id = {p})";

/// Every table and column. Order matters: rows are erased in this order (children first).
pub const REGISTRY: &[TableEntry] = &[
    TableEntry {
        table: "idempotency_keys",
        owner: Owner::Account("caller"),
        personal: &[
            // A stored response may repeat what was submitted (encrypted at rest too).
            ("response_body", Delete),
        ],
        plain: &[
            "caller",
            "idem_key",
            "request_hash",
            "state",
            "response_status",
            "response_headers",
            "created_at",
            "locked_until",
            "expires_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "notification_deliveries",
        owner: Owner::Account("user_id"),
        personal: &[
            // Providers' references and answers about a message to this person.
            ("provider_ref", Delete),
            ("provider_response", Delete),
        ],
        plain: &[
            "id",
            "notification_id",
            "user_id",
            "channel",
            "status",
            "attempts",
            "resends",
            "next_attempt_at",
            "claimed_by",
            "claimed_until",
            "sent_at",
            "updated_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "notifications",
        owner: Owner::Account("user_id"),
        personal: &[
            // The inbox: decisions about the person, reasons, card numbers.
            ("title", Delete),
            ("body", Delete),
            ("data", Delete),
        ],
        plain: &["id", "user_id", "category", "read_at", "created_at"],
        also_set: &[],
    },
    TableEntry {
        table: "devices",
        owner: Owner::Account("user_id"),
        personal: &[("registration_id", Delete)],
        plain: &["user_id", "platform", "created_at", "updated_at"],
        also_set: &[],
    },
    TableEntry {
        table: "notification_preferences",
        owner: Owner::Account("user_id"),
        personal: &[],
        plain: &["user_id", "category", "channel", "enabled", "updated_at"],
        also_set: &[],
    },
    TableEntry {
        table: "wechat_subscription_credits",
        owner: Owner::Account("user_id"),
        personal: &[],
        plain: &["user_id", "template_id", "credits", "updated_at"],
        also_set: &[],
    },
    TableEntry {
        table: "membership_events",
        owner: Owner::Where(
            "membership_id IN (SELECT id FROM memberships WHERE user_id = {p}) \
             OR application_id IN (SELECT id FROM membership_applications WHERE user_id = {p})",
        ),
        personal: &[
            // Free text (the member's own reason, an admin's): may name or describe them.
            ("reason", Anonymize("NULL")),
        ],
        plain: &[
            "id",
            "membership_id",
            "application_id",
            "kind",
            "actor_kind",
            "actor_id",
            "created_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "membership_transfers",
        owner: Owner::Memberships("membership_id"),
        personal: &[
            ("reason", Anonymize("NULL")),
            ("decision_note", Anonymize("NULL")),
        ],
        plain: &[
            "id",
            "membership_id",
            "from_org_id",
            "to_org_id",
            "status",
            "decided_by",
            "decided_at",
            "created_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "memberships",
        owner: Owner::Account("user_id"),
        personal: &[
            ("card_number", Keep(CARD)),
            ("real_name", Anonymize("'已注销'")),
            ("id_number_enc", Anonymize("''")),
            ("id_number_key_id", Anonymize("'erased'")),
            ("id_number_index", Anonymize("'erased:' || id")),
            ("birth_date", Anonymize("''")),
            ("sex", Anonymize("''")),
            ("occupation", Keep(STATISTICS)),
            ("platform", Keep(STATISTICS)),
            ("platform_worker_id", Anonymize("''")),
            ("region_code", Keep(STATISTICS)),
            ("platform_started_on", Anonymize("NULL")),
        ],
        plain: &[
            "id",
            "user_id",
            "org_id",
            "application_id",
            "status",
            "joined_on",
            "ended_at",
            "anonymized_at",
            "created_at",
            "updated_at",
        ],
        also_set: &[
            "anonymized_at = COALESCE(anonymized_at, {now})",
            "updated_at = {now}",
        ],
    },
    TableEntry {
        table: "membership_applications",
        owner: Owner::Account("user_id"),
        personal: &[
            ("real_name", Anonymize("'已注销'")),
            ("id_number_enc", Anonymize("''")),
            ("id_number_key_id", Anonymize("'erased'")),
            ("id_number_index", Anonymize("'erased:' || id")),
            ("birth_date", Anonymize("''")),
            ("sex", Anonymize("''")),
            ("occupation", Keep(STATISTICS)),
            ("platform", Keep(STATISTICS)),
            ("platform_worker_id", Anonymize("''")),
            ("region_code", Keep(STATISTICS)),
            ("platform_started_on", Anonymize("NULL")),
            ("phone", Anonymize("''")),
            ("consent_pi_at", Keep(CONSENT)),
            ("consent_sensitive_at", Keep(CONSENT)),
            // An admin's reason for a decision about this person.
            ("decision_reason", Anonymize("NULL")),
        ],
        plain: &[
            "id",
            "user_id",
            "org_id",
            "status",
            "identity_conflict",
            "decided_by",
            "decided_at",
            "membership_id",
            "created_at",
            "updated_at",
        ],
        also_set: &["updated_at = {now}"],
    },
    TableEntry {
        table: "station_reports",
        owner: Owner::Account("reporter_id"),
        personal: &[
            // What the worker wrote, and the answer to it.
            ("note", Anonymize("NULL")),
            ("resolution", Anonymize("NULL")),
        ],
        plain: &[
            "id",
            "station_id",
            "reporter_id",
            "kind",
            "status",
            "resolved_by",
            "resolved_at",
            "created_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "station_visits",
        owner: Owner::NoOne(VISITOR),
        personal: &[("visitor", Keep(VISITOR))],
        plain: &["id", "station_id", "source", "visited_at", "visited_on"],
        also_set: &[],
    },
    TableEntry {
        table: "sessions",
        owner: Owner::Where("subject_kind = 'user' AND subject_id = {p}"),
        personal: &[],
        plain: &[
            "id",
            "subject_kind",
            "subject_id",
            "method",
            "created_at",
            "revoked_at",
            "revoked_reason",
        ],
        // The account is closed: every session ends.
        also_set: &[
            "revoked_at = COALESCE(revoked_at, {now})",
            "revoked_reason = COALESCE(revoked_reason, 'erased')",
        ],
    },
    TableEntry {
        table: "refresh_tokens",
        owner: Owner::NoOne("hashes of random tokens, useless once their sessions end"),
        personal: &[],
        plain: &[
            "token_hash",
            "session_id",
            "created_at",
            "expires_at",
            "rotated_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "users",
        owner: Owner::Account("id"),
        personal: &[
            ("phone", Anonymize("NULL")),
            ("wechat_openid", Anonymize("NULL")),
            ("wechat_unionid", Anonymize("NULL")),
        ],
        plain: &["id", "status", "merged_into", "created_at", "updated_at"],
        // The account is closed with its identity: signing in again starts a new one.
        also_set: &["status = 'erased'", "updated_at = {now}"],
    },
    TableEntry {
        table: "pii_access_log",
        owner: Owner::NoOne(AUDIT),
        personal: &[("purpose", Keep(AUDIT))],
        plain: &["id", "staff_id", "subject_kind", "subject_id", "created_at"],
        also_set: &[],
    },
    TableEntry {
        table: "campaign_subscribe_batches",
        owner: Owner::NoOne(BATCH_OPENIDS),
        personal: &[("frozen", Keep(BATCH_OPENIDS))],
        plain: &[
            "campaign_id",
            "first_notification_id",
            "last_notification_id",
            "template_id",
            "status",
            "recipients",
            "progress",
            "sent",
            "skipped",
            "retried",
            "dead",
            "attempts",
            "takeovers",
            "next_attempt_at",
            "claimed_by",
            "claimed_until",
            "provider_response",
            "sent_at",
            "updated_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "campaign_push_batches",
        owner: Owner::NoOne(BATCH_DEVICES),
        personal: &[("requests", Keep(BATCH_DEVICES))],
        plain: &[
            "campaign_id",
            "first_notification_id",
            "last_notification_id",
            "recipients",
            "addressed",
            "status",
            "attempts",
            "resends",
            "next_attempt_at",
            "claimed_by",
            "claimed_until",
            "provider_response",
            "sent_at",
            "updated_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "staff",
        owner: Owner::NoOne(STAFF),
        personal: &[
            ("username", Keep(STAFF)),
            ("display_name", Keep(STAFF)),
            ("password_hash", Keep(STAFF)),
            // Sealed (AES-256-GCM, `staff:<id>:contact_phone`), never a sign-in key.
            ("contact_phone_enc", Keep(STAFF_PHONE)),
            ("contact_phone_masked", Keep(STAFF_PHONE)),
            ("contact_phone_verified_at", Keep(STAFF_PHONE)),
            ("contact_phone_pending_enc", Keep(STAFF_PHONE)),
            ("contact_phone_pending_at", Keep(STAFF_PHONE)),
        ],
        plain: &[
            "id",
            "org_id",
            "status",
            "created_by",
            "created_at",
            "updated_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "stations",
        owner: Owner::NoOne("the union's rest stations"),
        personal: &[("contact_phone", Keep(STATION_PHONE))],
        plain: &[
            "id",
            "org_id",
            "kind",
            "name",
            "address",
            "region_code",
            "lat",
            "lng",
            "amenities",
            "hours",
            "status",
            "reopens_at",
            "notice",
            "capacity",
            "version",
            "created_by",
            "created_at",
            "updated_at",
            "code_epoch",
        ],
        also_set: &[],
    },
    plain(
        "orgs",
        "the union hierarchy",
        &[
            "id",
            "parent_id",
            "path",
            "name",
            "org_type",
            "region_code",
            "created_at",
            "updated_at",
        ],
    ),
    plain(
        "role_grants",
        "staff roles",
        &["staff_id", "role", "org_id", "granted_by", "created_at"],
    ),
    plain("card_sequences", "counters", &["region_code", "last_value"]),
    plain(
        "membership_routes",
        "routing settings",
        &["id", "region_code", "occupation", "org_id", "created_at"],
    ),
    plain(
        "org_membership_settings",
        "settings",
        &["org_id", "auto_approve", "updated_at"],
    ),
    plain(
        "jobs",
        "job payloads carry ids only, never personal data",
        &[
            "id",
            "name",
            "queue",
            "priority",
            "dedup_key",
            "payload",
            "status",
            "attempts",
            "max_attempts",
            "run_at",
            "locked_by",
            "locked_until",
            "last_error",
            "created_at",
            "updated_at",
            "finished_at",
        ],
    ),
    plain(
        "data_key_rotation_progress",
        "a data-key rotation's checkpoints: key ids, table names, row ids and counts",
        &[
            "key_id",
            "target",
            "last_key",
            "done",
            "reencrypted",
            "reindexed",
            "failed",
            "updated_at",
        ],
    ),
    plain(
        "periodic_runs",
        "schedule bookkeeping",
        &["name", "period_start", "job_id", "created_at"],
    ),
    plain(
        "campaigns",
        "the union's notices",
        &[
            "id",
            "org_id",
            "occupation",
            "title",
            "body",
            "status",
            "recipients",
            "cursor",
            "created_by",
            "created_at",
            "completed_at",
            "category",
        ],
    ),
    plain("jpush_cids", "push message ids", &["cid", "fetched_at"]),
    plain(
        "station_managers",
        "staff assignments",
        &["station_id", "staff_id", "created_at"],
    ),
    plain(
        "station_locations",
        "where a movable station stood",
        &[
            "id",
            "station_id",
            "lat",
            "lng",
            "recorded_by",
            "recorded_at",
        ],
    ),
    plain(
        "claim_queue",
        "the review queue: claim ids by org, status and waiting time",
        &["org_id", "claim_id", "status", "waiting_since"],
    ),
    plain(
        "claim_settings",
        "each org's confirm threshold for large claims",
        &[
            "org_id",
            "confirm_threshold_fen",
            "updated_by",
            "updated_at",
        ],
    ),
    plain(
        "station_photos",
        "photos of stations, re-encoded without metadata",
        &[
            "id",
            "station_id",
            "object_key",
            "content_type",
            "bytes",
            "uploaded_by",
            "created_at",
        ],
    ),
    TableEntry {
        table: "payout_attempts",
        owner: Owner::Where(OF_PAYOUTS),
        personal: &[
            ("openid", Anonymize("NULL")),
            ("user_name_enc", Anonymize("NULL")),
            ("package_info", Anonymize("NULL")),
            ("out_bill_no", Keep(PAYOUT_RECORD)),
            ("transfer_bill_no", Keep(PAYOUT_RECORD)),
            ("amount_fen", Keep(PAYOUT_RECORD)),
        ],
        plain: &[
            "id",
            "payout_id",
            "channel",
            "appid",
            "remark",
            "state",
            "outcome_unknown",
            "sends",
            "fail_reason",
            "expires_at",
            "reminded_at",
            "next_check_at",
            "sent_at",
            "final_at",
            "created_at",
            "updated_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "payout_events",
        owner: Owner::Where(OF_PAYOUTS),
        // A note may say why the payee changed in the rider's words; the codes stay.
        personal: &[("note", Anonymize("NULL"))],
        plain: &[
            "id",
            "payout_id",
            "attempt_id",
            "at",
            "actor_kind",
            "actor_id",
            "action",
            "from_status",
            "to_status",
            "reason_code",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "payout_payee_requests",
        owner: Owner::Where(OF_PAYOUTS),
        personal: &[
            ("holder_enc", Anonymize("NULL")),
            ("account_enc", Anonymize("NULL")),
            ("reason", Anonymize("''")),
            ("account_masked", Keep(PAYOUT_RECORD)),
            ("bank", Keep(PAYOUT_RECORD)),
        ],
        plain: &[
            "id",
            "payout_id",
            "payee_kind",
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "payouts",
        owner: Owner::Account("claimant_id"),
        personal: &[("amount_fen", Keep(PAYOUT_RECORD))],
        plain: &[
            "id",
            "claim_id",
            "claimant_id",
            "org_id",
            "org_path",
            "status",
            "payee_kind",
            "payee_claim_id",
            "payee_request_id",
            "batch_id",
            "open_attempt_id",
            "attempts",
            "failure_code",
            "failure_detail",
            "paid_at",
            "created_at",
            "updated_at",
            "revision",
        ],
        also_set: &[],
    },
    plain(
        "payout_batches",
        "batches: which finance staff built and approved them, counts and totals",
        &[
            "id",
            "org_id",
            "org_path",
            "channel",
            "status",
            "payouts",
            "total_fen",
            "created_by",
            "approved_by",
            "created_at",
            "approved_at",
            "file_taken_by",
            "file_taken_at",
            "results_imported_at",
        ],
    ),
    plain(
        "payout_settings",
        "each org's bank file templates and bank statement layout",
        &[
            "org_id",
            "bank_template",
            "result_template",
            "updated_by",
            "updated_at",
            "statement_template",
        ],
    ),
    plain(
        "reconciliation_runs",
        "a day's reconciliation of a paying account: totals and status (the money record)",
        &[
            "id",
            "channel",
            "statement_date",
            "status",
            "source",
            "file_id",
            "uploaded_by",
            "statement_template",
            "statement_lines",
            "exceptions",
            "summary",
            "failure_code",
            "failure_detail",
            "tries",
            "overdue_notified_at",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ],
    ),
    plain(
        "reconciliation_items",
        "statement lines and attempts that did not match: provider numbers, our out_bill_no, amounts (the money record, as payout_attempts keeps them; no names or accounts)",
        &[
            "run_id",
            "seq",
            "item_key",
            "outcome",
            "line",
            "provider_no",
            "reference",
            "direction",
            "statement_fen",
            "booked_at",
            "attempt_id",
            "out_bill_no",
            "payout_id",
            "our_fen",
            "held",
            "org_path",
        ],
    ),
    plain(
        "reconciliation_match_pages",
        "which statement line proved which attempt (by out_bill_no), a page of them a row",
        &["run_id", "first_bill", "last_bill", "entries", "body"],
    ),
    plain(
        "reconciliation_resolutions",
        "finance's resolutions of reconciliation exceptions: who, when, why",
        &[
            "id",
            "run_id",
            "item_key",
            "note",
            "resolved_by",
            "resolved_at",
        ],
    ),
    TableEntry {
        table: "claim_details",
        owner: Owner::Where(OF_CLAIMS),
        personal: &[
            ("place", Anonymize("''")),
            ("hospital_enc", Anonymize("NULL")),
            ("diagnosis_enc", Anonymize("NULL")),
            ("payee_holder_enc", Anonymize("NULL")),
            ("payee_account_enc", Anonymize("NULL")),
            ("payee_account_masked", Keep(CLAIM_RECORD)),
            ("payee_bank", Keep(CLAIM_RECORD)),
            ("invoice_numbers", Keep(CLAIM_RECORD)),
        ],
        plain: &["claim_id", "erased_at"],
        also_set: &["erased_at = COALESCE(erased_at, {now})"],
    },
    TableEntry {
        table: "claim_invoices",
        owner: Owner::Where(OF_CLAIMS),
        personal: &[("number", Keep(CLAIM_RECORD))],
        plain: &["claim_id"],
        also_set: &[],
    },
    TableEntry {
        table: "claim_documents",
        owner: Owner::Where(OF_CLAIMS),
        // The document itself is a sealed file (`stored_files`, owner = the claimant):
        // erasure drops its key there. What is left says only that a document was there.
        personal: &[],
        plain: &[
            "id",
            "claim_id",
            "kind",
            "file_id",
            "content_type",
            "bytes",
            "uploaded_at",
            "erased_at",
        ],
        also_set: &["erased_at = COALESCE(erased_at, {now})"],
    },
    TableEntry {
        table: "claim_document_reads",
        owner: Owner::Where(OF_CLAIMS),
        personal: &[("document_id", Keep(CLAIM_READS))],
        plain: &["id", "claim_id", "staff_id", "read_at"],
        also_set: &[],
    },
    TableEntry {
        table: "claim_events",
        owner: Owner::Where(OF_CLAIMS),
        // A reviewer's note may repeat what the documents said; the reason code stays.
        personal: &[("note", Anonymize("NULL"))],
        plain: &[
            "id",
            "claim_id",
            "at",
            "actor_kind",
            "actor_id",
            "action",
            "from_status",
            "to_status",
            "reason_code",
            "amount_fen",
            "for_claimant",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "claims",
        owner: Owner::Account("claimant_id"),
        personal: &[
            ("incident_type", Keep(CLAIM_RECORD)),
            ("occurred_on", Keep(CLAIM_RECORD)),
            ("admitted_on", Keep(CLAIM_RECORD)),
            ("discharged_on", Keep(CLAIM_RECORD)),
            ("claimed_cost_fen", Keep(CLAIM_RECORD)),
        ],
        plain: &[
            "id",
            "claimant_id",
            "membership_id",
            "org_id",
            "org_path",
            "enrollment_id",
            "plan_code",
            "plan_version",
            "benefit_code",
            "status",
            "days",
            "amount_fen",
            "approved_fen",
            "payee_kind",
            "assigned_to",
            "approved_by",
            "confirmed_by",
            "waiting_since",
            "reminded_at",
            "submitted_at",
            "decided_at",
            "created_at",
            "updated_at",
            "revision",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "stored_files",
        owner: Owner::Account("owner"),
        personal: &[
            // The file's key: without it the sealed object is noise (ADR 016), and
            // housekeeping removes the object of a file left `deleting`.
            ("wrapped_key", Anonymize("NULL")),
            // A fingerprint of the document's content.
            ("sha256", Anonymize("NULL")),
        ],
        plain: &[
            "id",
            "object_key",
            "purpose",
            "owner",
            "state",
            "size",
            "key_id",
            "created_at",
            "stored_at",
            "attached_at",
            "deleted_at",
        ],
        also_set: &[
            "state = CASE WHEN state = 'deleted' THEN 'deleted' ELSE 'deleting' END",
            "deleted_at = COALESCE(deleted_at, {now})",
        ],
    },
    TableEntry {
        table: "platform_starts",
        owner: Owner::Memberships("membership_id"),
        personal: &[("started_on", Delete)],
        plain: &["membership_id", "roster_import_id", "recorded_at"],
        also_set: &[],
    },
    TableEntry {
        table: "enrollments",
        owner: Owner::Account("user_id"),
        personal: &[("certificate_no", Keep(COVER))],
        plain: &[
            "id",
            "plan_code",
            "plan_version",
            "user_id",
            "membership_id",
            "effective_from",
            "effective_to",
            "source",
            "roster_import_id",
            "enrolled_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "plans",
        owner: Owner::NoOne("the union's protection plans"),
        personal: &[],
        plain: &[
            "code",
            "sponsor_org_id",
            "current_version",
            "latest_version",
            "next_certificate",
            "created_by",
            "created_at",
            "updated_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "plan_versions",
        owner: Owner::NoOne("the terms of the union's protection plans"),
        personal: &[],
        plain: &[
            "plan_code",
            "version",
            "status",
            "name",
            "description",
            "enrollment_opens_on",
            "enrollment_closes_on",
            "coverage_starts_on",
            "coverage_ends_on",
            "occupations",
            "region_codes",
            "min_age",
            "max_age",
            "min_platform_tenure_months",
            "min_membership_days",
            "created_by",
            "created_at",
            "updated_at",
            "published_by",
            "published_at",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "plan_benefits",
        owner: Owner::NoOne("the benefit items of the union's protection plans"),
        personal: &[],
        plain: &[
            "plan_code",
            "version",
            "position",
            "code",
            "name",
            "kind",
            "amount_fen",
            "max_days",
            "percent_bp",
            "per_claim_cap_fen",
            "yearly_cap_fen",
            "illness_waiting_days",
            "accident_waiting_days",
            "documents",
        ],
        also_set: &[],
    },
    TableEntry {
        table: "roster_import_errors",
        owner: Owner::NoOne(ROSTER),
        personal: &[
            ("id_number_masked", Keep(ROSTER_MASKED)),
            ("detail", Keep(ROSTER_MASKED)),
        ],
        plain: &["import_id", "row_no", "code"],
        also_set: &[],
    },
    TableEntry {
        table: "roster_imports",
        owner: Owner::NoOne("an admin's upload of a platform roster: counts and status only"),
        personal: &[],
        plain: &[
            "id",
            "plan_code",
            "created_by",
            "file_id",
            "status",
            "encoding",
            "total_rows",
            "processed_rows",
            "enrolled",
            "already_enrolled",
            "not_members",
            "ineligible",
            "invalid_rows",
            "failure",
            "created_at",
            "started_at",
            "finished_at",
        ],
        also_set: &[],
    },
];

/// A table with no personal data at all.
const fn plain(
    table: &'static str,
    why: &'static str,
    columns: &'static [&'static str],
) -> TableEntry {
    TableEntry {
        table,
        owner: Owner::NoOne(why),
        personal: &[],
        plain: columns,
        also_set: &[],
    }
}

/// The SQL statements that erase one worker, with `{p}` and `{now}` still to bind.
fn statements() -> Vec<String> {
    let mut out = Vec::new();
    for entry in REGISTRY {
        let predicate = match entry.owner {
            Owner::Account(column) => format!("{column} = {{p}}"),
            Owner::Memberships(column) => {
                format!("{column} IN (SELECT id FROM memberships WHERE user_id = {{p}})")
            }
            Owner::Where(condition) => format!("({condition})"),
            Owner::NoOne(_) => continue,
        };
        if entry.personal.iter().any(|(_, h)| *h == Delete) {
            out.push(format!("DELETE FROM {} WHERE {predicate}", entry.table));
            continue;
        }
        let sets: Vec<String> = entry
            .personal
            .iter()
            .filter_map(|(column, handling)| match handling {
                Anonymize(value) => Some(format!("{column} = {value}")),
                _ => None,
            })
            .chain(entry.also_set.iter().map(|s| (*s).to_owned()))
            .collect();
        if !sets.is_empty() {
            out.push(format!(
                "UPDATE {} SET {} WHERE {predicate}",
                entry.table,
                sets.join(", ")
            ));
        }
    }
    out
}

/// Erases everything the registry says about the worker with account `user_id` (inside the
/// caller's transaction); returns the rows touched.
pub fn erase_person(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let (p, at) = match conn {
        DbConnection::Pg(_) => ("$1", "$2"),
        DbConnection::Sqlite(_) => ("?1", "?2"),
    };
    let mut touched = 0;
    for statement in statements() {
        let sql = statement.replace("{p}", p).replace("{now}", at);
        let uses_now = statement.contains("{now}");
        touched += match conn {
            DbConnection::Pg(c) => {
                let q = diesel::sql_query(sql).bind::<Text, _>(user_id);
                if uses_now {
                    q.bind::<Timestamp, _>(now).execute(c)?
                } else {
                    q.execute(c)?
                }
            }
            DbConnection::Sqlite(c) => {
                let q = diesel::sql_query(sql).bind::<Text, _>(user_id);
                if uses_now {
                    q.bind::<Timestamp, _>(now).execute(c)?
                } else {
                    q.execute(c)?
                }
            }
        };
    }
    Ok(touched)
}
