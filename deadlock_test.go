package chorus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/workflow"
)

// shortDeadlock keeps the deadlock tests quick; the detector's bound has
// nothing to do with the assertions.
const shortDeadlock = 200 * time.Millisecond

// stuckWorkflow runs one activity, then blocks on a Go channel that only
// the test closes: a mistake the engine cannot see through. reached is
// closed when it gets stuck, exited when the goroutine finally ends.
func stuckWorkflow(name string, stuck <-chan struct{}, reached, exited chan struct{}, step *activity.Definition[int, int]) *workflow.Definition[int, int] {
	return workflow.New(name, func(ctx workflow.Context, n int) (int, error) {
		defer close(exited)
		n, err := workflow.ExecuteActivity(ctx, step, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		close(reached)
		<-stuck
		return workflow.ExecuteActivity(ctx, step, n).Get(ctx)
	})
}

// Code blocked in plain Go blocks its run with a *DeadlockError that
// Result and Describe report, instead of hanging the engine; when the
// abandoned goroutine wakes up, it ends without touching the run.
func TestDeadlockBlocksTheRunAndReportsIt(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	stuck, reached, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	step := activity.New("deadlock-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	wf := stuckWorkflow("stuck-in-go", stuck, reached, exited, step)
	eng, _ := setup(t, &chorus.Options{DeadlockTimeout: shortDeadlock}, wf, step)

	run, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "stuck"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var be *chorus.BlockedError
	require.ErrorAs(t, err, &be)
	var de *chorus.DeadlockError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "stuck", de.RunID)
	require.Equal(t, "stuck-in-go", de.Workflow)
	require.Equal(t, shortDeadlock, de.Timeout)
	require.Contains(t, de.Stack, "stuckWorkflow", "the stack shows where the code is stuck")
	require.Contains(t, err.Error(), "did not yield")

	info, err := eng.Describe(ctx, "stuck")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusBlocked, info.Status)
	de = nil
	require.ErrorAs(t, info.Err, &de, "Describe rebuilds the DeadlockError from the journal")
	require.Equal(t, "stuck-in-go", de.Workflow)
	require.Contains(t, de.Stack, "stuckWorkflow")
	before := info.Events

	// The engine goes on serving other runs.
	other := workflow.New("not-stuck", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, step, n).Get(ctx)
	})
	require.NoError(t, eng.Register(other))
	r2, err := chorus.Start(ctx, eng, other, 41, nil)
	require.NoError(t, err)
	got, err := r2.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 42, got)

	close(stuck)
	recv(t, exited, "the abandoned goroutine to end at its next workflow call")
	info, err = eng.Describe(ctx, "stuck")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusBlocked, info.Status)
	require.Equal(t, before, info.Events, "the abandoned goroutine recorded nothing")
}

// A deadlock in the first execution of a new run fails Start with the
// error, and nothing is recorded, as for a panic.
func TestDeadlockOnFirstStepFailsStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	stuck, exited := make(chan struct{}), make(chan struct{})
	wf := workflow.New("stuck-at-once", func(ctx workflow.Context, _ int) (int, error) {
		defer close(exited)
		time.Sleep(2 * shortDeadlock) // blocked outside the workflow API
		<-stuck
		return 0, nil
	})
	eng, _ := setup(t, &chorus.Options{DeadlockTimeout: shortDeadlock}, wf)
	_, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "at-once"})
	var de *chorus.DeadlockError
	require.ErrorAs(t, err, &de)
	require.Contains(t, de.Stack, "time.Sleep")
	_, err = eng.Describe(ctx, "at-once")
	require.ErrorIs(t, err, chorus.ErrRunNotFound)
	close(stuck)
	recv(t, exited, "the abandoned goroutine to end")
}

// Terminate works on a run whose code is stuck in plain Go: the detector
// blocks it, and the termination applies and is recorded.
func TestTerminateStuckRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	stuck, reached, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	step := activity.New("terminate-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	wf := stuckWorkflow("stuck-then-terminated", stuck, reached, exited, step)
	eng, _ := setup(t, &chorus.Options{DeadlockTimeout: shortDeadlock}, wf, step)
	run, err := chorus.Start(ctx, eng, wf, 1, nil)
	require.NoError(t, err)
	recv(t, reached, "the run to get stuck")
	require.NoError(t, eng.Terminate(ctx, run.ID(), "stuck"))
	_, err = run.Result(ctx)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Terminated, "%v", err)
	info, err := eng.Describe(ctx, run.ID())
	require.NoError(t, err)
	require.Equal(t, chorus.StatusTerminated, info.Status)
	close(stuck)
	recv(t, exited, "the abandoned goroutine to end")
}

// Close with a short deadline returns even though an activity ignores its
// context and a workflow is stuck in plain Go with the detector off; the
// rest of the shutdown finishes in the background once they let go.
func TestCloseReturnsWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	release, running := make(chan struct{}), make(chan struct{}, 1)
	deaf := activity.New("deaf", func(ctx context.Context, _ int) (int, error) {
		running <- struct{}{}
		<-release // ignores ctx
		return 0, nil
	})
	stuck, reached, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	step := activity.New("close-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	wf := stuckWorkflow("stuck-at-close", stuck, reached, exited, step)
	deafWF := workflow.New("deaf-at-close", func(ctx workflow.Context, _ int) (int, error) {
		return workflow.ExecuteActivity(ctx, deaf, 0).Get(ctx)
	})
	eng, err := chorus.Open(ctx, t.TempDir()+"/close.db", &chorus.Options{DeadlockTimeout: -1})
	require.NoError(t, err)
	require.NoError(t, eng.Register(wf, step, deaf, deafWF))
	_, err = chorus.Start(ctx, eng, deafWF, 0, nil)
	require.NoError(t, err)
	recv(t, running, "the deaf activity to run")
	_, err = chorus.Start(ctx, eng, wf, 1, nil)
	require.NoError(t, err)
	recv(t, reached, "the workflow to get stuck")

	closeCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- eng.Close(closeCtx) }()
	err = recv(t, closed, "Close to return at its deadline")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, strings.Contains(err.Error(), "background"), "%v", err)

	// Let go of both; the background shutdown ends.
	close(release)
	close(stuck)
	recv(t, exited, "the stuck workflow to go on")
	select {
	case <-hook.Core(eng).Closed():
	case <-time.After(testTimeout):
		t.Fatal("the background shutdown did not finish")
	}
}
