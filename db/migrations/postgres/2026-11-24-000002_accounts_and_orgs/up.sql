-- The union hierarchy (materialized path), worker accounts, staff accounts with scoped
-- role grants, sessions (one per sign-in; a refresh-token family) and refresh tokens.
CREATE TABLE orgs (
    id TEXT NOT NULL PRIMARY KEY,
    parent_id TEXT REFERENCES orgs (id),
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    org_type TEXT NOT NULL,
    region_code TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX orgs_path_idx ON orgs (path);
CREATE UNIQUE INDEX orgs_parent_name_idx ON orgs (parent_id, name);

CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    phone TEXT,
    wechat_openid TEXT,
    wechat_unionid TEXT,
    status TEXT NOT NULL,
    merged_into TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_phone_idx ON users (phone);
CREATE UNIQUE INDEX users_wechat_openid_idx ON users (wechat_openid);
CREATE UNIQUE INDEX users_wechat_unionid_idx ON users (wechat_unionid);

CREATE TABLE staff (
    id TEXT NOT NULL PRIMARY KEY,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    status TEXT NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX staff_username_idx ON staff (username);
CREATE INDEX staff_org_idx ON staff (org_id);

CREATE TABLE role_grants (
    staff_id TEXT NOT NULL REFERENCES staff (id),
    role TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    granted_by TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (staff_id, role, org_id)
);
CREATE INDEX role_grants_org_idx ON role_grants (org_id);

CREATE TABLE sessions (
    id TEXT NOT NULL PRIMARY KEY,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    method TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_reason TEXT
);
CREATE INDEX sessions_subject_idx ON sessions (subject_kind, subject_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
