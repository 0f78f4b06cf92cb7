-- Benefit claims (issue 13, ADR 018). A claim's state and the figures the queue filters on
-- live in `claims`; what is personal (hospital, diagnosis, bank account: sealed like ID
-- numbers) and free text live in `claim_details`, so the queue's rows stay narrow and the
-- table stays under diesel's column limit. `org_path` is the claimant's union at filing,
-- frozen: a later transfer does not move the claim.
CREATE TABLE claims (
    id TEXT NOT NULL PRIMARY KEY,
    claimant_id TEXT NOT NULL,
    membership_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    org_path TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    plan_code TEXT NOT NULL,
    plan_version INTEGER NOT NULL,
    benefit_code TEXT NOT NULL,
    status TEXT NOT NULL,
    incident_type TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    admitted_on TEXT,
    discharged_on TEXT,
    claimed_cost_fen BIGINT,
    days INTEGER,
    amount_fen BIGINT,
    approved_fen BIGINT,
    payee_kind TEXT,
    assigned_to TEXT,
    approved_by TEXT,
    confirmed_by TEXT,
    -- Set while the claim waits on staff (submitted, under review, awaiting confirmation):
    -- the review queue's order, and what the reminder job watches.
    waiting_since TIMESTAMP,
    reminded_at TIMESTAMP,
    submitted_at TIMESTAMP,
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Bumped by every change: a decision applies only to the version it was made on.
    revision INTEGER NOT NULL
);
CREATE INDEX claims_claimant_idx ON claims (claimant_id, created_at, id);
CREATE INDEX claims_enrollment_idx ON claims (enrollment_id, benefit_code);
-- Claims waiting on staff, oldest first (the reminders' walk).
CREATE INDEX claims_queue_idx ON claims (waiting_since, id) WHERE waiting_since IS NOT NULL;
CREATE INDEX claims_payable_idx ON claims (status, decided_at) WHERE status = 'approved';

-- The review queue: one row per claim waiting on staff and per org on its path (the
-- claimant's union and every org above it), so that any reviewer's scope is one index
-- range, walked oldest first with the keyset (waiting_since, claim_id). Kept by every change
-- of a claim (db::claims::apply).
CREATE TABLE claim_queue (
    org_id TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    status TEXT NOT NULL,
    waiting_since TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, claim_id)
);
CREATE INDEX claim_queue_walk_idx ON claim_queue (org_id, waiting_since, claim_id);
CREATE INDEX claim_queue_status_idx ON claim_queue (org_id, status, waiting_since, claim_id);
CREATE INDEX claim_queue_claim_idx ON claim_queue (claim_id);

CREATE TABLE claim_details (
    claim_id TEXT NOT NULL PRIMARY KEY,
    place TEXT NOT NULL,
    -- "key_id:ciphertext" (AES-GCM, bound to the claim and the field).
    hospital_enc TEXT,
    diagnosis_enc TEXT,
    -- Normalized invoice numbers, comma-separated.
    invoice_numbers TEXT NOT NULL,
    payee_holder_enc TEXT,
    payee_bank TEXT,
    payee_account_enc TEXT,
    payee_account_masked TEXT,
    erased_at TIMESTAMP
);

-- An invoice number may be claimed once across every member: a row per number of each
-- claim that counts against limits (inserted at submission, removed when the claim is
-- withdrawn or rejected). The primary key is what makes two claims at once on one invoice
-- impossible.
CREATE TABLE claim_invoices (
    number TEXT NOT NULL PRIMARY KEY,
    claim_id TEXT NOT NULL
);
CREATE INDEX claim_invoices_claim_idx ON claim_invoices (claim_id);

CREATE TABLE claim_documents (
    id TEXT NOT NULL PRIMARY KEY,
    claim_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    file_id TEXT,
    content_type TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL,
    erased_at TIMESTAMP
);
CREATE INDEX claim_documents_claim_idx ON claim_documents (claim_id, uploaded_at);

-- Every read of a document by staff: who, when, which document.
CREATE TABLE claim_document_reads (
    id TEXT NOT NULL PRIMARY KEY,
    claim_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    read_at TIMESTAMP NOT NULL
);
CREATE INDEX claim_document_reads_claim_idx ON claim_document_reads (claim_id, read_at);

-- Every transition: who, when, from → to, why.
CREATE TABLE claim_events (
    id TEXT NOT NULL PRIMARY KEY,
    claim_id TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason_code TEXT,
    note TEXT,
    amount_fen BIGINT,
    for_claimant BOOLEAN NOT NULL
);
CREATE INDEX claim_events_claim_idx ON claim_events (claim_id, at, id);

-- Per org: the amount above which an approval needs a finance approver's confirmation.
-- The nearest ancestor's setting applies.
CREATE TABLE claim_settings (
    org_id TEXT NOT NULL PRIMARY KEY,
    confirm_threshold_fen BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
