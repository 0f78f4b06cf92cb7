-- Notifications: the in-app inbox (one row per notification, written in the same
-- transaction as the change that caused it), one delivery per (notification, external
-- channel) claimed and recorded in batches, the users' app-push devices and their
-- preferences per category and channel, and JPush idempotency ids fetched ahead.
CREATE TABLE notifications (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT NOT NULL,
    read_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id);

-- A delivery's id is `<notification id>-<channel>`: the primary key is the dedup key per
-- (notification, channel).
CREATE TABLE notification_deliveries (
    id TEXT NOT NULL PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    resends INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    provider_ref TEXT,
    provider_response TEXT,
    sent_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    campaign_id TEXT
);
CREATE INDEX notification_deliveries_campaign_idx ON notification_deliveries (campaign_id, status);
CREATE INDEX notification_deliveries_due_idx ON notification_deliveries (status, next_attempt_at);

CREATE TABLE devices (
    user_id TEXT NOT NULL REFERENCES users (id),
    registration_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, registration_id)
);
CREATE INDEX devices_registration_idx ON devices (registration_id);

CREATE TABLE notification_preferences (
    user_id TEXT NOT NULL REFERENCES users (id),
    category TEXT NOT NULL,
    channel TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, category, channel)
);

CREATE TABLE jpush_cids (
    cid TEXT NOT NULL PRIMARY KEY,
    fetched_at TIMESTAMP NOT NULL
);

-- Campaigns: a notice to an org subtree's active members (optionally one occupation), fanned
-- out by a job in batches; `cursor` is the last membership id written, so a restarted job
-- resumes where it stopped.
CREATE TABLE campaigns (
    id TEXT NOT NULL PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    occupation TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    recipients BIGINT NOT NULL,
    cursor TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);

-- One-time WeChat subscribe-message credits: each `accept` from wx.requestSubscribeMessage
-- allows one message of that template.
CREATE TABLE wechat_subscription_credits (
    user_id TEXT NOT NULL REFERENCES users (id),
    template_id TEXT NOT NULL,
    credits INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, template_id)
);
