-- 0001: the journal, the run index, the task index, search attributes,
-- named queues and the ownership lease, as the SQLite store's migrations
-- 0001 to 0008 leave them (without the per-row checksums: PostgreSQL
-- checks its own pages when the cluster has data checksums).
--
-- Times are Unix nanoseconds in a BIGINT (a timestamptz keeps only
-- microseconds); NULL stands for the zero time. Payloads are BYTEA; NULL
-- stands for an empty payload. Text keys use the "C" collation so that
-- runs list in the byte order of their IDs, as in SQLite.

CREATE TABLE chorus_runs (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workflow    TEXT     NOT NULL,
    status      SMALLINT NOT NULL,
    created_at  BIGINT,
    updated_at  BIGINT,
    last_seq    BIGINT   NOT NULL DEFAULT 0,
    first_seq   BIGINT   NOT NULL DEFAULT 1,
    parent_run  TEXT COLLATE "C",
    parent_step BIGINT   NOT NULL DEFAULT 0,
    result      BYTEA,
    failure     BYTEA
);

CREATE INDEX chorus_runs_status_id ON chorus_runs (status, id);
CREATE INDEX chorus_runs_workflow_id ON chorus_runs (workflow, id);
CREATE INDEX chorus_runs_parent ON chorus_runs (parent_run) WHERE parent_run IS NOT NULL;
CREATE INDEX chorus_runs_updated ON chorus_runs (updated_at);
CREATE INDEX chorus_runs_created ON chorus_runs (created_at);

CREATE TABLE chorus_events (
    run_id  TEXT COLLATE "C" NOT NULL,
    seq     BIGINT   NOT NULL,
    type    SMALLINT NOT NULL,
    name    TEXT     NOT NULL DEFAULT '',
    ref     BIGINT   NOT NULL DEFAULT 0,
    payload BYTEA,
    time    BIGINT,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE chorus_tasks (
    run_id           TEXT COLLATE "C" NOT NULL,
    step             BIGINT   NOT NULL,
    kind             SMALLINT NOT NULL,
    name             TEXT     NOT NULL DEFAULT '',
    input            BYTEA,
    options          BYTEA,
    attempt          BIGINT   NOT NULL,
    not_before       BIGINT,
    pending          BIGINT,
    heartbeat        BYTEA,
    canceled         BOOLEAN  NOT NULL DEFAULT false,
    last_failure     BYTEA,
    first_failure_at BIGINT,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE chorus_run_attrs (
    run_id   TEXT COLLATE "C" NOT NULL,
    name     TEXT     NOT NULL,
    kind     SMALLINT NOT NULL,
    text_val TEXT,
    int_val  BIGINT,
    PRIMARY KEY (run_id, name)
);

CREATE INDEX chorus_run_attrs_text ON chorus_run_attrs (name, kind, text_val, run_id);
CREATE INDEX chorus_run_attrs_int ON chorus_run_attrs (name, kind, int_val, run_id);

CREATE TABLE chorus_run_memo (
    run_id TEXT COLLATE "C" NOT NULL,
    key    TEXT  NOT NULL,
    value  BYTEA,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE chorus_queue_items (
    seq           BIGSERIAL PRIMARY KEY,
    run_id        TEXT COLLATE "C" NOT NULL UNIQUE,
    queue         TEXT     NOT NULL,
    workflow      TEXT     NOT NULL,
    input         BYTEA,
    options       BYTEA,
    priority      BIGINT   NOT NULL DEFAULT 0,
    dedup_id      TEXT,
    partition_key TEXT     NOT NULL DEFAULT '',
    debounce_key  TEXT,
    state         SMALLINT NOT NULL DEFAULT 0,
    enqueued_at   BIGINT   NOT NULL,
    not_before    BIGINT,
    started_at    BIGINT
);

CREATE INDEX chorus_queue_items_order ON chorus_queue_items (queue, state, priority, seq);
CREATE UNIQUE INDEX chorus_queue_items_dedup ON chorus_queue_items (queue, dedup_id) WHERE dedup_id IS NOT NULL AND state < 2;
CREATE UNIQUE INDEX chorus_queue_items_debounce ON chorus_queue_items (queue, debounce_key) WHERE debounce_key IS NOT NULL AND state = 0;

-- The ownership lease: one row per database (name 'engine'). The engine
-- that holds it is the only one that writes; epoch is its fencing token,
-- raised by every takeover, and every write transaction checks it while
-- holding the row (FOR SHARE), so that a takeover waits for a commit in
-- flight and a paused owner that wakes up after a takeover writes nothing.
-- expires_at is the database server's clock, so that the owners' clocks
-- never matter.
CREATE TABLE chorus_lease (
    name       TEXT        NOT NULL PRIMARY KEY,
    owner      TEXT        NOT NULL,
    epoch      BIGINT      NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
