package historytest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// The suite's fixtures and comparisons.

// t0 is in a zone other than UTC and has nanoseconds, so that a store must
// keep the instant exactly, whatever location it returns.
var t0 = time.Date(2024, time.March, 9, 10, 11, 12, 123456789, time.FixedZone("UTC+5:30", 5*3600+1800))

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// commit commits batches and requires every one of them to land.
func commit(t *testing.T, s history.Store, batches ...*history.Batch) {
	t.Helper()
	errs, err := s.Commit(t.Context(), batches)
	require.NoError(t, err)
	require.Len(t, errs, len(batches))
	for i, e := range errs {
		require.NoError(t, e, "batch %d (run %q)", i, batches[i].RunID)
	}
}

// commitErrs commits batches, requires no global error, and returns the
// per-batch errors.
func commitErrs(t *testing.T, s history.Store, batches ...*history.Batch) []error {
	t.Helper()
	errs, err := s.Commit(t.Context(), batches)
	require.NoError(t, err)
	require.Len(t, errs, len(batches))
	return errs
}

// createBatch creates run id of workflow wf with a RunStarted event.
func createBatch(id, wf string, tm time.Time) *history.Batch {
	return &history.Batch{
		RunID:  id,
		Time:   tm,
		Create: &history.RunInfo{ID: id, Workflow: wf, Status: history.StatusRunning},
		Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: wf, Payload: []byte(`"in"`), Time: tm}},
	}
}

// scheduled returns an ActivityScheduled event.
func scheduled(seq int64, name string, tm time.Time) history.Event {
	return history.Event{Seq: seq, Type: history.EventActivityScheduled, Name: name, Payload: []byte(fmt.Sprintf(`{"step":%d}`, seq)), Time: tm}
}

// completed returns an ActivityCompleted event answering step ref.
func completed(seq, ref int64, tm time.Time) history.Event {
	return history.Event{Seq: seq, Type: history.EventActivityCompleted, Ref: ref, Payload: []byte(fmt.Sprintf(`{"result":%d}`, ref)), Time: tm}
}

// appendBatch appends events to run id.
func appendBatch(id string, tm time.Time, events ...history.Event) *history.Batch {
	return &history.Batch{RunID: id, Time: tm, Events: events}
}

func requireBytes(t *testing.T, want, got []byte, what string) {
	t.Helper()
	require.True(t, bytes.Equal(want, got), "%s: want %q, got %q", what, want, got)
}

func requireTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	if want.IsZero() {
		require.True(t, got.IsZero(), "%s: want the zero time, got %v", what, got)
		return
	}
	require.True(t, want.Equal(got), "%s: want %v, got %v", what, want, got)
}

// requireRun compares a run row with the one expected; a zero FirstSeq in
// want stands for 1, the FirstSeq of a run that never continued as new.
func requireRun(t *testing.T, want, got history.RunInfo) {
	t.Helper()
	require.Equal(t, want.ID, got.ID, "ID")
	require.Equal(t, want.Workflow, got.Workflow, "run %s: Workflow", want.ID)
	require.Equal(t, want.Status, got.Status, "run %s: Status", want.ID)
	requireTime(t, want.CreatedAt, got.CreatedAt, "run "+want.ID+": CreatedAt")
	requireTime(t, want.UpdatedAt, got.UpdatedAt, "run "+want.ID+": UpdatedAt")
	require.Equal(t, want.LastSeq, got.LastSeq, "run %s: LastSeq", want.ID)
	wantFirst := want.FirstSeq
	if wantFirst == 0 {
		wantFirst = 1
	}
	require.Equal(t, wantFirst, got.FirstSeq, "run %s: FirstSeq", want.ID)
	require.Equal(t, want.Parent, got.Parent, "run %s: Parent", want.ID)
	require.Equal(t, want.ParentStep, got.ParentStep, "run %s: ParentStep", want.ID)
	requireBytes(t, want.Result, got.Result, "run "+want.ID+": Result")
	requireBytes(t, want.Failure, got.Failure, "run "+want.ID+": Failure")
}

func requireEvents(t *testing.T, want, got []history.Event) {
	t.Helper()
	require.Len(t, got, len(want), "events: got %v", got)
	for i := range want {
		w, g := want[i], got[i]
		what := fmt.Sprintf("event %d", w.Seq)
		require.Equal(t, w.Seq, g.Seq, "%s: Seq", what)
		require.Equal(t, w.Type, g.Type, "%s: Type", what)
		require.Equal(t, w.Name, g.Name, "%s: Name", what)
		require.Equal(t, w.Ref, g.Ref, "%s: Ref", what)
		requireBytes(t, w.Payload, g.Payload, what+": Payload")
		requireTime(t, w.Time, g.Time, what+": Time")
	}
}

// requireTasks compares tasks with the ones expected; a zero Kind in want
// stands for history.TaskActivity, and a zero ScheduledAt or empty Workflow
// for any.
func requireTasks(t *testing.T, want, got []history.Task) {
	t.Helper()
	require.Len(t, got, len(want), "tasks: got %v", got)
	for i := range want {
		w, g := want[i], got[i]
		what := fmt.Sprintf("task %d (%s/%d)", i, w.RunID, w.Step)
		require.Equal(t, w.RunID, g.RunID, "%s: RunID", what)
		require.Equal(t, w.Step, g.Step, "%s: Step", what)
		wantKind := w.Kind
		if wantKind == 0 {
			wantKind = history.TaskActivity
		}
		require.Equal(t, wantKind, g.Kind, "%s: Kind", what)
		require.Equal(t, w.Name, g.Name, "%s: Name", what)
		requireBytes(t, w.Input, g.Input, what+": Input")
		requireBytes(t, w.Options, g.Options, what+": Options")
		require.Equal(t, w.Attempt, g.Attempt, "%s: Attempt", what)
		requireTime(t, w.NotBefore, g.NotBefore, what+": NotBefore")
		requireTime(t, w.Pending, g.Pending, what+": Pending")
		requireBytes(t, w.Heartbeat, g.Heartbeat, what+": Heartbeat")
		require.Equal(t, w.Canceled, g.Canceled, "%s: Canceled", what)
		requireBytes(t, w.LastFailure, g.LastFailure, what+": LastFailure")
		requireTime(t, w.FirstFailureAt, g.FirstFailureAt, what+": FirstFailureAt")
		require.NotEmpty(t, g.Workflow, "%s: Workflow is filled in from the task's run", what)
		if !w.ScheduledAt.IsZero() {
			requireTime(t, w.ScheduledAt, g.ScheduledAt, what+": ScheduledAt")
		}
		if w.Workflow != "" {
			require.Equal(t, w.Workflow, g.Workflow, "%s: Workflow", what)
		}
	}
}

// requireState checks a run's row and whole journal.
func requireState(t *testing.T, s history.Store, want history.RunInfo, events []history.Event) {
	t.Helper()
	got, err := s.Run(t.Context(), want.ID)
	require.NoError(t, err)
	requireRun(t, want, got)
	evs, err := s.Events(t.Context(), want.ID, 0)
	require.NoError(t, err)
	requireEvents(t, events, evs)
}

func mustTasks(t *testing.T, s history.Store) []history.Task {
	t.Helper()
	ts, err := s.Tasks(t.Context())
	require.NoError(t, err)
	return ts
}
