package chorus_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/workflow"
)

// TestSignalWithStartOnEndedRunStartsANewRun sends SignalWithStart to the ID
// of a run that has ended: by default a new run takes the ID, gets the
// signal, and the ended run's events stay in the history before it.
func TestSignalWithStartOnEndedRunStartsANewRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	req := workflow.NewSignal[string]("req")
	wf := workflow.New("reuse-sws", func(ctx workflow.Context, n int) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, req).ReceiveAsync()
		return v, nil
	})
	eng, path := setup(t, nil, wf)
	run, err := chorus.SignalWithStart(ctx, eng, wf, 1, &chorus.StartOptions{ID: "sws"}, req, "first")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "first", got)

	run, err = chorus.SignalWithStart(ctx, eng, wf, 2, &chorus.StartOptions{ID: "sws"}, req, "second")
	require.NoError(t, err, "the ended run's ID is reused")
	got, err = run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "second", got)

	x, err := chorus.History(ctx, eng, "sws")
	require.NoError(t, err)
	var types []history.EventType
	for _, ev := range x.Events {
		types = append(types, ev.Type)
	}
	require.Equal(t, []history.EventType{
		history.EventRunStarted, history.EventSignalReceived, history.EventRunCompleted,
		history.EventRunStarted, history.EventSignalReceived, history.EventRunCompleted,
	}, types, "the first run's events stay readable")
	require.EqualValues(t, 4, x.Run.FirstSeq)
	require.EqualValues(t, 4, x.Events[4].Ref)
	require.NoError(t, hook.Core(eng).ReplayRun(ctx, "sws"))

	_, err = chorus.SignalWithStart(ctx, eng, wf, 3, &chorus.StartOptions{ID: "sws", IDReusePolicy: chorus.IDReuseRejectDuplicate}, req, "third")
	require.ErrorIs(t, err, chorus.ErrRunEnded, "the policy refuses: the signal cannot be delivered")

	closeEngine(t, eng)
	eng = openEngine(t, path, nil, wf)
	info, err := eng.Describe(ctx, "sws")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCompleted, info.Status)
	run, err = chorus.Lookup(ctx, eng, wf, "sws")
	require.NoError(t, err)
	got, err = run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "second", got)
}

// TestStartIDReusePolicy starts runs on the IDs of completed, failed and
// running runs under each policy.
func TestStartIDReusePolicy(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wait := workflow.NewSignal[struct{}]("wait")
	wf := workflow.New("reuse-start", func(ctx workflow.Context, n int) (int, error) {
		switch n {
		case -1:
			return 0, activity.NonRetryable(errors.New("failing on purpose"))
		case 0:
			workflow.GetSignalChannel(ctx, wait).Receive(ctx)
		}
		return n, nil
	})
	other := workflow.New("reuse-other", func(ctx workflow.Context, s string) (string, error) { return "other " + s, nil })
	eng, _ := setup(t, nil, wf, other)
	start := func(id string, n int, p chorus.IDReusePolicy) (*chorus.Run[int], error) {
		return chorus.Start(ctx, eng, wf, n, &chorus.StartOptions{ID: id, IDReusePolicy: p})
	}
	result := func(r *chorus.Run[int], err error) (int, error) {
		require.NoError(t, err)
		return r.Result(ctx)
	}

	// A completed run.
	got, err := result(start("done", 1, chorus.IDReuseDefault))
	require.NoError(t, err)
	require.Equal(t, 1, got)
	_, err = start("done", 2, chorus.IDReuseDefault)
	require.ErrorIs(t, err, chorus.ErrRunExists, "Start rejects a duplicate by default")
	_, err = start("done", 2, chorus.IDReuseRejectDuplicate)
	require.ErrorIs(t, err, chorus.ErrRunExists)
	_, err = start("done", 2, chorus.IDReuseAllowDuplicateFailedOnly)
	require.ErrorIs(t, err, chorus.ErrRunExists, "the run completed")
	got, err = result(start("done", 3, chorus.IDReuseAllowDuplicate))
	require.NoError(t, err)
	require.Equal(t, 3, got, "a new run took the ID")

	// A failed run.
	_, err = result(start("failed", -1, chorus.IDReuseDefault))
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	got, err = result(start("failed", 4, chorus.IDReuseAllowDuplicateFailedOnly))
	require.NoError(t, err)
	require.Equal(t, 4, got)

	// A running run.
	_, err = start("running", 0, chorus.IDReuseDefault)
	require.NoError(t, err)
	_, err = start("running", 5, chorus.IDReuseAllowDuplicate)
	require.ErrorIs(t, err, chorus.ErrRunExists, "a running run's ID is not reused")
	got, err = result(start("running", 6, chorus.IDReuseTerminateIfRunning))
	require.NoError(t, err)
	require.Equal(t, 6, got, "the running run was terminated and replaced")
	x, err := chorus.History(ctx, eng, "running")
	require.NoError(t, err)
	require.Equal(t, history.EventRunTerminated, x.Events[1].Type)
	require.Equal(t, history.EventRunStarted, x.Events[2].Type)

	// Another workflow may take the ID.
	orun, err := chorus.Start(ctx, eng, other, "x", &chorus.StartOptions{ID: "done", IDReusePolicy: chorus.IDReuseAllowDuplicate})
	require.NoError(t, err)
	s, err := orun.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "other x", s)
	info, err := eng.Describe(ctx, "done")
	require.NoError(t, err)
	require.Equal(t, "reuse-other", info.Workflow)
	require.NoError(t, hook.Core(eng).ReplayRun(ctx, "done"))

	_, err = start("bad", 1, chorus.IDReusePolicy(42))
	require.ErrorContains(t, err, "IDReusePolicy has unknown value 42")
}

// TestReuseIDOfEndedRunOfUnregisteredWorkflow reuses the ID of an ended run
// whose workflow this process does not register: its code is not needed.
func TestReuseIDOfEndedRunOfUnregisteredWorkflow(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	old := workflow.New("reuse-gone", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	req := workflow.NewSignal[int]("req")
	wf := workflow.New("reuse-new", func(ctx workflow.Context, n int) (int, error) {
		v, _ := workflow.GetSignalChannel(ctx, req).ReceiveAsync()
		return n + v, nil
	})
	eng, path := setup(t, nil, old)
	r, err := chorus.Start(ctx, eng, old, 1, &chorus.StartOptions{ID: "gone"})
	require.NoError(t, err)
	_, err = r.Result(ctx)
	require.NoError(t, err)
	closeEngine(t, eng)

	eng = openEngine(t, path, nil, wf)
	require.ErrorIs(t, chorus.Signal(ctx, eng, "gone", req, 1), chorus.ErrRunEnded)
	run, err := chorus.SignalWithStart(ctx, eng, wf, 10, &chorus.StartOptions{ID: "gone"}, req, 5)
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 15, got)
}
