ALTER TABLE payout_settings DROP COLUMN statement_template;
DROP INDEX payout_attempts_open_idx;
DROP INDEX payout_attempts_final_idx;
DROP TABLE reconciliation_resolutions;
DROP TABLE reconciliation_match_pages;
DROP TABLE reconciliation_items;
DROP TABLE reconciliation_runs;
