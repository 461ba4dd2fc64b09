package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// TestPurgeSideTables: a table that a later migration adds with a run_id
// column loses the rows of the purged runs too, and only theirs.
func TestPurgeSideTables(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "chorus.db"), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.w.ExecContext(ctx, `CREATE TABLE run_side (run_id TEXT NOT NULL REFERENCES runs (id), k TEXT, PRIMARY KEY (run_id, k)) STRICT`)
	require.NoError(t, err)

	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"old", "new"} {
		tm := t0
		if id == "new" {
			tm = t0.Add(time.Hour)
		}
		errs, err := s.Commit(ctx, []*history.Batch{{
			RunID: id, Time: tm,
			Create: &history.RunInfo{ID: id, Workflow: "wf", Status: history.StatusCompleted},
			Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: tm}},
		}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
		_, err = s.w.ExecContext(ctx, `INSERT INTO run_side VALUES (?, 'customer')`, id)
		require.NoError(t, err)
	}
	res, err := s.PurgeRuns(ctx, history.PurgeFilter{Before: t0.Add(time.Minute), Limit: 10})
	require.NoError(t, err, "a side table referencing runs must not make the purge fail")
	require.Equal(t, 1, res.Deleted)
	var left []string
	rows, err := s.w.QueryContext(ctx, `SELECT run_id FROM run_side`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		left = append(left, id)
	}
	require.NoError(t, rows.Close())
	require.Equal(t, []string{"new"}, left)
}

// TestPurgeQueryPlan: the candidate search walks the runs in ID order and
// stops at its limit; sorting its matches first would read every ended run
// at each call, and a purge of many runs would read them all many times.
func TestPurgeQueryPlan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	for _, wf := range []string{"", ` AND r.workflow = 'wf'`} {
		rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT r.id FROM runs AS r WHERE r.id > ? AND `+purgeWhere+
			wf+` ORDER BY r.id LIMIT ?`, "", 0, 500)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Close())
		for _, step := range plan {
			require.NotContains(t, step, "TEMP B-TREE", "plan: %q", plan)
		}
	}
}
