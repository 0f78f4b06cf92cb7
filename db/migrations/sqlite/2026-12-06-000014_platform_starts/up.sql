-- Platform start dates learnt from rosters (ADR 017), one narrow row per membership, the
-- first roster to give one wins. They used to be written into `memberships`: on 1,000,000
-- rows that UPDATE (a wide row, five indexes, never HOT) was a third of a roster import's
-- database time; an insert here is one index entry. The member's own date from the
-- application (`memberships.platform_started_on`) still comes first.
CREATE TABLE platform_starts (
    membership_id TEXT NOT NULL PRIMARY KEY,
    started_on TEXT NOT NULL,
    roster_import_id TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
