ALTER TABLE staff DROP COLUMN contact_phone_pending_at;
ALTER TABLE staff DROP COLUMN contact_phone_pending_enc;
ALTER TABLE staff DROP COLUMN contact_phone_verified_at;
ALTER TABLE staff DROP COLUMN contact_phone_masked;
ALTER TABLE staff DROP COLUMN contact_phone_enc;
