package chorus_test

import (
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/workflow"
)

// sleepy waits a day on a timer, then completes.
var sleepy = workflow.New("timeout-sleepy", func(ctx workflow.Context, _ int) (string, error) {
	if err := workflow.Sleep(ctx, 24*time.Hour); err != nil {
		return "", err
	}
	return "woke", nil
})

// requireTimedOut checks that err is how Result reports a run that passed
// its timeout of the kind which ("execution" or "run").
func requireTimedOut(t *testing.T, err error, which string) {
	t.Helper()
	require.ErrorIs(t, err, chorus.ErrWorkflowTimeout)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.TimedOut, "WorkflowError.TimedOut")
	require.False(t, we.Terminated)
	require.Equal(t, chorus.FailureTypeWorkflowTimeout, we.Type)
	require.Contains(t, we.Message, which+" timeout")
}

// TestExecutionTimeoutEndsTheRun starts a run that sleeps a day with an
// execution timeout of an hour: when the hour passes on the engine's clock,
// the run ends as timed out, its timer task is dropped, and its history
// ends with a RunTerminated whose failure says why.
func TestExecutionTimeoutEndsTheRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	eng, _ := setup(t, &chorus.Options{Clock: mock}, sleepy)
	run, err := chorus.Start(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "tmo", ExecutionTimeout: time.Hour})
	require.NoError(t, err)
	mock.Add(time.Hour - time.Nanosecond)
	info, err := eng.Describe(ctx, "tmo")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status, "not timed out before the deadline")

	mock.Add(time.Nanosecond)
	_, err = run.Result(ctx)
	requireTimedOut(t, err, "execution")
	info, err = eng.Describe(ctx, "tmo")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusTimedOut, info.Status)
	require.Equal(t, "timed-out", info.Status.String())
	require.ErrorIs(t, info.Err, chorus.ErrWorkflowTimeout)

	x, err := chorus.History(ctx, eng, "tmo")
	require.NoError(t, err)
	last := x.Events[len(x.Events)-1]
	require.Equal(t, history.EventRunTerminated, last.Type)
	require.NoError(t, x.Validate(), "the export format takes a timed-out run")
	tasks, err := hook.Core(eng).Store().Tasks(ctx)
	require.NoError(t, err)
	require.Empty(t, tasks, "the sleeping timer's task and the timeout's are gone")
	require.NoError(t, hook.Core(eng).ReplayRun(ctx, "tmo"))

	// A timed-out run counts as failed for ID reuse.
	_, err = chorus.Start(ctx, eng, sleepy, 1, &chorus.StartOptions{ID: "tmo", IDReusePolicy: chorus.IDReuseAllowDuplicateFailedOnly})
	require.NoError(t, err)
	info, err = eng.Describe(ctx, "tmo")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status)
}

// TestRunTimeoutEndsTheRun is TestExecutionTimeoutEndsTheRun for the run
// timeout, and checks a run that ends in time leaves no timeout behind.
func TestRunTimeoutEndsTheRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	eng, _ := setup(t, &chorus.Options{Clock: mock}, sleepy)
	run, err := chorus.Start(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "rt", RunTimeout: 2 * time.Hour, ExecutionTimeout: 3 * time.Hour})
	require.NoError(t, err)
	mock.Add(2 * time.Hour)
	_, err = run.Result(ctx)
	requireTimedOut(t, err, "run")

	// In time: the timeout's task goes with the run's end.
	fine, err := chorus.Start(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "fine", ExecutionTimeout: 48 * time.Hour})
	require.NoError(t, err)
	mock.Add(24 * time.Hour)
	got, err := fine.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "woke", got)
	tasks, err := hook.Core(eng).Store().Tasks(ctx)
	require.NoError(t, err)
	require.Empty(t, tasks)
	mock.Add(48 * time.Hour)
	info, err := eng.Describe(ctx, "fine")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCompleted, info.Status)
}

// TestTimeoutFiresAcrossRestart closes the engine before the deadline and
// opens it again after: the deadline was journaled with the start, so the
// run times out at once.
func TestTimeoutFiresAcrossRestart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	eng, path := setup(t, &chorus.Options{Clock: mock}, sleepy)
	_, err := chorus.Start(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "restart", ExecutionTimeout: time.Hour})
	require.NoError(t, err)
	mock.Add(30 * time.Minute)
	closeEngine(t, eng)

	mock.Add(time.Hour)
	eng = openEngine(t, path, &chorus.Options{Clock: mock, Definitions: []chorus.Definition{sleepy}})
	run, err := chorus.Lookup(ctx, eng, sleepy, "restart")
	require.NoError(t, err)
	_, err = run.Result(ctx)
	requireTimedOut(t, err, "execution")
}

// TestTimeoutFiresAcrossRestartBeforeDeadline reopens the engine before the
// deadline: the timer is armed again from the journal and fires on time.
func TestTimeoutFiresAcrossRestartBeforeDeadline(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	eng, path := setup(t, &chorus.Options{Clock: mock}, sleepy)
	_, err := chorus.Start(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "early", RunTimeout: time.Hour})
	require.NoError(t, err)
	closeEngine(t, eng)

	eng = openEngine(t, path, &chorus.Options{Clock: mock, Definitions: []chorus.Definition{sleepy}})
	run, err := chorus.Lookup(ctx, eng, sleepy, "early")
	require.NoError(t, err)
	mock.Add(time.Hour)
	_, err = run.Result(ctx)
	requireTimedOut(t, err, "run")
}

// TestNegativeTimeoutIsRefused checks that a negative timeout is an error
// naming the field, from Start and SignalWithStart, and that no run is
// created.
func TestNegativeTimeoutIsRefused(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	eng, _ := setup(t, nil, sleepy)
	_, err := chorus.Start(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "neg", ExecutionTimeout: -time.Second})
	require.ErrorContains(t, err, "StartOptions.ExecutionTimeout is negative")
	_, err = chorus.Start(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "neg", RunTimeout: -1})
	require.ErrorContains(t, err, "StartOptions.RunTimeout is negative")
	sig := workflow.NewSignal[int]("s")
	_, err = chorus.SignalWithStart(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "neg", RunTimeout: -1}, sig, 1)
	require.ErrorContains(t, err, "StartOptions.RunTimeout is negative")
	_, err = eng.Describe(ctx, "neg")
	require.True(t, errors.Is(err, chorus.ErrRunNotFound), "no run was created: %v", err)
}

// TestBlockedRunTimesOut: a run blocked by a panic in its code still times
// out, in the process where it blocked and in one that opens the database
// after the deadline.
func TestBlockedRunTimesOut(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	boom := workflow.NewSignal[int]("boom")
	fragile := workflow.New("timeout-fragile", func(ctx workflow.Context, _ int) (int, error) {
		n, _ := workflow.GetSignalChannel(ctx, boom).Receive(ctx)
		if n > 0 {
			panic("boom")
		}
		return n, nil
	})
	mock := clock.NewMock()
	eng, path := setup(t, &chorus.Options{Clock: mock}, fragile)
	for _, id := range []string{"here", "later"} {
		timeout := time.Hour
		if id == "later" {
			timeout = 2 * time.Hour
		}
		run, err := chorus.Start(ctx, eng, fragile, 0, &chorus.StartOptions{ID: id, ExecutionTimeout: timeout})
		require.NoError(t, err)
		_ = chorus.Signal(ctx, eng, id, boom, 1) // answered with the block
		_, err = run.Result(ctx)
		var be *chorus.BlockedError
		require.ErrorAs(t, err, &be)
	}
	waitStatus := func(eng *chorus.Engine, id string) {
		t.Helper()
		require.Eventually(t, func() bool { // a failure guard: the timeout is applied asynchronously
			info, err := eng.Describe(ctx, id)
			return err == nil && info.Status == chorus.StatusTimedOut
		}, testTimeout, time.Millisecond, "run %q times out", id)
	}
	mock.Add(time.Hour)
	waitStatus(eng, "here")
	info, err := eng.Describe(ctx, "later")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusBlocked, info.Status)

	closeEngine(t, eng)
	mock.Add(time.Hour)
	eng = openEngine(t, path, &chorus.Options{Clock: mock, Definitions: []chorus.Definition{fragile}})
	waitStatus(eng, "later")
	info, err = eng.Describe(ctx, "later")
	require.NoError(t, err)
	require.ErrorIs(t, info.Err, chorus.ErrWorkflowTimeout)
}

// TestTimeoutWithSignalWithStartAndTerminate: SignalWithStart gives a new
// run its timeouts; terminating a run removes its deadline, which then
// never fires.
func TestTimeoutWithSignalWithStartAndTerminate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	sig := workflow.NewSignal[int]("s")
	mock := clock.NewMock()
	eng, _ := setup(t, &chorus.Options{Clock: mock}, sleepy)
	run, err := chorus.SignalWithStart(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "sws", RunTimeout: time.Hour}, sig, 1)
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, sleepy, 0, &chorus.StartOptions{ID: "term", ExecutionTimeout: time.Hour})
	require.NoError(t, err)
	require.NoError(t, eng.Terminate(ctx, "term", "enough"))
	tasks, err := hook.Core(eng).Store().Tasks(ctx)
	require.NoError(t, err)
	for _, task := range tasks {
		require.NotEqual(t, "term", task.RunID, "the terminated run keeps no task (%v)", task.Kind)
	}

	mock.Add(time.Hour)
	_, err = run.Result(ctx)
	requireTimedOut(t, err, "run")
	info, err := eng.Describe(ctx, "term")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusTerminated, info.Status, "a terminated run stays terminated past its deadline")
}
