-- 0001: the run index, the journal and the pending activity tasks.
--
-- Times are Unix nanoseconds; NULL stands for the zero time.
-- Payloads are BLOBs; NULL stands for an empty payload.

CREATE TABLE runs (
    id         TEXT    NOT NULL PRIMARY KEY,
    workflow   TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    created_at INTEGER,
    updated_at INTEGER,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    result     BLOB,
    failure    BLOB
) STRICT;

-- ListRuns filters by status or workflow and pages by id.
CREATE INDEX runs_status_id ON runs (status, id);
CREATE INDEX runs_workflow_id ON runs (workflow, id);

CREATE TABLE events (
    run_id  TEXT    NOT NULL REFERENCES runs (id),
    seq     INTEGER NOT NULL,
    type    INTEGER NOT NULL,
    name    TEXT    NOT NULL DEFAULT '',
    ref     INTEGER NOT NULL DEFAULT 0,
    payload BLOB,
    time    INTEGER,
    PRIMARY KEY (run_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE tasks (
    run_id     TEXT    NOT NULL REFERENCES runs (id),
    step       INTEGER NOT NULL,
    activity   TEXT    NOT NULL,
    input      BLOB,
    options    BLOB,
    attempt    INTEGER NOT NULL,
    not_before INTEGER,
    PRIMARY KEY (run_id, step)
) STRICT, WITHOUT ROWID;
