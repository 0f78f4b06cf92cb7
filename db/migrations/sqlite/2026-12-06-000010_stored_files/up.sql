-- Files sealed at rest (ADR 016): rosters, claim documents, bank statements. The object in
-- the file store holds only ciphertext; its per-file key lives here, wrapped by the data
-- key (`wrapped_key`, under `key_id`), so a rotation of the data key rewraps keys, not
-- objects. `state`: uploading → stored → deleting → deleted; `wrapped_key` is cleared when
-- deletion begins (the file can no longer be read even if removing the object fails).
-- `owner` is the account the file is about when it is one worker's (a claim document).
-- `attached_at` marks a file something went on to use (an import that started): a file
-- still unattached a day after it was stored, or still uploading after a day, is an orphan
-- and housekeeping deletes it.
CREATE TABLE stored_files (
    id TEXT NOT NULL PRIMARY KEY,
    object_key TEXT NOT NULL,
    purpose TEXT NOT NULL,
    owner TEXT,
    state TEXT NOT NULL,
    size BIGINT,
    sha256 TEXT,
    wrapped_key TEXT,
    key_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    stored_at TIMESTAMP,
    attached_at TIMESTAMP,
    deleted_at TIMESTAMP
);
CREATE INDEX stored_files_state_idx ON stored_files (state, created_at);
CREATE INDEX stored_files_key_idx ON stored_files (key_id);
CREATE INDEX stored_files_owner_idx ON stored_files (owner);
