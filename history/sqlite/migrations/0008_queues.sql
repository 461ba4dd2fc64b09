-- 0008: named queues of workflow runs waiting to start.
--
-- A run enqueued to a queue has a row in runs with status 8 (queued) and
-- no events, and a row here; when the queue lets it start, the claim
-- deletes the runs row (the engine then creates it as for any start) and
-- marks the item started. An item stays until its run has ended and the
-- queue's rate-limit window has passed, so that limits are counted from
-- this table across restarts.
--
--   - seq orders items first in, first out within a priority;
--   - state is 0 queued, 1 started (its run holds a slot until it ends),
--     2 done (kept only to count starts in a rate-limit window);
--   - priority: lower numbers start first;
--   - dedup_id is unique in a queue among items not done;
--   - debounce_key gathers enqueues into one queued item;
--   - not_before is the earliest start (a debounce window), NULL for now;
--   - options is the engine's JSON encoding of the start's options
--     (timeouts, propagated header).
--
-- Times are Unix nanoseconds.

CREATE TABLE queue_items (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT    NOT NULL UNIQUE,
    queue         TEXT    NOT NULL,
    workflow      TEXT    NOT NULL,
    input         BLOB,
    options       BLOB,
    priority      INTEGER NOT NULL DEFAULT 0,
    dedup_id      TEXT,
    partition_key TEXT    NOT NULL DEFAULT '',
    debounce_key  TEXT,
    state         INTEGER NOT NULL DEFAULT 0,
    enqueued_at   INTEGER NOT NULL,
    not_before    INTEGER,
    started_at    INTEGER
) STRICT;

CREATE INDEX queue_items_order ON queue_items (queue, state, priority, seq);
CREATE UNIQUE INDEX queue_items_dedup ON queue_items (queue, dedup_id) WHERE dedup_id IS NOT NULL AND state < 2;
CREATE UNIQUE INDEX queue_items_debounce ON queue_items (queue, debounce_key) WHERE debounce_key IS NOT NULL AND state = 0;
