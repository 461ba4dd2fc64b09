-- 0009: the hash chain that makes the journal tamper-evident (see
-- history.Hasher for the canonical encoding).
--
--   - events.hash is the SHA-256 chain hash of the event, linked to the
--     previous event of its run;
--   - runs.chain_hash is the run's head, the hash of its last event, and
--     runs.chain_pos the run's position in the file chain (NULL for a run
--     only queued, which has no journal yet);
--   - chain_head holds the file chain's head: how many runs were ever
--     created and the last link, which covers every run's ID and position;
--   - chain_purged keeps, for each run that retention deleted, its
--     position, ID, last seq and head, so that the file chain still
--     verifies. Its ID column is not named run_id, so that a purge, which
--     deletes a run's rows from every table with that column, keeps it.
--
-- The chains of a file written before this migration are computed once,
-- by the Go step of this migration (migrations.go), in the same
-- transaction.

ALTER TABLE events ADD COLUMN hash BLOB;
ALTER TABLE runs ADD COLUMN chain_hash BLOB;
ALTER TABLE runs ADD COLUMN chain_pos INTEGER;

CREATE UNIQUE INDEX runs_chain_pos ON runs (chain_pos) WHERE chain_pos IS NOT NULL;

CREATE TABLE chain_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    runs INTEGER NOT NULL,
    hash BLOB    NOT NULL
) STRICT;

INSERT INTO chain_head (id, runs, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE chain_purged (
    pos        INTEGER NOT NULL PRIMARY KEY,
    purged_run TEXT    NOT NULL,
    last_seq   INTEGER NOT NULL,
    head       BLOB
) STRICT;
