-- Reconciliation (issue 15, ADR 020). One run per (channel, statement date): the WeChat Pay
-- operating account's fund-flow bill, or the bank account's statement. Reconciling the day
-- again replaces the run's results in place (same id); finance's resolutions are kept by
-- item key in `reconciliation_resolutions`, so they survive the replacement.
CREATE TABLE reconciliation_runs (
    id TEXT NOT NULL PRIMARY KEY,
    channel TEXT NOT NULL,
    statement_date DATE NOT NULL,
    -- waiting (for the bill), overdue (past the deadline, still no bill), queued, running,
    -- done, failed (the statement was refused: hash mismatch, unreadable).
    status TEXT NOT NULL,
    source TEXT,
    file_id TEXT,
    uploaded_by TEXT,
    -- The bank statement layout the file was accepted in (JSON): a rerun reads it the same way.
    statement_template TEXT,
    statement_lines BIGINT NOT NULL,
    exceptions BIGINT NOT NULL,
    -- The summary as JSON: both sides' totals, counts and sums by outcome, the bill's own
    -- summary rows and whether they agree, unreadable lines.
    summary TEXT,
    failure_code TEXT,
    failure_detail TEXT,
    tries INTEGER NOT NULL,
    overdue_notified_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX reconciliation_runs_day_idx ON reconciliation_runs (channel, statement_date);
CREATE INDEX reconciliation_runs_walk_idx ON reconciliation_runs (statement_date, id);

-- The exceptions of a run (every outcome but matched). `seq` is the statement line, or
-- after the last line for what the statement lacks; `item_key` names the item across
-- reruns of the day (outcome, numbers, amounts, occurrence).
CREATE TABLE reconciliation_items (
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    item_key TEXT NOT NULL,
    outcome TEXT NOT NULL,
    line BIGINT,
    provider_no TEXT,
    reference TEXT,
    direction TEXT,
    statement_fen BIGINT,
    booked_at TIMESTAMP,
    attempt_id TEXT,
    out_bill_no TEXT,
    payout_id TEXT,
    our_fen BIGINT,
    held TEXT,
    org_path TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX reconciliation_items_outcome_idx ON reconciliation_items (run_id, outcome, seq);

-- The matched lines (a day may have a million), in pages: which attempt (by its
-- `out_bill_no`) each line proved, in `out_bill_no` order, 1,024 entries a row
-- (`body`: `out_bill_no,line,o|i` joined by `;`). An attempt is matched at most once per run;
-- one with a matched line out is reconciled, found through the page whose range holds its
-- number. A row per line with its key cost about 1.5 s of PostgreSQL's time per million
-- lines written (sorted; 5 s in the bill's order) and 200 MB; pages cost a few hundredths
-- and a quarter of the space (ADR 020).
CREATE TABLE reconciliation_match_pages (
    run_id TEXT NOT NULL,
    first_bill TEXT NOT NULL,
    last_bill TEXT NOT NULL,
    entries BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, first_bill)
);

-- Finance's resolutions, by item key: who, when, why.
CREATE TABLE reconciliation_resolutions (
    id TEXT NOT NULL PRIMARY KEY,
    run_id TEXT NOT NULL,
    item_key TEXT NOT NULL,
    note TEXT NOT NULL,
    resolved_by TEXT NOT NULL,
    resolved_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX reconciliation_resolutions_key_idx ON reconciliation_resolutions (run_id, item_key);

-- The attempts a day's statement may name: final around the day, or still open.
CREATE INDEX payout_attempts_final_idx ON payout_attempts (final_at);
CREATE INDEX payout_attempts_open_idx ON payout_attempts (sent_at) WHERE final_at IS NULL;

-- The bank account statement's layout (JSON; NULL: the default).
ALTER TABLE payout_settings ADD COLUMN statement_template TEXT;
