-- Union membership: applications, memberships with card numbers, transfers, the history of
-- every change, routing of applications to grassroots unions, per-org auto-approval, and
-- the log of staff reads of unmasked personal data. ID numbers are stored only encrypted
-- (AES-256-GCM, with the key id) and as an HMAC blind index.
CREATE TABLE membership_applications (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    status TEXT NOT NULL,
    identity_conflict BOOLEAN NOT NULL,
    real_name TEXT NOT NULL,
    id_number_enc TEXT NOT NULL,
    id_number_key_id TEXT NOT NULL,
    id_number_index TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    occupation TEXT NOT NULL,
    platform TEXT NOT NULL,
    platform_worker_id TEXT NOT NULL,
    region_code TEXT NOT NULL,
    phone TEXT NOT NULL,
    consent_pi_at TIMESTAMP NOT NULL,
    consent_sensitive_at TIMESTAMP NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMP,
    decision_reason TEXT,
    membership_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX membership_applications_org_status_idx ON membership_applications (org_id, status);
CREATE INDEX membership_applications_user_idx ON membership_applications (user_id);
CREATE INDEX membership_applications_id_index_idx ON membership_applications (id_number_index);
CREATE UNIQUE INDEX membership_applications_one_pending_idx ON membership_applications (user_id) WHERE status = 'pending';

CREATE TABLE memberships (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    application_id TEXT NOT NULL,
    card_number TEXT NOT NULL,
    status TEXT NOT NULL,
    joined_on TEXT NOT NULL,
    real_name TEXT NOT NULL,
    id_number_enc TEXT NOT NULL,
    id_number_key_id TEXT NOT NULL,
    id_number_index TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    occupation TEXT NOT NULL,
    platform TEXT NOT NULL,
    platform_worker_id TEXT NOT NULL,
    region_code TEXT NOT NULL,
    ended_at TIMESTAMP,
    anonymized_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX memberships_card_number_idx ON memberships (card_number);
CREATE UNIQUE INDEX memberships_live_person_idx ON memberships (id_number_index) WHERE status <> 'withdrawn';
CREATE UNIQUE INDEX memberships_live_user_idx ON memberships (user_id) WHERE status <> 'withdrawn';
CREATE INDEX memberships_org_status_idx ON memberships (org_id, status);

CREATE TABLE membership_events (
    id TEXT NOT NULL PRIMARY KEY,
    membership_id TEXT,
    application_id TEXT,
    kind TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    reason TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX membership_events_membership_idx ON membership_events (membership_id);
CREATE INDEX membership_events_application_idx ON membership_events (application_id);

CREATE TABLE membership_transfers (
    id TEXT NOT NULL PRIMARY KEY,
    membership_id TEXT NOT NULL REFERENCES memberships (id),
    from_org_id TEXT NOT NULL REFERENCES orgs (id),
    to_org_id TEXT NOT NULL REFERENCES orgs (id),
    status TEXT NOT NULL,
    reason TEXT,
    decided_by TEXT,
    decided_at TIMESTAMP,
    decision_note TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX membership_transfers_to_status_idx ON membership_transfers (to_org_id, status);
CREATE INDEX membership_transfers_membership_idx ON membership_transfers (membership_id);
CREATE UNIQUE INDEX membership_transfers_one_pending_idx ON membership_transfers (membership_id) WHERE status = 'pending';

-- Card numbers are <region code><sequence><check digit>: the sequence is per region code,
-- since several unions share a region.
CREATE TABLE card_sequences (
    region_code TEXT NOT NULL PRIMARY KEY,
    last_value BIGINT NOT NULL
);

CREATE TABLE membership_routes (
    id TEXT NOT NULL PRIMARY KEY,
    region_code TEXT NOT NULL,
    occupation TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX membership_routes_region_occupation_idx ON membership_routes (region_code, occupation);

CREATE TABLE org_membership_settings (
    org_id TEXT NOT NULL PRIMARY KEY REFERENCES orgs (id),
    auto_approve BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE pii_access_log (
    id TEXT NOT NULL PRIMARY KEY,
    staff_id TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX pii_access_log_subject_idx ON pii_access_log (subject_kind, subject_id);
