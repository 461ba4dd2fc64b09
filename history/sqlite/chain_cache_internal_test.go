package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// TestChainHeadCache: the in-memory run heads stay what the file holds
// through a group commit that is rolled back and retried batch by batch, a
// run that ends and is reused, a purge, two batches of one run in one
// group, and a reopen that starts with an empty cache.
func TestChainHeadCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chorus.db")
	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer func() { _ = s.Close() }()

	ev := func(seq int64, typ history.EventType) history.Event {
		return history.Event{Seq: seq, Type: typ, Name: "x", Payload: []byte{byte(seq)}, Time: chainT0}
	}
	commit := func(bs ...*history.Batch) []error {
		t.Helper()
		errs, err := s.Commit(ctx, bs)
		require.NoError(t, err)
		return errs
	}
	ok := func() {
		t.Helper()
		rep := verify(t, s)
		require.True(t, rep.OK(), "%v", rep.Damage)
	}
	for _, id := range []string{"x", "y"} {
		errs := commit(&history.Batch{RunID: id, Time: chainT0, Create: &history.RunInfo{Workflow: "wf"},
			Events:   []history.Event{ev(1, history.EventRunStarted)},
			AddTasks: []history.Task{{Step: 1, Name: "act"}}})
		require.NoError(t, errs[0])
	}

	// x moves on in a group whose other batch fails after writing (a task
	// that exists): the group is rolled back and each batch retried alone.
	errs := commit(
		&history.Batch{RunID: "x", Time: chainT0, Events: []history.Event{ev(2, history.EventActivityScheduled), ev(3, history.EventActivityCompleted)}},
		&history.Batch{RunID: "y", Time: chainT0, Events: []history.Event{ev(2, history.EventActivityScheduled)},
			AddTasks: []history.Task{{Step: 1, Name: "act"}}},
	)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], history.ErrConflict)
	ok()

	// Two batches of x in one group; a stale batch of y (wrong seq) fails
	// alone and moves nothing.
	errs = commit(
		&history.Batch{RunID: "x", Time: chainT0, Events: []history.Event{ev(4, history.EventActivityScheduled)}},
		&history.Batch{RunID: "y", Time: chainT0, Events: []history.Event{ev(5, history.EventActivityScheduled)}},
		&history.Batch{RunID: "x", Time: chainT0, Events: []history.Event{ev(5, history.EventActivityCompleted)}},
	)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], history.ErrConflict)
	require.NoError(t, errs[2])
	ok()

	// x ends (its head leaves the cache), then a new run takes its ID.
	errs = commit(&history.Batch{RunID: "x", Time: chainT0, Events: []history.Event{ev(6, history.EventRunCompleted)},
		Status: &history.StatusUpdate{Status: history.StatusCompleted}, DropTasks: true})
	require.NoError(t, errs[0])
	errs = commit(&history.Batch{RunID: "x", Time: chainT0, Events: []history.Event{ev(7, history.EventRunStarted)},
		Reuse: &history.RunInfo{Workflow: "wf", FirstSeq: 7}, Status: &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: 7}})
	require.NoError(t, errs[0])
	errs = commit(&history.Batch{RunID: "x", Time: chainT0, Events: []history.Event{ev(8, history.EventActivityScheduled)}})
	require.NoError(t, errs[0])
	ok()

	// y ends and is purged; a new run under its ID starts a chain of its own.
	errs = commit(&history.Batch{RunID: "y", Time: chainT0, Events: []history.Event{ev(2, history.EventRunCompleted)},
		Status: &history.StatusUpdate{Status: history.StatusCompleted}, DropTasks: true})
	require.NoError(t, errs[0])
	res, err := s.PurgeRuns(ctx, history.PurgeFilter{Before: chainT0.Add(1), Limit: 10})
	require.NoError(t, err)
	require.Equal(t, 1, res.Deleted)
	errs = commit(&history.Batch{RunID: "y", Time: chainT0, Create: &history.RunInfo{Workflow: "wf"},
		Events: []history.Event{ev(1, history.EventRunStarted)}})
	require.NoError(t, errs[0])
	errs = commit(&history.Batch{RunID: "y", Time: chainT0, Events: []history.Event{ev(2, history.EventActivityScheduled)}})
	require.NoError(t, errs[0])
	ok()

	// A reopened store reads the heads back from the file.
	require.NoError(t, s.Close())
	s, err = Open(ctx, path, nil)
	require.NoError(t, err)
	errs = commit(
		&history.Batch{RunID: "x", Time: chainT0, Events: []history.Event{ev(9, history.EventActivityCompleted)}},
		&history.Batch{RunID: "y", Time: chainT0, Events: []history.Event{ev(3, history.EventActivityCompleted)}},
		&history.Batch{RunID: "z", Time: chainT0, Create: &history.RunInfo{Workflow: "wf"}, Events: []history.Event{ev(1, history.EventRunStarted)}},
	)
	for _, e := range errs {
		require.NoError(t, e)
	}
	rep := verify(t, s)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 3, rep.Runs)
	require.Equal(t, 1, rep.Purged)
}

// TestChainThroughPastHead: a file verifies through a head it had earlier;
// a file rewritten with recomputed chains (every hash consistent) does not
// pass through the head of the original, nor does a file with fewer runs.
func TestChainThroughPastHead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	open := func() *Store {
		s, err := Open(ctx, filepath.Join(t.TempDir(), "chorus.db"), nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s := open()
	chainRun(t, s, "a", 4)
	chainRun(t, s, "b", 3)
	past, err := s.ChainHead(ctx)
	require.NoError(t, err)
	chainRun(t, s, "c", 2)

	rep, err := s.VerifyChainsThrough(ctx, past)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Damage)

	forged := open()
	chainRun(t, forged, "a-forged", 4)
	chainRun(t, forged, "b", 3)
	chainRun(t, forged, "c", 2)
	rep = verify(t, forged)
	require.True(t, rep.OK(), "the forgery is consistent in itself: %v", rep.Damage)
	rep, err = forged.VerifyChainsThrough(ctx, past)
	require.NoError(t, err)
	require.Len(t, rep.Damage, 1)
	require.Equal(t, history.DamageHead, rep.Damage[0].Kind)

	short := open()
	chainRun(t, short, "a", 4)
	rep, err = short.VerifyChainsThrough(ctx, past)
	require.NoError(t, err)
	require.Len(t, rep.Damage, 1)
	require.Equal(t, history.DamageDeleted, rep.Damage[0].Kind)
}
