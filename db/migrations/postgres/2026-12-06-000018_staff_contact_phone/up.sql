-- A staff member's own contact phone, for notices that cannot wait for the inbox (money left
-- the paying account that Gongyou did not send). Optional; never a sign-in key, so it is
-- sealed at rest (`key_id:ciphertext`, AES-256-GCM bound to `staff:<id>:contact_phone`)
-- with no blind index, and shown masked. Only a verified phone receives SMS: a new number
-- waits in `contact_phone_pending_enc` until the code sent to it comes back, and the phone
-- verified before keeps receiving notices meanwhile.
ALTER TABLE staff ADD COLUMN contact_phone_enc TEXT;
ALTER TABLE staff ADD COLUMN contact_phone_masked TEXT;
ALTER TABLE staff ADD COLUMN contact_phone_verified_at TIMESTAMP;
ALTER TABLE staff ADD COLUMN contact_phone_pending_enc TEXT;
ALTER TABLE staff ADD COLUMN contact_phone_pending_at TIMESTAMP;
