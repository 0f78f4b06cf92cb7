-- A station's QR code can be rotated: the code carries the epoch, and an old poster's code
-- stops working once the epoch moves on (epoch 0 keeps the codes printed before this).
ALTER TABLE stations ADD COLUMN code_epoch INTEGER NOT NULL DEFAULT 0;

-- A worker's reports across all stations are capped per day: counted by reporter.
CREATE INDEX station_reports_reporter_idx ON station_reports (reporter_id, created_at);
