CREATE INDEX enrollments_user_idx ON enrollments (user_id);
CREATE UNIQUE INDEX enrollments_one_per_plan_idx ON enrollments (plan_code, user_id);
DROP INDEX enrollments_user_plan_idx;
ALTER TABLE enrollments ADD CONSTRAINT enrollments_membership_id_fkey FOREIGN KEY (membership_id) REFERENCES memberships (id);
ALTER TABLE enrollments ADD CONSTRAINT enrollments_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE enrollments ADD CONSTRAINT enrollments_plan_code_fkey FOREIGN KEY (plan_code) REFERENCES plans (code);
