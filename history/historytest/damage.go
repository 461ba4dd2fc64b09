package historytest

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// Damager changes what a store holds behind the store's back, as a failing
// disk, a bad copy or a person editing the file would. A store that detects
// such damage implements one to run [RunDamage].
type Damager interface {
	// DamageEvent changes one byte of the payload of event seq of run
	// runID in place, and nothing else.
	DamageEvent(t *testing.T, runID string, seq int64)
	// DamageRun changes one byte of the result of run runID's index row in
	// place, and nothing else.
	DamageRun(t *testing.T, runID string)
	// DamageTask changes one byte of the input of the pending task step of
	// run runID in place, and nothing else.
	DamageTask(t *testing.T, runID string, step int64)
}

// RunDamage checks that damage stays local to the run it hits, beyond what
// [Run] checks:
//
//   - Events of a run with a damaged event fails with an error wrapping
//     [history.ErrCorrupt] whose message holds the run's ID and the event's
//     Seq; it never returns the altered payload. Other runs read as usual.
//   - Run of a run whose row is damaged fails the same way; ListRuns lists
//     it in its place with RunInfo.Damaged wrapping [history.ErrCorrupt],
//     and lists every other run as usual, with or without a filter, in
//     pages too.
//   - Tasks lists a task whose row is damaged in its place with
//     Task.Damaged wrapping [history.ErrCorrupt], whose message holds the
//     run's ID and the task's Step, and lists every other task as usual.
//     Deleting the damaged task (DoneTasks or DropTasks) removes it.
//   - Commit, Tasks and reads of the healthy runs go on working.
//
// open returns a fresh, empty store and a Damager for it. Each subtest
// calls open once and runs in parallel with the others.
func RunDamage(t *testing.T, open func(t *testing.T) (history.Store, Damager)) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s history.Store, d Damager)
	}{
		{"Event", testDamagedEvent},
		{"Run", testDamagedRun},
		{"Task", testDamagedTask},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, d := open(t)
			require.NotNil(t, s, "open returned a nil store")
			require.NotNil(t, d, "open returned a nil Damager")
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			tc.fn(t, s, d)
		})
	}
}

// damageRuns creates runs "a", "b" and "c", each with an activity
// scheduled and completed; "b" is completed with a result.
func damageRuns(t *testing.T, s history.Store) {
	for _, id := range []string{"a", "b", "c"} {
		b := createBatch(id, "wf", t0)
		b.Events = append(b.Events, scheduled(2, "act", t0), completed(3, 2, at(time.Second)))
		b.AddTasks = []history.Task{{Step: 2, Name: "act", Input: []byte(`{"step":2}`), Attempt: 1}}
		if id == "b" {
			b.Status = &history.StatusUpdate{Status: history.StatusCompleted, Result: []byte(`{"total":1999}`)}
			b.AddTasks = nil
		}
		commit(t, s, b)
	}
}

func testDamagedEvent(t *testing.T, s history.Store, d Damager) {
	ctx := t.Context()
	damageRuns(t, s)
	d.DamageEvent(t, "c", 2)

	_, err := s.Events(ctx, "c", 0)
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `"c"`, "the error names the run")
	require.ErrorContains(t, err, "2", "the error names the event")
	for _, id := range []string{"a", "b"} {
		evs, err := s.Events(ctx, id, 0)
		require.NoError(t, err, id)
		require.Len(t, evs, 3, id)
	}
	runs, err := s.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 3)
	for _, r := range runs {
		require.NoError(t, r.Damaged, r.ID)
	}
	_, err = s.Run(ctx, "c")
	require.NoError(t, err, "the run's index row is intact")
	tasks, err := s.Tasks(ctx)
	require.NoError(t, err)
	require.Len(t, tasks, 2)

	// The healthy runs go on.
	commit(t, s, appendBatch("a", at(2*time.Second), scheduled(4, "act", at(2*time.Second))))
	evs, err := s.Events(ctx, "a", 3)
	require.NoError(t, err)
	require.Len(t, evs, 1)
}

func testDamagedRun(t *testing.T, s history.Store, d Damager) {
	ctx := t.Context()
	damageRuns(t, s)
	d.DamageRun(t, "b")

	_, err := s.Run(ctx, "b")
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `"b"`, "the error names the run")
	for _, id := range []string{"a", "c"} {
		_, err := s.Run(ctx, id)
		require.NoError(t, err, id)
	}

	list := func(f history.ListFilter) []string {
		t.Helper()
		runs, err := s.ListRuns(ctx, f)
		require.NoError(t, err, "one damaged row does not fail the list")
		var out []string
		for _, r := range runs {
			mark := ""
			if r.Damaged != nil {
				require.ErrorIs(t, r.Damaged, history.ErrCorrupt, r.ID)
				require.ErrorContains(t, r.Damaged, strconv.Quote(r.ID))
				mark = "!"
			}
			out = append(out, r.ID+mark)
		}
		return out
	}
	require.Equal(t, []string{"a", "b!", "c"}, list(history.ListFilter{}))
	require.Equal(t, []string{"a", "c"}, list(history.ListFilter{Status: history.StatusRunning}))
	require.Equal(t, []string{"a", "b!"}, list(history.ListFilter{Limit: 2}))
	require.Equal(t, []string{"c"}, list(history.ListFilter{AfterID: "b", Limit: 2}))
	require.Equal(t, []string{"a", "b!", "c"}, list(history.ListFilter{Workflow: "wf"}))

	// The run's journal is intact, and the other runs go on.
	evs, err := s.Events(ctx, "b", 0)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	commit(t, s, &history.Batch{RunID: "c", Time: at(time.Minute),
		Status: &history.StatusUpdate{Status: history.StatusFailed, Failure: []byte(fmt.Sprintf(`{"message":%q}`, "no"))}})
	c, err := s.Run(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, history.StatusFailed, c.Status)
}

func testDamagedTask(t *testing.T, s history.Store, d Damager) {
	ctx := t.Context()
	damageRuns(t, s)
	commit(t, s, &history.Batch{RunID: "c", Time: at(time.Minute),
		AddTasks: []history.Task{{Step: 4, Kind: history.TaskTimer, NotBefore: at(time.Hour)}}})
	d.DamageTask(t, "c", 2)

	tasks := func() []string {
		t.Helper()
		ts, err := s.Tasks(ctx)
		require.NoError(t, err, "one damaged row does not fail Tasks")
		var out []string
		for _, k := range ts {
			mark := ""
			if k.Damaged != nil {
				require.ErrorIs(t, k.Damaged, history.ErrCorrupt, k.RunID)
				require.ErrorContains(t, k.Damaged, strconv.Quote(k.RunID), "the error names the run")
				require.ErrorContains(t, k.Damaged, strconv.FormatInt(k.Step, 10), "the error names the step")
				mark = "!"
			}
			out = append(out, fmt.Sprintf("%s/%d%s", k.RunID, k.Step, mark))
		}
		return out
	}
	require.Equal(t, []string{"a/2", "c/2!", "c/4"}, tasks())

	// The runs' rows and journals are intact.
	runs, err := s.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 3)
	for _, r := range runs {
		require.NoError(t, r.Damaged, r.ID)
		evs, err := s.Events(ctx, r.ID, 0)
		require.NoError(t, err, r.ID)
		require.Len(t, evs, 3, r.ID)
	}

	// The healthy tasks go on: a retry rewrites one and it reads back
	// healthy; deleting the damaged one removes it.
	commit(t, s, &history.Batch{RunID: "a", Time: at(2 * time.Minute),
		UpdateTasks: []history.Task{{Step: 2, Attempt: 2, NotBefore: at(3 * time.Minute)}}})
	commit(t, s, &history.Batch{RunID: "c", Time: at(2 * time.Minute), DoneTasks: []int64{2}})
	require.Equal(t, []string{"a/2", "c/4"}, tasks())
	ts, err := s.Tasks(ctx)
	require.NoError(t, err)
	requireBytes(t, []byte(`{"step":2}`), ts[0].Input, "input of the healthy task")
	require.Equal(t, 2, ts[0].Attempt)
	require.True(t, ts[0].NotBefore.Equal(at(3*time.Minute)))
}
