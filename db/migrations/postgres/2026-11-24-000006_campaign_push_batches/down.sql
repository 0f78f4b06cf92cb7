DROP TABLE campaign_push_batches;
ALTER TABLE notification_deliveries ADD COLUMN campaign_id TEXT;
CREATE INDEX notification_deliveries_campaign_idx ON notification_deliveries (campaign_id, status);
ALTER TABLE notifications ADD CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
