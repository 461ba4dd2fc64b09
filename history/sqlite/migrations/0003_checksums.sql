-- 0003: a checksum with each journal event and each run row, so that a row
-- damaged after it was written (by the disk, a bad copy, or a hand edit) is
-- reported as corruption of its run instead of being read as data.
--
-- Each checksum is the CRC-32C of the row's values (see checksum.go),
-- stored as a signed 32-bit integer:
--   - events.sum covers run_id, seq, type, name, ref, payload and time,
--     which never change once written;
--   - runs.sum covers what a run row fixes when it is created: id,
--     workflow, created_at, parent_run and parent_step;
--   - runs.outcome_sum covers id, status, result and failure, which every
--     status change rewrites together.
-- The other columns of runs are checked otherwise: last_seq and first_seq
-- against the journal, updated_at not at all.
--
-- Rows written before this migration have NULL checksums and are read
-- without a check; every row written after has them.

ALTER TABLE events ADD COLUMN sum INTEGER;
ALTER TABLE runs ADD COLUMN sum INTEGER;
ALTER TABLE runs ADD COLUMN outcome_sum INTEGER;
