-- Progress of a data-key rotation (`gongyou rotate-data-key`): per key rotated to and per
-- table, the primary key of the last row handled (the checkpoint: each batch commits its
-- rows and this row together, so a killed worker resumes after the last committed batch)
-- and what the walk did. Key ids and counts only: no personal data.
CREATE TABLE data_key_rotation_progress (
    key_id TEXT NOT NULL,
    target TEXT NOT NULL,
    last_key TEXT NOT NULL,
    done BOOLEAN NOT NULL,
    reencrypted BIGINT NOT NULL,
    reindexed BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (key_id, target)
);
