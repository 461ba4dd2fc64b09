package historytest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// RunPurge runs the conformance cases of [history.Store.PurgeRuns] against
// the stores open returns, as [Run] does for the rest of the interface.
func RunPurge(t *testing.T, open func(t *testing.T) history.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s history.Store)
	}{
		{"OnlyEndedBeforeCutoff", testPurgeOnlyEndedBeforeCutoff},
		{"Limit", testPurgeLimit},
		{"Cursor", testPurgeCursor},
		{"Workflow", testPurgeWorkflow},
		{"OwedRuns", testPurgeOwedRuns},
		{"InvalidFilter", testPurgeInvalidFilter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			require.NotNil(t, s, "open returned a nil store")
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			tc.fn(t, s)
		})
	}
}

// endBatch ends run id (whose last event is lastSeq) with status st at tm.
func endBatch(id string, lastSeq int64, st history.RunStatus, tm time.Time) *history.Batch {
	typ := map[history.RunStatus]history.EventType{
		history.StatusCompleted:  history.EventRunCompleted,
		history.StatusFailed:     history.EventRunFailed,
		history.StatusCanceled:   history.EventRunCanceled,
		history.StatusTerminated: history.EventRunTerminated,
		history.StatusTimedOut:   history.EventRunTerminated,
	}[st]
	b := appendBatch(id, tm, event(lastSeq+1, typ, "", 0, tm))
	b.Status = &history.StatusUpdate{Status: st}
	return b
}

// endedRun creates run id of workflow wf at t0 and ends it with st at tm.
func endedRun(t *testing.T, s history.Store, id, wf string, st history.RunStatus, tm time.Time) {
	t.Helper()
	commit(t, s, createBatch(id, wf, t0))
	commit(t, s, endBatch(id, 1, st, tm))
}

func purge(t *testing.T, s history.Store, f history.PurgeFilter) int {
	t.Helper()
	res, err := s.PurgeRuns(t.Context(), f)
	require.NoError(t, err)
	return res.Deleted
}

func requireGone(t *testing.T, s history.Store, id string) {
	t.Helper()
	_, err := s.Run(t.Context(), id)
	require.ErrorIs(t, err, history.ErrRunNotFound, "run %q", id)
	_, err = s.Events(t.Context(), id, 0)
	require.ErrorIs(t, err, history.ErrRunNotFound, "events of run %q", id)
}

func requireKept(t *testing.T, s history.Store, id string, events int) {
	t.Helper()
	_, err := s.Run(t.Context(), id)
	require.NoError(t, err, "run %q", id)
	evs, err := s.Events(t.Context(), id, 0)
	require.NoError(t, err, "events of run %q", id)
	require.Len(t, evs, events, "events of run %q", id)
}

func testPurgeOnlyEndedBeforeCutoff(t *testing.T, s history.Store) {
	old, cutoff, recent := at(time.Hour), at(2*time.Hour), at(3*time.Hour)
	ended := []history.RunStatus{history.StatusCompleted, history.StatusFailed, history.StatusCanceled,
		history.StatusTerminated, history.StatusTimedOut}
	for _, st := range ended {
		endedRun(t, s, "old-"+st.String(), "wf", st, old)
	}
	endedRun(t, s, "recent", "wf", history.StatusCompleted, recent)
	// Ended exactly at the cutoff: not before it.
	endedRun(t, s, "at-cutoff", "wf", history.StatusCompleted, cutoff)

	// A running run with a task, and a blocked one, both untouched since
	// long before the cutoff.
	run := createBatch("running", "wf", t0)
	run.Events = append(run.Events, scheduled(2, "act", t0))
	run.AddTasks = []history.Task{{Step: 2, Name: "act", Attempt: 1}}
	commit(t, s, run)
	commit(t, s, createBatch("blocked", "wf", t0))
	blk := appendBatch("blocked", old)
	blk.Status = &history.StatusUpdate{Status: history.StatusBlocked, Failure: []byte(`{"message":"diverged"}`)}
	commit(t, s, blk)

	n := purge(t, s, history.PurgeFilter{Before: cutoff, Limit: 100})
	require.Equal(t, len(ended), n)
	for _, st := range ended {
		requireGone(t, s, "old-"+st.String())
	}
	requireKept(t, s, "recent", 2)
	requireKept(t, s, "at-cutoff", 2)
	requireKept(t, s, "running", 2)
	requireKept(t, s, "blocked", 1)
	requireTasks(t, []history.Task{{RunID: "running", Step: 2, Name: "act", Attempt: 1}}, mustTasks(t, s))
	runs, err := s.ListRuns(t.Context(), history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 4)

	// Nothing left to purge; a purge far in the future still spares the
	// runs that have not ended.
	require.Zero(t, purge(t, s, history.PurgeFilter{Before: cutoff, Limit: 100}))
	require.Equal(t, 2, purge(t, s, history.PurgeFilter{Before: at(1000 * time.Hour), Limit: 100}))
	requireKept(t, s, "running", 2)
	requireKept(t, s, "blocked", 1)

	// A purged ID starts afresh, journal and all.
	commit(t, s, createBatch("old-completed", "wf", at(4*time.Hour)))
	requireKept(t, s, "old-completed", 1)
}

func testPurgeLimit(t *testing.T, s history.Store) {
	for i := range 7 {
		endedRun(t, s, fmt.Sprintf("r%d", i), "wf", history.StatusCompleted, at(time.Minute))
	}
	f := history.PurgeFilter{Before: at(time.Hour), Limit: 3}
	require.Equal(t, 3, purge(t, s, f))
	require.Equal(t, 3, purge(t, s, f))
	require.Equal(t, 1, purge(t, s, f))
	require.Zero(t, purge(t, s, f))
	runs, err := s.ListRuns(t.Context(), history.ListFilter{})
	require.NoError(t, err)
	require.Empty(t, runs)
}

func testPurgeWorkflow(t *testing.T, s history.Store) {
	endedRun(t, s, "a", "alpha", history.StatusCompleted, at(time.Minute))
	endedRun(t, s, "b", "beta", history.StatusCompleted, at(time.Minute))
	require.Equal(t, 1, purge(t, s, history.PurgeFilter{Before: at(time.Hour), Workflow: "beta", Limit: 10}))
	requireKept(t, s, "a", 2)
	requireGone(t, s, "b")
}

// testPurgeOwedRuns: an ended run the engine still owes work to stays.
func testPurgeOwedRuns(t *testing.T, s history.Store) {
	t1, cutoff := at(time.Minute), at(time.Hour)

	// A child that ended but whose parent has not recorded it yet: its
	// notify-parent task is pending. It goes once the task is done.
	p := createBatch("parent", "wf", t0)
	p.Events = append(p.Events, event(2, history.EventChildStarted, "child", 0, t0))
	c := createBatch("child", "wf", t0)
	c.Create.Parent, c.Create.ParentStep = "parent", 2
	commit(t, s, p, c)
	end := endBatch("child", 1, history.StatusCompleted, t1)
	end.AddTasks = []history.Task{{Step: 2, Kind: history.TaskNotifyParent, Attempt: 1}}
	commit(t, s, end)
	require.Zero(t, purge(t, s, history.PurgeFilter{Before: cutoff, Limit: 10}))
	requireKept(t, s, "child", 2)
	commit(t, s, &history.Batch{RunID: "child", Time: t1, DoneTasks: []int64{2}})
	require.Equal(t, 1, purge(t, s, history.PurgeFilter{Before: cutoff, Limit: 10}))
	requireGone(t, s, "child")
	requireKept(t, s, "parent", 2) // running

	// A parent that ended while its child (abandoned) runs on: kept until
	// the child ends, then both go.
	commit(t, s, createBatch("p2", "wf", t0))
	c2 := createBatch("c2", "wf", t0)
	c2.Create.Parent, c2.Create.ParentStep = "p2", 2
	commit(t, s, c2)
	commit(t, s, endBatch("p2", 1, history.StatusCompleted, t1))
	require.Zero(t, purge(t, s, history.PurgeFilter{Before: cutoff, Limit: 10}))
	requireKept(t, s, "p2", 2)
	commit(t, s, endBatch("c2", 1, history.StatusFailed, t1))
	require.Equal(t, 2, purge(t, s, history.PurgeFilter{Before: cutoff, Limit: 10}))
	requireGone(t, s, "p2")
	requireGone(t, s, "c2")
}

func testPurgeInvalidFilter(t *testing.T, s history.Store) {
	endedRun(t, s, "r", "wf", history.StatusCompleted, at(time.Minute))
	for _, f := range []history.PurgeFilter{
		{Limit: 10},                        // no cutoff
		{Before: at(time.Hour)},            // no limit
		{Before: at(time.Hour), Limit: -1}, // negative limit
	} {
		res, err := s.PurgeRuns(t.Context(), f)
		require.ErrorIs(t, err, history.ErrInvalidPurge, "filter %+v", f)
		require.False(t, errors.Is(err, history.ErrRunNotFound))
		require.Zero(t, res)
	}
	requireKept(t, s, "r", 2)
}

// testPurgeCursor: a call that deleted its limit says where the next goes
// on, past the runs it kept; the last call says it is over.
func testPurgeCursor(t *testing.T, s history.Store) {
	for _, id := range []string{"a", "c", "e"} {
		endedRun(t, s, id, "wf", history.StatusCompleted, at(time.Minute))
	}
	for _, id := range []string{"b", "d"} {
		endedRun(t, s, id, "wf", history.StatusCompleted, at(2*time.Hour))
	}
	f := history.PurgeFilter{Before: at(time.Hour), Limit: 2}
	res, err := s.PurgeRuns(t.Context(), f)
	require.NoError(t, err)
	require.Equal(t, history.PurgeResult{Deleted: 2, Next: "c"}, res)
	f.AfterID = res.Next
	res, err = s.PurgeRuns(t.Context(), f)
	require.NoError(t, err)
	require.Equal(t, history.PurgeResult{Deleted: 1}, res, "the last run, and the end")
	for _, id := range []string{"a", "c", "e"} {
		requireGone(t, s, id)
	}
	requireKept(t, s, "b", 2)
	requireKept(t, s, "d", 2)

	// AfterID skips what sorts before it.
	endedRun(t, s, "f", "wf", history.StatusCompleted, at(time.Minute))
	endedRun(t, s, "g", "wf", history.StatusCompleted, at(time.Minute))
	res, err = s.PurgeRuns(t.Context(), history.PurgeFilter{Before: at(time.Hour), AfterID: "f", Limit: 10})
	require.NoError(t, err)
	require.Equal(t, history.PurgeResult{Deleted: 1}, res)
	requireKept(t, s, "f", 2)
	requireGone(t, s, "g")
}
