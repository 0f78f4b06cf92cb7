-- Protection plans (保障计划). A plan (by code) has versions; a published version's terms
-- never change, a new version is a new row. Eligibility rules are columns (lists as
-- comma-separated codes), benefit items rows; money is BIGINT fen, percentages basis
-- points. One enrollment per account per plan code, whatever the version; each keeps the
-- version it enrolled in. Dates are 'YYYY-MM-DD' in Asia/Shanghai.
ALTER TABLE membership_applications ADD COLUMN platform_started_on TEXT;
ALTER TABLE memberships ADD COLUMN platform_started_on TEXT;

CREATE TABLE plans (
    code TEXT NOT NULL PRIMARY KEY,
    sponsor_org_id TEXT NOT NULL REFERENCES orgs (id),
    -- The version open to enrollment (or the last one, once closed); NULL before the first publish.
    current_version INTEGER,
    latest_version INTEGER NOT NULL,
    next_certificate BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX plans_sponsor_idx ON plans (sponsor_org_id);

CREATE TABLE plan_versions (
    plan_code TEXT NOT NULL REFERENCES plans (code),
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    enrollment_opens_on TEXT NOT NULL,
    enrollment_closes_on TEXT NOT NULL,
    coverage_starts_on TEXT NOT NULL,
    coverage_ends_on TEXT NOT NULL,
    occupations TEXT NOT NULL,
    region_codes TEXT NOT NULL,
    min_age INTEGER,
    max_age INTEGER,
    min_platform_tenure_months INTEGER,
    min_membership_days INTEGER,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    published_by TEXT,
    published_at TIMESTAMP,
    PRIMARY KEY (plan_code, version)
);

CREATE TABLE plan_benefits (
    plan_code TEXT NOT NULL,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount_fen BIGINT,
    max_days INTEGER,
    percent_bp INTEGER,
    per_claim_cap_fen BIGINT,
    yearly_cap_fen BIGINT,
    illness_waiting_days INTEGER NOT NULL,
    accident_waiting_days INTEGER NOT NULL,
    documents TEXT NOT NULL,
    PRIMARY KEY (plan_code, version, code),
    FOREIGN KEY (plan_code, version) REFERENCES plan_versions (plan_code, version)
);

CREATE TABLE enrollments (
    id TEXT NOT NULL PRIMARY KEY,
    plan_code TEXT NOT NULL REFERENCES plans (code),
    plan_version INTEGER NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    membership_id TEXT NOT NULL REFERENCES memberships (id),
    certificate_no TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    effective_to TEXT NOT NULL,
    source TEXT NOT NULL,
    roster_import_id TEXT,
    enrolled_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX enrollments_one_per_plan_idx ON enrollments (plan_code, user_id);
CREATE UNIQUE INDEX enrollments_certificate_idx ON enrollments (certificate_no);
CREATE INDEX enrollments_user_idx ON enrollments (user_id);
