DROP TABLE pii_access_log;
DROP TABLE org_membership_settings;
DROP TABLE membership_routes;
DROP TABLE card_sequences;
DROP TABLE membership_transfers;
DROP TABLE membership_events;
DROP TABLE memberships;
DROP TABLE membership_applications;
