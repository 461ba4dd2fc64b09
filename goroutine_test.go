package chorus_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// A goroutine started with the go statement that calls the workflow API is
// caught every time, whether the run is idle at that moment or one of its
// coroutines holds control: the goroutine is stopped at the call, the run
// is blocked with a *GoroutineError naming the workflow, and the process
// goes on.
func TestGoStatementCallingWorkflowAPIBlocksTheRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var scheduled atomic.Int32
	step := activity.New("goroutine-step", func(ctx context.Context, n int) (int, error) {
		scheduled.Add(1)
		return n, nil
	})
	first := activity.New("goroutine-first", func(ctx context.Context, n int) (int, error) { return n, nil })
	never := workflow.NewSignal[int]("never")
	gate := make(chan struct{})
	stopped := make(chan struct{}, 2)
	// While the run waits: nothing of the run is executing.
	idle := workflow.New("go-while-idle", func(ctx workflow.Context, _ int) (int, error) {
		go func() {
			defer func() { stopped <- struct{}{} }()
			<-gate
			workflow.ExecuteActivity(ctx, step, 1)
			t.Error("the goroutine's workflow call returned")
		}()
		v, _ := workflow.GetSignalChannel(ctx, never).Receive(ctx)
		return v, nil
	})
	// While the run's own code holds control and waits for the goroutine.
	busy := workflow.New("go-while-running", func(ctx workflow.Context, _ int) (int, error) {
		if _, err := workflow.ExecuteActivity(ctx, first, 0).Get(ctx); err != nil {
			return 0, err
		}
		called := make(chan struct{})
		go func() {
			defer close(called)
			workflow.ExecuteActivity(ctx, step, 2)
			t.Error("the goroutine's workflow call returned")
		}()
		<-called
		v, _ := workflow.GetSignalChannel(ctx, never).Receive(ctx)
		return v, nil
	})
	eng, _ := setup(t, nil, idle, busy, step, first)

	check := func(run *chorus.Run[int], wf string) {
		t.Helper()
		_, err := run.Result(ctx)
		var ge *chorus.GoroutineError
		require.ErrorAs(t, err, &ge)
		require.Equal(t, run.ID(), ge.RunID)
		require.Equal(t, wf, ge.Workflow)
		require.Equal(t, "workflow.ExecuteActivity", ge.Call)
		require.Contains(t, ge.Stack, "TestGoStatementCallingWorkflowAPIBlocksTheRun")
		require.Contains(t, err.Error(), "workflow.Go")
		info, err := eng.Describe(ctx, run.ID())
		require.NoError(t, err)
		require.Equal(t, chorus.StatusBlocked, info.Status)
		ge = nil
		require.ErrorAs(t, info.Err, &ge, "Describe rebuilds the GoroutineError from the journal")
		require.Equal(t, wf, ge.Workflow)
	}

	r1, err := chorus.Start(ctx, eng, idle, 0, nil)
	require.NoError(t, err)
	close(gate)
	recv(t, stopped, "the goroutine to be stopped")
	check(r1, "go-while-idle")

	r2, err := chorus.Start(ctx, eng, busy, 0, nil)
	require.NoError(t, err)
	check(r2, "go-while-running")
	require.Zero(t, scheduled.Load(), "no activity ran for a goroutine's call")
}
