DROP INDEX station_reports_reporter_idx;
ALTER TABLE stations DROP COLUMN code_epoch;
