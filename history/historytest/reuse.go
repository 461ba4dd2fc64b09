package historytest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// RunReuse checks Batch.Reuse on the stores open returns: a new run takes
// the ID of a run only when it has ended, before the batch or by the
// event of the batch right before the new RunStarted (a run terminated to
// be replaced); the ended run's events stay in the journal.
func RunReuse(t *testing.T, open func(t *testing.T) history.Store) {
	t.Helper()
	t.Run("ReuseAnEndedID", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		require.NotNil(t, s, "open returned a nil store")
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		testReuse(t, s)
	})
}

func testReuse(t *testing.T, s history.Store) {
	ctx := t.Context()
	t1 := t0.Add(time.Hour)
	// A run with two events: RunStarted and an ActivityScheduled with its
	// task.
	first := createBatch("r", "wf", t0)
	first.Events = append(first.Events, scheduled(2, "act", t0))
	first.AddTasks = []history.Task{{Step: 2, Name: "act", Attempt: 1}}
	commit(t, s, first)
	reuse := func(seq int64, events ...history.Event) *history.Batch {
		return &history.Batch{RunID: "r", Time: t1, Events: events,
			Reuse:  &history.RunInfo{Workflow: "wf2", FirstSeq: seq},
			Status: &history.StatusUpdate{Status: history.StatusRunning}}
	}
	started := func(seq int64) history.Event {
		return history.Event{Seq: seq, Type: history.EventRunStarted, Name: "wf2", Time: t1}
	}

	errs, err := s.Commit(ctx, []*history.Batch{reuse(3, started(3))})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], history.ErrRunExists, "the run has not ended")
	info, err := s.Run(ctx, "r")
	require.NoError(t, err)
	require.EqualValues(t, 2, info.LastSeq, "nothing changed")

	// Ended by the batch itself, as a run terminated to be replaced.
	commit(t, s, reuse(4, history.Event{Seq: 3, Type: history.EventRunTerminated, Time: t1}, started(4)))
	info, err = s.Run(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, "wf2", info.Workflow)
	require.Equal(t, history.StatusRunning, info.Status)
	require.EqualValues(t, 4, info.FirstSeq)
	require.EqualValues(t, 4, info.LastSeq)
	require.True(t, info.CreatedAt.Equal(t1), "the new run's creation time")
	events, err := s.Events(ctx, "r", 0)
	require.NoError(t, err)
	require.Len(t, events, 4, "the ended run's events stay")

	// Ended before the batch.
	commit(t, s, &history.Batch{RunID: "r", Time: t1, Events: []history.Event{{Seq: 5, Type: history.EventRunCompleted, Time: t1}},
		Status: &history.StatusUpdate{Status: history.StatusCompleted, Result: []byte("1")}})
	commit(t, s, reuse(6, started(6)))
	info, err = s.Run(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, history.StatusRunning, info.Status)
	require.Empty(t, info.Result, "the ended run's result is not the new run's")
	require.EqualValues(t, 6, info.FirstSeq)

	// A generation that continues as new is not a run that ended.
	errs, err = s.Commit(ctx, []*history.Batch{reuse(8,
		history.Event{Seq: 7, Type: history.EventRunContinuedAsNew, Time: t1}, started(8))})
	require.NoError(t, err)
	require.ErrorContains(t, errs[0], "does not end a run")
	b := reuse(7, started(7))
	b.Status = nil
	errs, err = s.Commit(ctx, []*history.Batch{b})
	require.NoError(t, err)
	require.ErrorContains(t, errs[0], "Reuse without a Status")
}
