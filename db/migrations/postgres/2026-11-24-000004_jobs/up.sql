-- The job queue: typed jobs with priority, optional dedup key, JSON payload, leases
-- (locked_by / locked_until, extended by heartbeats), retries with backoff, dead jobs kept
-- for inspection; and the record of periodic runs, one row per (job, period).
CREATE TABLE jobs (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL,
    dedup_key TEXT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    run_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX jobs_ready_idx ON jobs (queue, status, run_at);
CREATE INDEX jobs_status_idx ON jobs (status, updated_at);
CREATE UNIQUE INDEX jobs_live_dedup_idx ON jobs (dedup_key) WHERE status IN ('queued', 'running', 'failed');

CREATE TABLE periodic_runs (
    name TEXT NOT NULL,
    period_start TIMESTAMP NOT NULL,
    job_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (name, period_start)
);
