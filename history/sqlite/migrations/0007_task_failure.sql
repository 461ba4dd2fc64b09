-- 0007: what an activity's failed attempts left behind, while it retries.
--
--   - tasks.last_failure holds the encoded failure of the latest failed
--     attempt (the engine's codec), for operators to see why a step is
--     retrying;
--   - tasks.first_failure_at holds when its first attempt failed (Unix
--     nanoseconds), from which the time to detect and to recover a failure
--     count;
--   - tasks.failure_sum is the CRC-32C (see checksum.go) of run_id, step,
--     last_failure and first_failure_at, which are rewritten together.
--
-- Rows written before this migration have NULLs: no failure recorded,
-- nothing to check.

ALTER TABLE tasks ADD COLUMN last_failure BLOB;
ALTER TABLE tasks ADD COLUMN first_failure_at INTEGER;
ALTER TABLE tasks ADD COLUMN failure_sum INTEGER;
