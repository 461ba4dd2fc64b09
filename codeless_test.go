package chorus_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/workflow"
)

// An engine that does not register a run's workflow (an operator's tool
// that opened the file) still journals a cancel, a signal or a terminate
// for it; the code sees them once the run is replayed by a process that
// registers the workflow.
func TestInputsForUnregisteredWorkflowAreJournaled(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	sig := workflow.NewSignal[string]("codeless-sig")
	wf := workflow.New("codeless-wf", func(ctx workflow.Context, n int) (string, error) {
		if n == 0 {
			return "", workflow.Sleep(ctx, 1<<40) // until canceled
		}
		ch := workflow.GetSignalChannel(ctx, sig)
		var got string
		for range n {
			v, _ := ch.Receive(ctx)
			got += v
		}
		return got, nil
	})
	eng, path := setup(t, nil, wf)
	for id, n := range map[string]int{"cl-signal": 1, "cl-cancel": 0, "cl-term": 0, "cl-two": 2} {
		_, err := chorus.Start(ctx, eng, wf, n, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	closeEngine(t, eng)

	// The operator's engine: nothing registered.
	op := openEngine(t, path, nil)
	octx := chorus.WithIdentity(ctx, "ops")
	require.NoError(t, chorus.Signal(octx, op, "cl-signal", sig, "hello"))
	require.NoError(t, op.Cancel(octx, "cl-cancel"))
	require.NoError(t, op.Cancel(octx, "cl-cancel"), "canceling twice is harmless")
	require.NoError(t, op.Terminate(octx, "cl-term", "bad order"))
	require.ErrorIs(t, op.Terminate(octx, "cl-term", "again"), chorus.ErrRunEnded)
	require.ErrorIs(t, chorus.Signal(octx, op, "cl-term", sig, "late"), chorus.ErrRunEnded)
	var g errgroup.Group
	for _, v := range []string{"a", "b"} {
		g.Go(func() error { return chorus.Signal(octx, op, "cl-two", sig, v) })
	}
	require.NoError(t, g.Wait())
	info, err := op.Describe(ctx, "cl-term")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusTerminated, info.Status)
	h, err := chorus.History(ctx, op, "cl-cancel")
	require.NoError(t, err)
	require.NoError(t, h.Validate())
	// Queued, not yet seen by the code: notes say so.
	require.Zero(t, countType(h.Events, history.EventCancelRequested), "%v", h.Events)
	require.Equal(t, 2, countType(h.Events, history.EventInputQueued), "%v", h.Events)
	for _, e := range h.Events {
		if e.Type == history.EventInputQueued {
			q, err := history.DecodeInputQueued(e.Payload)
			require.NoError(t, err)
			require.Equal(t, history.InputQueued{Action: history.ActionCancel, Identity: "ops"}, q)
		}
	}
	closeEngine(t, op)

	// The application again: the runs go on with what was journaled.
	app := openEngine(t, path, nil, wf)
	result := func(id string) (string, error) {
		run, err := chorus.Lookup(ctx, app, wf, id)
		require.NoError(t, err)
		return run.Result(ctx)
	}
	out, err := result("cl-signal")
	require.NoError(t, err)
	require.Equal(t, "hello", out)
	_, err = result("cl-cancel")
	require.ErrorIs(t, err, chorus.ErrCanceled)
	_, err = result("cl-term")
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Terminated)
	require.Equal(t, "bad order", we.Message)
	out, err = result("cl-two")
	require.NoError(t, err)
	require.ElementsMatch(t, []byte("ab"), []byte(out))
	for _, id := range []string{"cl-signal", "cl-cancel", "cl-term", "cl-two"} {
		eventsOf(t, ctx, app, id, wf) // valid and replays
	}
	canceled := eventsOf(t, ctx, app, "cl-cancel", wf)
	require.Equal(t, 1, countType(canceled, history.EventCancelRequested), "one cancellation: %v", canceled)
	require.Equal(t, history.OperatorAction{Action: history.ActionCancel, Identity: "ops"}, noteBefore(t, canceled, history.EventCancelRequested))
	signaled := eventsOf(t, ctx, app, "cl-signal", wf)
	require.Equal(t, history.OperatorAction{Action: history.ActionSignal, Identity: "ops", Signal: "codeless-sig"}, noteBefore(t, signaled, history.EventSignalReceived))
	ro, err := sqlite.OpenReadOnly(ctx, path, nil)
	require.NoError(t, err)
	defer ro.Close()
	tasks, err := ro.Tasks(ctx)
	require.NoError(t, err)
	require.Empty(t, tasks, "the wake tasks are done once the runs loaded with their code")
}

// Queries and updates need the code: they still say it is not registered.
func TestQueryOfUnregisteredWorkflowSaysSo(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("codeless-q", func(ctx workflow.Context, n int) (int, error) {
		return n, workflow.Sleep(ctx, 1<<40)
	})
	eng, path := setup(t, nil, wf)
	_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "cl-q"})
	require.NoError(t, err)
	closeEngine(t, eng)
	op := openEngine(t, path, nil)
	q := workflow.NewQuery[int, int]("codeless-q-query")
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err = chorus.Query(qctx, op, "cl-q", q, 1)
	require.ErrorIs(t, err, chorus.ErrNotRegistered)
}
