DROP TABLE enrollments;
DROP TABLE plan_benefits;
DROP TABLE plan_versions;
DROP TABLE plans;
ALTER TABLE memberships DROP COLUMN platform_started_on;
ALTER TABLE membership_applications DROP COLUMN platform_started_on;
