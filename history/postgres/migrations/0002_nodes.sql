-- 0002: shared mode, several engines on one database (Options.Shared).
-- Each engine registers a node row, renewed like the lease, whose epoch
-- is its fencing token: every write transaction of a shared store holds
-- its node row (FOR SHARE) and checks the epoch. Each run belongs to the
-- node that created it (owner_node); only that node writes to it. When a
-- node's row expires, another node moves its runs to itself and deletes
-- the row, so that the old node, should it wake up, writes nothing.
-- Single-owner mode (the default) leaves owner_node NULL and ignores
-- these.

ALTER TABLE chorus_runs ADD COLUMN owner_node TEXT COLLATE "C";
CREATE INDEX chorus_runs_owner ON chorus_runs (owner_node) WHERE owner_node IS NOT NULL;

CREATE SEQUENCE chorus_node_epoch;

CREATE TABLE chorus_nodes (
    name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    epoch      BIGINT      NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
