-- 0004: checksums with each pending task, so that a task row damaged after
-- it was written is reported as corruption of its run instead of being run
-- as work, and does not stop the other tasks from being read.
--
-- Each checksum is the CRC-32C of the row's values (see checksum.go),
-- stored as a signed 32-bit integer:
--   - tasks.sum covers run_id, step, kind, name, input and options, which
--     never change once written;
--   - tasks.attempt_sum covers run_id, step, attempt and not_before, which
--     every retry rewrites together.
--
-- Rows written before this migration have NULL checksums and are read
-- without a check; every row written after has them.

ALTER TABLE tasks ADD COLUMN sum INTEGER;
ALTER TABLE tasks ADD COLUMN attempt_sum INTEGER;
