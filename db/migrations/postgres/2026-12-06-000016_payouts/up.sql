-- Payouts (issue 14, ADR 019). One payout per payable claim (`claim_id` unique); each try
-- at paying it is an attempt with its own `out_bill_no` (WeChat Pay's idempotency key, and
-- the bank file's reference). At most one attempt of a payout is open (`open_attempt_id`);
-- a new one starts only after the previous one is final. `org_path` is the claim's frozen
-- union path: finance staff see their subtrees.
CREATE TABLE payouts (
    id TEXT NOT NULL PRIMARY KEY,
    claim_id TEXT NOT NULL,
    claimant_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    org_path TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    status TEXT NOT NULL,
    -- `wechat` or `bank`, and the claim whose sealed details hold the payee (the claim
    -- itself, or another claim of the same rider after finance switched the payee).
    payee_kind TEXT NOT NULL,
    payee_claim_id TEXT NOT NULL,
    -- Set when the payee is one finance entered and a second approver accepted.
    payee_request_id TEXT,
    batch_id TEXT,
    open_attempt_id TEXT,
    attempts INTEGER NOT NULL,
    failure_code TEXT,
    failure_detail TEXT,
    paid_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    revision INTEGER NOT NULL
);
CREATE UNIQUE INDEX payouts_claim_idx ON payouts (claim_id);
CREATE INDEX payouts_walk_idx ON payouts (created_at, id);
CREATE INDEX payouts_status_idx ON payouts (status, created_at, id);
CREATE INDEX payouts_batch_idx ON payouts (batch_id, status);
CREATE INDEX payouts_claimant_idx ON payouts (claimant_id, created_at);

-- Every try at paying a payout. The request's parameters are kept as sent (the payee's
-- name only sealed), so a retry under the same number sends identical parameters.
CREATE TABLE payout_attempts (
    id TEXT NOT NULL PRIMARY KEY,
    payout_id TEXT NOT NULL,
    out_bill_no TEXT NOT NULL,
    channel TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    appid TEXT,
    openid TEXT,
    user_name_enc TEXT,
    remark TEXT NOT NULL,
    -- WeChat Pay's transfer state (ACCEPTED … SUCCESS, FAIL, CANCELLED), `CREATED` before the
    -- first send, or for a bank file `EXPORTED` then SUCCESS / FAIL.
    state TEXT NOT NULL,
    -- A send whose answer never came (timeout, worker died): query before anything else.
    outcome_unknown BOOLEAN NOT NULL,
    sends INTEGER NOT NULL,
    transfer_bill_no TEXT,
    package_info TEXT,
    fail_reason TEXT,
    expires_at TIMESTAMP,
    -- When the rider was reminded that the transfer is about to close unconfirmed.
    reminded_at TIMESTAMP,
    next_check_at TIMESTAMP,
    sent_at TIMESTAMP,
    final_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX payout_attempts_bill_idx ON payout_attempts (out_bill_no);
CREATE INDEX payout_attempts_payout_idx ON payout_attempts (payout_id, created_at);
CREATE INDEX payout_attempts_transfer_idx ON payout_attempts (transfer_bill_no);
-- Open attempts the poller looks at, soonest first.
CREATE INDEX payout_attempts_check_idx ON payout_attempts (next_check_at) WHERE next_check_at IS NOT NULL;

-- A batch: built by one finance approver, approved by another, then sent.
CREATE TABLE payout_batches (
    id TEXT NOT NULL PRIMARY KEY,
    org_id TEXT NOT NULL,
    org_path TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    payouts INTEGER NOT NULL,
    total_fen BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    approved_by TEXT,
    created_at TIMESTAMP NOT NULL,
    approved_at TIMESTAMP,
    -- A bank batch's file is served once: who took it, when.
    file_taken_by TEXT,
    file_taken_at TIMESTAMP,
    results_imported_at TIMESTAMP
);
CREATE INDEX payout_batches_walk_idx ON payout_batches (created_at, id);

-- Every transition of a payout: who, when, from → to, why.
CREATE TABLE payout_events (
    id TEXT NOT NULL PRIMARY KEY,
    payout_id TEXT NOT NULL,
    attempt_id TEXT,
    at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason_code TEXT,
    note TEXT
);
CREATE INDEX payout_events_payout_idx ON payout_events (payout_id, at, id);

-- A payee change finance asked for that the rider never entered: waits on a second
-- finance approver.
CREATE TABLE payout_payee_requests (
    id TEXT NOT NULL PRIMARY KEY,
    payout_id TEXT NOT NULL,
    payee_kind TEXT NOT NULL,
    holder_enc TEXT,
    bank TEXT,
    account_enc TEXT,
    account_masked TEXT,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMP
);
CREATE INDEX payout_payee_requests_payout_idx ON payout_payee_requests (payout_id, requested_at);

-- Per org: the bank's transfer-file template and result-file layout (JSON); the nearest
-- ancestor's setting applies, else the default.
CREATE TABLE payout_settings (
    org_id TEXT NOT NULL PRIMARY KEY,
    bank_template TEXT NOT NULL,
    result_template TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
