-- PostgreSQL only (a fillfactor for HOT updates of subscribe credits); SQLite has no
-- equivalent. Kept so both backends have identical migration versions.
SELECT 1;
