-- Enrollments are written a million at a time by roster imports (ADR 017). Measured on
-- 1,000,000 rows (`INSERT … SELECT` from a staging table): 52 s with the three foreign keys
-- (their per-row referential checks took half of it), 14 s without them.
--
-- * The foreign keys go, as the inbox's did (ADR 010): plans and memberships are never
--   deleted (plans close, memberships are withdrawn or anonymized), and every writer takes
--   the plan, account and membership from the rows it has just read.
-- * One index serves both the one-per-member-per-plan rule and "my enrollments" (by
--   account): (user_id, plan_code) replaces (plan_code, user_id) and (user_id). A plan's
--   enrollment count is its certificates taken (`plans.next_certificate - 1`), not a scan.
ALTER TABLE enrollments DROP CONSTRAINT enrollments_plan_code_fkey;
ALTER TABLE enrollments DROP CONSTRAINT enrollments_user_id_fkey;
ALTER TABLE enrollments DROP CONSTRAINT enrollments_membership_id_fkey;
CREATE UNIQUE INDEX enrollments_user_plan_idx ON enrollments (user_id, plan_code);
DROP INDEX enrollments_one_per_plan_idx;
DROP INDEX enrollments_user_idx;
