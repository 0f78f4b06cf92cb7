CREATE INDEX enrollments_user_idx ON enrollments (user_id);
CREATE UNIQUE INDEX enrollments_one_per_plan_idx ON enrollments (plan_code, user_id);
DROP INDEX enrollments_user_plan_idx;
