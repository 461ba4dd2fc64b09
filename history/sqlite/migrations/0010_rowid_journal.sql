-- 0010: the journal and the task index become ordinary rowid tables, each
-- with a unique index on its old key.
--
-- As WITHOUT ROWID tables, events and tasks kept each whole row in their
-- primary-key b-tree, whose cells hold about 1 KB on a 4 KiB page: a row
-- with a kilobyte payload spilled to overflow pages, every seek through the
-- key compared whole rows (reading those pages), and each run's rows landed
-- on leaf pages scattered by run ID, so a step with a kilobyte payload cost
-- several times a small one. In a rowid table a row stays inline up to
-- about 4 KB, new rows are appended at the end of the table, and only the
-- small (run_id, seq) or (run_id, step) entries go into the index.
--
-- The columns, their meaning and the key's uniqueness are unchanged (a
-- duplicate seq or step is still a constraint violation); the rows are
-- copied in key order. Triggers other code put on these tables are kept
-- (see migrations.go).
--
-- tasks.input_in_event, when 1, says that the task's input is not in its
-- row but is the payload of the run's event whose seq is the task's step
-- (an activity's input is the payload of its ActivityScheduled event):
-- a large input written in the same batch as its event is stored once.
-- Its checksum (sum) still covers the input, wherever it is read from.
-- Rows copied here keep their input (NULL: in the row).

CREATE TABLE events_new (
    run_id  TEXT    NOT NULL REFERENCES runs (id),
    seq     INTEGER NOT NULL,
    type    INTEGER NOT NULL,
    name    TEXT    NOT NULL DEFAULT '',
    ref     INTEGER NOT NULL DEFAULT 0,
    time    INTEGER,
    sum     INTEGER,
    hash    BLOB,
    payload BLOB
) STRICT;

INSERT INTO events_new (run_id, seq, type, name, ref, time, sum, hash, payload)
    SELECT run_id, seq, type, name, ref, time, sum, hash, payload FROM events ORDER BY run_id, seq;

DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE UNIQUE INDEX events_run_seq ON events (run_id, seq);

CREATE TABLE tasks_new (
    run_id           TEXT    NOT NULL REFERENCES runs (id),
    step             INTEGER NOT NULL,
    kind             INTEGER NOT NULL DEFAULT 1,
    name             TEXT    NOT NULL,
    attempt          INTEGER NOT NULL,
    not_before       INTEGER,
    pending          INTEGER,
    canceled         INTEGER,
    first_failure_at INTEGER,
    sum              INTEGER,
    attempt_sum      INTEGER,
    state_sum        INTEGER,
    failure_sum      INTEGER,
    options          BLOB,
    heartbeat        BLOB,
    last_failure     BLOB,
    input            BLOB,
    input_in_event   INTEGER
) STRICT;

INSERT INTO tasks_new (run_id, step, kind, name, attempt, not_before, pending, canceled, first_failure_at,
        sum, attempt_sum, state_sum, failure_sum, options, heartbeat, last_failure, input)
    SELECT run_id, step, kind, name, attempt, not_before, pending, canceled, first_failure_at,
        sum, attempt_sum, state_sum, failure_sum, options, heartbeat, last_failure, input
    FROM tasks ORDER BY run_id, step;

DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;
CREATE UNIQUE INDEX tasks_run_step ON tasks (run_id, step);
