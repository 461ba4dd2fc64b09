-- 0005: the state of an activity attempt that must survive a crash.
--
--   - tasks.pending, when not NULL, marks an attempt that returned "result
--     pending" and waits to be completed from outside the engine; it holds
--     the attempt's start time (Unix nanoseconds), from which its
--     start-to-close timeout counts;
--   - tasks.heartbeat holds the encoded details of the last heartbeat an
--     attempt recorded, for the next attempt to resume from;
--   - tasks.canceled, when 1, marks an activity that the workflow canceled
--     while waiting for its running attempt to return;
--   - tasks.state_sum is the CRC-32C (see checksum.go) of run_id, step,
--     pending, heartbeat and canceled, which are rewritten together.
--
-- Rows written before this migration have NULLs: not pending, no details,
-- no checksum to check.

ALTER TABLE tasks ADD COLUMN pending INTEGER;
ALTER TABLE tasks ADD COLUMN heartbeat BLOB;
ALTER TABLE tasks ADD COLUMN canceled INTEGER;
ALTER TABLE tasks ADD COLUMN state_sum INTEGER;
