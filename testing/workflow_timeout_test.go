package chorustest_test

import (
	"context"
	"errors"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

var neverSignal = workflow.NewSignal[string]("never")

// waitForever waits for a signal that never comes.
var waitForever = workflow.New("tmo-wait-forever", func(ctx workflow.Context, _ int) (string, error) {
	v, _ := workflow.GetSignalChannel(ctx, neverSignal).Receive(ctx)
	return v, nil
})

// TestThirtyDayExecutionTimeout: a run that waits for a signal that never
// comes, with an execution timeout of 30 days, times out after exactly 30
// days of fake time.
func TestThirtyDayExecutionTimeout(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{waitForever}})
	const month = 30 * 24 * time.Hour
	run := chorustest.Start(env, waitForever, 0, &chorus.StartOptions{ID: "month", ExecutionTimeout: month})
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorus.ErrWorkflowTimeout)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.TimedOut)
	require.Equal(t, month, env.Elapsed(), "the clock jumped to the deadline and no further")
	require.Equal(t, chorus.StatusTimedOut, env.Describe("month").Status)
}

// generations counts its generations: it sleeps 40 minutes, then
// continues as new, forever.
var generations = workflow.New("tmo-generations", func(ctx workflow.Context, n int) (int, error) {
	if err := workflow.Sleep(ctx, 40*time.Minute); err != nil {
		return n, err
	}
	return 0, workflow.ContinueAsNewWith(ctx, n+1)
})

// TestRunTimeoutStartsOverWithContinueAsNew: generations of 40 minutes with
// a run timeout of an hour never pass the run timeout, since each
// generation starts it over; the execution timeout of 3 hours holds across
// them and ends the run.
func TestRunTimeoutStartsOverWithContinueAsNew(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{generations}})
	run := chorustest.Start(env, generations, 0, &chorus.StartOptions{ID: "gens", RunTimeout: time.Hour, ExecutionTimeout: 3 * time.Hour})
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorus.ErrWorkflowTimeout)
	require.ErrorContains(t, err, "execution timeout")
	require.Equal(t, 3*time.Hour, env.Elapsed())
	started := 0
	for _, ev := range env.History("gens") {
		if ev.Type == history.EventRunStarted {
			started++
		}
	}
	require.Equal(t, 5, started, "generations started at 0, 40, 80, 120 and 160 minutes")

	// The run timeout alone ends a generation that outlives it.
	run = chorustest.Start(env, generations, 0, &chorus.StartOptions{ID: "short", RunTimeout: 30 * time.Minute})
	at := env.Elapsed()
	_, err = chorustest.Result(env, run)
	require.ErrorIs(t, err, chorus.ErrWorkflowTimeout)
	require.ErrorContains(t, err, "run timeout")
	require.Equal(t, 30*time.Minute, env.Elapsed()-at)
}

// timedChild sleeps a day.
var timedChild = workflow.New("tmo-child", func(ctx workflow.Context, _ int) (string, error) {
	if err := workflow.Sleep(ctx, 24*time.Hour); err != nil {
		return "", err
	}
	return "slept", nil
})

// timedParent starts timedChild with a run timeout of an hour and reports
// how the child ended.
var timedParent = workflow.New("tmo-parent", func(ctx workflow.Context, runTimeout time.Duration) (string, error) {
	_, err := workflow.ExecuteChildWorkflow(ctx, timedChild, 0, &workflow.ChildOptions{ID: "kid", RunTimeout: runTimeout}).Get(ctx)
	var ce *workflow.ChildWorkflowError
	switch {
	case err == nil:
		return "completed", nil
	case errors.Is(err, workflow.ErrWorkflowTimeout) && errors.As(err, &ce):
		var ae *activity.Error
		errors.As(err, &ae)
		return "child timed out: " + ae.Type, nil
	}
	return "", err
})

// TestChildTimeoutReachesTheParent: a child with a run timeout that passes
// it ends as timed out, and its parent sees a ChildWorkflowError that
// matches workflow.ErrWorkflowTimeout.
func TestChildTimeoutReachesTheParent(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{timedParent, timedChild}})
	run := chorustest.Start(env, timedParent, time.Hour, &chorus.StartOptions{ID: "parent"})
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "child timed out: WorkflowTimeout", got)
	require.Equal(t, time.Hour, env.Elapsed())
	require.Equal(t, chorus.StatusTimedOut, env.Describe("kid").Status)
}

// TestNegativeChildTimeoutFailsTheFuture: a negative child timeout fails
// the child's future at once with an error naming the field; no child is
// started.
func TestNegativeChildTimeoutFailsTheFuture(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{timedParent, timedChild}})
	run := chorustest.Start(env, timedParent, -time.Second, &chorus.StartOptions{ID: "parent"})
	_, err := chorustest.Result(env, run)
	require.ErrorContains(t, err, "ChildOptions.RunTimeout is negative")
	_, err = env.Engine().Describe(context.Background(), "kid")
	require.ErrorIs(t, err, chorus.ErrRunNotFound)
}

// stuckStarted receives once stuck's attempt runs; stuckStopped once it
// sees its context end.
var stuckStarted, stuckStopped = make(chan struct{}, 1), make(chan struct{}, 1)

// stuck is an activity that waits until its context ends.
var stuck = activity.New("tmo-stuck", func(ctx context.Context, _ int) (int, error) {
	stuckStarted <- struct{}{}
	<-ctx.Done()
	stuckStopped <- struct{}{}
	return 0, ctx.Err()
})

// busyParent starts a child that waits forever, then calls an activity
// that never returns by itself.
var busyParent = workflow.New("tmo-busy-parent", func(ctx workflow.Context, _ int) (int, error) {
	workflow.ExecuteChildWorkflow(ctx, waitForever, 0, &workflow.ChildOptions{ID: "busy-kid"})
	return workflow.ExecuteActivity(ctx, stuck, 0).Get(ctx)
})

// TestTimeoutDropsWorkAndClosesChildren: a run that times out while an
// activity attempt runs and a child waits has the attempt stopped and the
// child terminated (the default parent-close policy), as a termination
// does.
func TestTimeoutDropsWorkAndClosesChildren(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{busyParent, waitForever, stuck}})
	run := chorustest.Start(env, busyParent, 0, &chorus.StartOptions{ID: "busy", ExecutionTimeout: time.Hour})
	// The activity attempt counts as work in flight, so the env does not
	// move the clock by itself: once the attempt runs, move it to the
	// deadline. (The deadline's timer was armed before Start returned.)
	select {
	case <-stuckStarted:
	case <-time.After(10 * time.Second): // a failure guard, not a timing
		t.Fatal("the activity attempt never started")
	}
	env.Clock().Add(time.Hour)
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorus.ErrWorkflowTimeout)
	select {
	case <-stuckStopped:
	case <-time.After(10 * time.Second): // a failure guard, not a timing
		t.Fatal("the activity attempt was not stopped when its run timed out")
	}
	require.NoError(t, env.Await(func() bool { return env.Describe("busy-kid").Status == chorus.StatusTerminated }))
	require.ErrorContains(t, env.Describe("busy-kid").Err, `parent run "busy" ended`)
}
