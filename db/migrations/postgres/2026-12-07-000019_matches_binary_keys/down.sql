ALTER TABLE reconciliation_matches
    ALTER COLUMN run_id TYPE TEXT COLLATE "default",
    ALTER COLUMN out_bill_no TYPE TEXT COLLATE "default";
