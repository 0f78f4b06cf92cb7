-- Campaign pushes move from one delivery row per recipient to push batches (ADR 010).
--
-- The inbox drops its foreign key to users: a per-row referential check doubled the cost of
-- writing a campaign's inbox rows. Users are never deleted (they are anonymized or merged),
-- and every writer takes user ids from rows that already reference users. SQLite cannot drop
-- a constraint, so the table is rebuilt (migrations run with foreign keys off, and are
-- checked with foreign_key_check afterwards).
CREATE TABLE notifications_new (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT NOT NULL,
    read_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO notifications_new (id, user_id, category, title, body, data, read_at, created_at)
    SELECT id, user_id, category, title, body, data, read_at, created_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_user_idx ON notifications (user_id, id);
DROP INDEX notification_deliveries_campaign_idx;
ALTER TABLE notification_deliveries DROP COLUMN campaign_id;

-- A campaign's app pushes go out in batches: one row per up to 1,000 consecutive inbox rows
-- of the campaign (ids `<campaign id>-<membership id>`, so a batch is a primary-key range of
-- `notifications`). A batch is the delivery record of the push channel for each notification
-- in it: its status, attempts, provider response. Its JPush requests (registration ids, at
-- most 1,000 each, and the cid of each) are frozen in `requests` before the first send, so a
-- batch claimed again after a crash resends the same requests with the same cids and JPush
-- pushes nothing twice. `addressed` counts the recipients with a device and the channel on;
-- the rest of `recipients` were skipped.
CREATE TABLE campaign_push_batches (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    first_notification_id TEXT NOT NULL,
    last_notification_id TEXT NOT NULL,
    recipients BIGINT NOT NULL,
    addressed BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    resends INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    requests TEXT,
    provider_response TEXT,
    sent_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, first_notification_id)
);
CREATE INDEX campaign_push_batches_due_idx ON campaign_push_batches (status, next_attempt_at);
