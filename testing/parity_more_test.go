package chorustest_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// Issue 11 asks for a test of each peer-parity feature under chorustest as
// well as on the engine. These cover the ID reuse policy, heartbeat
// details carried to the next attempt, WaitForCancellation, and activities
// and workflows that return only an error.

var reuseWait = workflow.NewSignal[struct{}]("reuse-wait")

var reuseWF = workflow.New("env-reuse", func(ctx workflow.Context, n int) (int, error) {
	switch n {
	case -1:
		return 0, activity.NonRetryable(errors.New("failing on purpose"))
	case 0:
		workflow.GetSignalChannel(ctx, reuseWait).Receive(ctx)
	}
	return n, nil
})

// TestIDReusePolicyUnderEnv starts runs on the IDs of a completed, a failed
// and a running run under each policy; the replay check at the end of the
// test replays the runs that took a reused ID.
func TestIDReusePolicyUnderEnv(t *stdtesting.T) {
	t.Parallel()
	env := parityEnv(t, reuseWF)
	start := func(id string, n int, p chorus.IDReusePolicy) (*chorus.Run[int], error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return chorus.Start(ctx, env.Engine(), reuseWF, n, &chorus.StartOptions{ID: id, IDReusePolicy: p})
	}

	got, err := chorustest.Result(env, chorustest.Start(env, reuseWF, 1, &chorus.StartOptions{ID: "done"}))
	require.NoError(t, err)
	require.Equal(t, 1, got)
	_, err = start("done", 2, chorus.IDReuseDefault)
	require.ErrorIs(t, err, chorus.ErrRunExists, "Start rejects a duplicate by default")
	_, err = start("done", 2, chorus.IDReuseAllowDuplicateFailedOnly)
	require.ErrorIs(t, err, chorus.ErrRunExists, "the run completed")
	got, err = chorustest.Result(env, chorustest.Start(env, reuseWF, 3,
		&chorus.StartOptions{ID: "done", IDReusePolicy: chorus.IDReuseAllowDuplicate}))
	require.NoError(t, err)
	require.Equal(t, 3, got, "a new run took the ID")

	_, err = chorustest.Result(env, chorustest.Start(env, reuseWF, -1, &chorus.StartOptions{ID: "failed"}))
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	got, err = chorustest.Result(env, chorustest.Start(env, reuseWF, 4,
		&chorus.StartOptions{ID: "failed", IDReusePolicy: chorus.IDReuseAllowDuplicateFailedOnly}))
	require.NoError(t, err)
	require.Equal(t, 4, got)

	chorustest.Start(env, reuseWF, 0, &chorus.StartOptions{ID: "running"})
	_, err = start("running", 5, chorus.IDReuseAllowDuplicate)
	require.ErrorIs(t, err, chorus.ErrRunExists, "a running run's ID is not reused")
	got, err = chorustest.Result(env, chorustest.Start(env, reuseWF, 6,
		&chorus.StartOptions{ID: "running", IDReusePolicy: chorus.IDReuseTerminateIfRunning}))
	require.NoError(t, err)
	require.Equal(t, 6, got, "the running run was terminated and replaced")
	require.NoError(t, env.CheckReplay())
}

// TestHeartbeatDetailsUnderEnv: an attempt that fails after a heartbeat
// leaves its details to the next attempt, which the env's retry timer
// starts on fake time.
func TestHeartbeatDetailsUnderEnv(t *stdtesting.T) {
	t.Parallel()
	var attempts atomic.Int32
	scan := activity.New("env-scan", func(ctx context.Context, n int) (string, error) {
		attempts.Add(1)
		var from int
		if activity.HeartbeatDetails(ctx, &from) {
			return fmt.Sprintf("attempt %d went on from %d", activity.GetInfo(ctx).Attempt, from), nil
		}
		activity.Heartbeat(ctx, n/2)
		return "", errors.New("interrupted half-way")
	}).WithOptions(activity.Options{RetryPolicy: &activity.RetryPolicy{InitialInterval: time.Minute, MaximumAttempts: 3}})
	wf := workflow.New("env-scan-wf", func(ctx workflow.Context, n int) (string, error) {
		return workflow.ExecuteActivity(ctx, scan, n).Get(ctx)
	})
	env := parityEnv(t, wf, scan)
	got, err := chorustest.Result(env, chorustest.Start(env, wf, 10, nil))
	require.NoError(t, err)
	require.Equal(t, "attempt 2 went on from 5", got)
	require.EqualValues(t, 2, attempts.Load())
	require.GreaterOrEqual(t, env.Elapsed(), 48*time.Second, "the retry waited for its backoff (1 min less at most 20 percent jitter) on fake time")
}

// TestWaitForCancellationUnderEnv: with WaitForCancellation, the canceled
// activity's future settles only after the attempt's cleanup returned, so
// the workflow's next activity sees the cleanup done.
func TestWaitForCancellationUnderEnv(t *stdtesting.T) {
	t.Parallel()
	started := make(chan struct{})
	var cleaned atomic.Bool
	long := activity.New("env-wfc-long", func(ctx context.Context, _ string) (string, error) {
		close(started)
		<-ctx.Done()
		// A cleanup that takes a while: without WaitForCancellation the
		// workflow's next activity would run before it ends.
		time.Sleep(100 * time.Millisecond)
		cleaned.Store(true)
		return "", ctx.Err()
	}).WithOptions(activity.Options{WaitForCancellation: true})
	check := activity.New("env-wfc-check", func(context.Context, string) (bool, error) { return cleaned.Load(), nil })
	stop := workflow.NewSignal[string]("env-wfc-stop")
	wf := workflow.New("env-wfc", func(ctx workflow.Context, in string) (string, error) {
		sub, cancel := workflow.WithCancel(ctx)
		f := workflow.ExecuteActivity(sub, long, in)
		workflow.GetSignalChannel(ctx, stop).Receive(ctx)
		cancel()
		_, err := f.Get(ctx)
		c, cerr := workflow.ExecuteActivity(ctx, check, in).Get(ctx)
		return fmt.Sprintf("canceled=%v cleaned=%v", errors.Is(err, workflow.ErrCanceled), c), cerr
	})
	env := parityEnv(t, wf, long, check)
	run := chorustest.Start(env, wf, "x", nil)
	<-started
	chorustest.Signal(env, run.ID(), stop, "now")
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "canceled=true cleaned=true", got)
}

// TestVoidDefinitionsUnderEnv runs a workflow and an activity that return
// only an error, for real and mocked.
func TestVoidDefinitionsUnderEnv(t *stdtesting.T) {
	t.Parallel()
	var sent atomic.Int32
	notify := activity.NewVoid("env-notify", func(_ context.Context, to string) error {
		if to == "" {
			return activity.NonRetryable(errors.New("no recipient"))
		}
		sent.Add(1)
		return nil
	})
	wf := workflow.NewVoid("env-notify-all", func(ctx workflow.Context, to []string) error {
		for _, r := range to {
			if err := workflow.Wait(ctx, workflow.ExecuteActivity(ctx, notify, r)); err != nil {
				return err
			}
		}
		return nil
	})

	env := parityEnv(t, wf, notify)
	_, err := chorustest.Result(env, chorustest.Start(env, wf, []string{"a", "b"}, nil))
	require.NoError(t, err)
	require.EqualValues(t, 2, sent.Load())
	_, err = chorustest.Result(env, chorustest.Start(env, wf, []string{"c", ""}, nil))
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.ErrorContains(t, err, "no recipient")
	require.EqualValues(t, 3, sent.Load())

	mocked := parityEnv(t, wf, notify)
	m := chorustest.OnActivity(mocked, notify).Return(struct{}{}, nil)
	_, err = chorustest.Result(mocked, chorustest.Start(mocked, wf, []string{"x", "y", "z"}, nil))
	require.NoError(t, err)
	require.Equal(t, 3, m.Calls())
	require.Equal(t, []string{"x", "y", "z"}, m.Inputs())
	require.EqualValues(t, 3, sent.Load(), "the mock answered instead of the activity")
}
