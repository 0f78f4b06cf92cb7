-- A campaign is a notice to many sent as push batches (ADR 010). Roster imports reuse it
-- for their enrollment notices (ADR 017): one campaign row per import (its id the
-- import's), of category `plan_enrolled`, so a million enrolled riders get a thousand JPush
-- requests, not a million. Admins' campaigns are `notice`.
ALTER TABLE campaigns ADD COLUMN category TEXT NOT NULL DEFAULT 'notice';
