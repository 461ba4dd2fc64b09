-- 0002: task kinds, run generations and parent links, for timers, signals,
-- child workflows and continue-as-new.
--
-- A task is no longer always an activity: kind says what it is for
-- (history.TaskKind, 1 = activity), and the activity column, which now holds
-- the activity name or whatever name another kind of task carries (often
-- empty), becomes name. Existing tasks are activities.
--
-- A run that continues as new keeps its id and journal; first_seq is the seq
-- of the RunStarted event of its current generation, where replay starts.
-- Existing runs have had one generation, starting at seq 1.
--
-- A run started as a child workflow records its parent's run id and the
-- step (seq) of the parent's ChildStarted event; parent_run is NULL and
-- parent_step 0 for a run started from outside.

ALTER TABLE tasks RENAME COLUMN activity TO name;
ALTER TABLE tasks ADD COLUMN kind INTEGER NOT NULL DEFAULT 1;

ALTER TABLE runs ADD COLUMN first_seq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN parent_run TEXT;
ALTER TABLE runs ADD COLUMN parent_step INTEGER NOT NULL DEFAULT 0;

-- Finding a run's children (to cancel them, or to show a tree) reads this
-- index; it holds only child runs, so top-level runs cost nothing.
CREATE INDEX runs_parent ON runs (parent_run) WHERE parent_run IS NOT NULL;
