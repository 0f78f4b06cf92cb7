-- Platform rosters imported into a plan: one row per upload with its progress counters and
-- the checkpoint (`processed_rows`: data rows done, committed with each batch), and the
-- rejected rows for the error report (masked ID numbers only). The file itself lives in
-- the sealed file store (`stored_files`) until the import finishes.
CREATE TABLE roster_imports (
    id TEXT NOT NULL PRIMARY KEY,
    plan_code TEXT NOT NULL REFERENCES plans (code),
    created_by TEXT NOT NULL,
    file_id TEXT,
    status TEXT NOT NULL,
    encoding TEXT NOT NULL,
    total_rows BIGINT NOT NULL,
    processed_rows BIGINT NOT NULL,
    enrolled BIGINT NOT NULL,
    already_enrolled BIGINT NOT NULL,
    not_members BIGINT NOT NULL,
    ineligible BIGINT NOT NULL,
    invalid_rows BIGINT NOT NULL,
    failure TEXT,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX roster_imports_plan_idx ON roster_imports (plan_code);

CREATE TABLE roster_import_errors (
    import_id TEXT NOT NULL REFERENCES roster_imports (id),
    row_no BIGINT NOT NULL,
    id_number_masked TEXT,
    code TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (import_id, row_no)
);
