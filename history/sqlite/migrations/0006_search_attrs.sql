-- 0006: search attributes and memo.
--
-- run_attrs holds the current value of each search attribute of a run,
-- written in the same transaction as the SearchAttributesUpserted event
-- that sets it (the journal stays the source of truth). kind is a
-- history.AttrKind; a keyword's value is in text_val, an int's, a time's
-- (Unix nanoseconds) and a bool's (0 or 1) in int_val. The indexes end with
-- run_id so that a list by attribute reads in ID order, for paging by
-- cursor, without sorting.
--
-- run_memo holds the memo entries, unindexed.
--
-- Neither references runs: a purge deletes their rows with the run's.

CREATE TABLE run_attrs (
    run_id   TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    kind     INTEGER NOT NULL,
    text_val TEXT,
    int_val  INTEGER,
    PRIMARY KEY (run_id, name)
) STRICT, WITHOUT ROWID;

CREATE INDEX run_attrs_text ON run_attrs (name, kind, text_val, run_id);
CREATE INDEX run_attrs_int ON run_attrs (name, kind, int_val, run_id);

CREATE TABLE run_memo (
    run_id TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  BLOB,
    PRIMARY KEY (run_id, key)
) STRICT, WITHOUT ROWID;

-- Close-time ranges read ended runs by updated_at.
CREATE INDEX runs_updated ON runs (updated_at);
CREATE INDEX runs_created ON runs (created_at);
