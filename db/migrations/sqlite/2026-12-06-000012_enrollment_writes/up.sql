-- As on PostgreSQL (see there): one index, (user_id, plan_code), for the one-per-plan rule
-- and "my enrollments". SQLite keeps the foreign keys (dropping one means rebuilding the
-- table; a local insert's check costs microseconds).
CREATE UNIQUE INDEX enrollments_user_plan_idx ON enrollments (user_id, plan_code);
DROP INDEX enrollments_one_per_plan_idx;
DROP INDEX enrollments_user_idx;
