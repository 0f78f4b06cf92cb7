-- A campaign's WeChat subscribe messages, in batches over the same key ranges of its inbox
-- rows as its push batches (ADR 021). WeChat takes one message per request and has no
-- idempotency key, so a batch records how far it got: `progress` recipients of its frozen
-- list are done (sent, skipped, dead, or handed to a per-recipient delivery for a retry),
-- written every few dozen messages; a dispatcher that takes over a lapsed claim resumes
-- there, so at most the killed one's window goes out twice.
CREATE TABLE campaign_subscribe_batches (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    first_notification_id TEXT NOT NULL,
    last_notification_id TEXT NOT NULL,
    template_id TEXT NOT NULL,
    status TEXT NOT NULL,
    -- Recipients in the frozen list (known once frozen), how many are done, and how.
    recipients INTEGER NOT NULL,
    progress INTEGER NOT NULL,
    sent INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    retried INTEGER NOT NULL,
    dead INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    -- Claims taken over from a dispatcher whose lease lapsed mid-batch.
    takeovers INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    -- `notification id,user id,openid` per recipient, `;`-separated, in notification-id
    -- order; written (and the credits taken) on the first claim, cleared once done.
    frozen TEXT,
    provider_response TEXT,
    sent_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, first_notification_id)
);
CREATE INDEX campaign_subscribe_batches_due_idx ON campaign_subscribe_batches (status, next_attempt_at);
