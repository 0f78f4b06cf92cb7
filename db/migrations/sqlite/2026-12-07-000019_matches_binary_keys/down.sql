-- SQLite compares text byte by byte already (BINARY); the PostgreSQL migration of the same
-- name gives reconciliation_matches' key the "C" collation.
SELECT 1;
