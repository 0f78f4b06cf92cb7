DROP TABLE payout_settings;
DROP TABLE payout_payee_requests;
DROP TABLE payout_events;
DROP TABLE payout_batches;
DROP TABLE payout_attempts;
DROP TABLE payouts;
