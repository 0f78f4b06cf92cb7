-- The floor of a roster import's writes: 1,000,000 enrollment-shaped rows by COPY into a bare
-- table and into one with the enrollments' unique indexes (README, Performance).
-- Run: psql -h 127.0.0.1 -U postgres -d postgres -f tests/benches/roster-floor.sql
\timing on
DROP DATABASE IF EXISTS floor;
CREATE DATABASE floor;
\c floor
CREATE TABLE src AS SELECT gen_random_uuid()::text AS id, 'bench-roster' AS plan_code, 1 AS plan_version, gen_random_uuid()::text AS user_id, gen_random_uuid()::text AS membership_id, 'BENCH-ROSTER-' || lpad(g::text, 8, '0') AS certificate_no, '2026-12-07' AS effective_from, '2027-10-02' AS effective_to, 'roster' AS source, 'imp' AS roster_import_id, now()::timestamp AS enrolled_at FROM generate_series(1, 1000000) g;
\copy src TO '/tmp/floor.tsv'
CREATE TABLE bare (LIKE src);
CREATE TABLE indexed (LIKE src, PRIMARY KEY (id));
CREATE UNIQUE INDEX ON indexed (user_id, plan_code);
CREATE UNIQUE INDEX ON indexed (certificate_no);
CHECKPOINT;
\copy bare FROM '/tmp/floor.tsv'
CHECKPOINT;
\copy indexed FROM '/tmp/floor.tsv'
CHECKPOINT;
TRUNCATE bare;
\copy bare FROM '/tmp/floor.tsv'
\c postgres
DROP DATABASE floor;
