package sqlite

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// TestTaskState checks that a task's pending mark, heartbeat details and
// cancellation mark are written by AddTasks and UpdateTasks, read back after a reopen, cleared
// by an update without them, and that a change behind the store's back is
// reported as damage of that task alone.
func TestTaskState(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	t0 := time.Date(2026, time.March, 4, 5, 6, 7, 8, time.UTC)
	commit := func(b *history.Batch) {
		t.Helper()
		errs, err := s.Commit(ctx, []*history.Batch{b})
		require.NoError(t, err)
		require.NoError(t, errors.Join(errs...))
	}
	commit(&history.Batch{RunID: "r", Time: t0, Create: &history.RunInfo{Workflow: "wf"},
		Events: []history.Event{
			{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: t0},
			{Seq: 2, Type: history.EventActivityScheduled, Name: "a", Time: t0},
			{Seq: 3, Type: history.EventActivityScheduled, Name: "b", Time: t0},
		},
		AddTasks: []history.Task{
			{Step: 2, Name: "a", Attempt: 1},
			{Step: 3, Name: "b", Attempt: 1, Heartbeat: []byte(`{"done":1}`)},
		}})
	commit(&history.Batch{RunID: "r", Time: t0, UpdateTasks: []history.Task{{Step: 2, Attempt: 1, Pending: t0, Heartbeat: []byte(`7`)}}})

	read := func() []history.Task {
		t.Helper()
		ts, err := s.Tasks(ctx)
		require.NoError(t, err)
		require.Len(t, ts, 2)
		return ts
	}
	ts := read()
	require.True(t, ts[0].Pending.Equal(t0), ts[0].Pending)
	require.Equal(t, `7`, string(ts[0].Heartbeat))
	require.True(t, ts[1].Pending.IsZero())
	require.Equal(t, `{"done":1}`, string(ts[1].Heartbeat))

	require.NoError(t, s.Close())
	s, err = Open(ctx, path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	ts = read()
	require.True(t, ts[0].Pending.Equal(t0), "the pending mark survives a reopen")
	require.Equal(t, `7`, string(ts[0].Heartbeat))

	// A retry clears the mark and keeps the details it is given.
	commit(&history.Batch{RunID: "r", Time: t0, UpdateTasks: []history.Task{{Step: 2, Attempt: 2, Heartbeat: []byte(`8`)}}})
	ts = read()
	require.True(t, ts[0].Pending.IsZero())
	require.Equal(t, 2, ts[0].Attempt)
	require.Equal(t, `8`, string(ts[0].Heartbeat))

	// The cancellation mark is written and read back, and cleared.
	commit(&history.Batch{RunID: "r", Time: t0, UpdateTasks: []history.Task{{Step: 3, Attempt: 1, Canceled: true}}})
	ts = read()
	require.True(t, ts[1].Canceled)
	require.False(t, ts[0].Canceled)
	require.Nil(t, ts[1].Heartbeat)
	commit(&history.Batch{RunID: "r", Time: t0, UpdateTasks: []history.Task{{Step: 3, Attempt: 1}}})
	require.False(t, read()[1].Canceled)

	// Out-of-range times are refused.
	errs, err := s.Commit(ctx, []*history.Batch{{RunID: "r", Time: t0, UpdateTasks: []history.Task{{Step: 2, Attempt: 2, Pending: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}}})
	require.NoError(t, err)
	require.ErrorContains(t, errs[0], "Pending")

	// Damage to the details is found; the other task reads as usual.
	_, err = s.w.ExecContext(ctx, `UPDATE tasks SET heartbeat = X'39' WHERE run_id = 'r' AND step = 2`)
	require.NoError(t, err)
	ts = read()
	require.ErrorIs(t, ts[0].Damaged, history.ErrCorrupt)
	require.ErrorContains(t, ts[0].Damaged, "heartbeat")
	require.NoError(t, ts[1].Damaged)
}

// TestTaskStateCanceledDamage: a canceled column changed behind the
// store's back is damage.
func TestTaskStateCanceledDamage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	t0 := time.Date(2026, time.March, 4, 5, 6, 7, 8, time.UTC)
	errs, err := s.Commit(ctx, []*history.Batch{{RunID: "r", Time: t0, Create: &history.RunInfo{Workflow: "wf"},
		Events:   []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: t0}, {Seq: 2, Type: history.EventActivityScheduled, Name: "a", Time: t0}},
		AddTasks: []history.Task{{Step: 2, Name: "a", Attempt: 1}}}})
	require.NoError(t, err)
	require.NoError(t, errors.Join(errs...))
	for _, v := range []string{"1", "2"} {
		_, err = s.w.ExecContext(ctx, `UPDATE tasks SET canceled = `+v+` WHERE run_id = 'r'`)
		require.NoError(t, err)
		ts, err := s.Tasks(ctx)
		require.NoError(t, err)
		require.Len(t, ts, 1)
		require.ErrorIs(t, ts[0].Damaged, history.ErrCorrupt, "canceled = %s", v)
	}
}
