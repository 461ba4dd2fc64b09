-- 0011: the index on runs.updated_at holds ended runs only.
--
-- Only listings by close time (ListFilter.ClosedFrom/ClosedTo, which ask
-- for ended runs: status IN (2, 3, 4, 6, 7), written exactly so) search it.
-- Every batch Commit writes sets its run's updated_at, so the full index
-- moved an entry for every step of every running run; now a run enters it
-- once, when it ends (and leaves it if its ID is reused).
DROP INDEX runs_updated;
CREATE INDEX runs_updated ON runs (updated_at) WHERE status IN (2, 3, 4, 6, 7);
