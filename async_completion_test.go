package chorus_test

// Asynchronous activity completion: activities that return
// activity.ErrResultPending and are completed by their key.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/workflow"
)

// pendingActivity returns an activity that sends its key on keys, counts
// its executions, and returns activity.ErrResultPending.
func pendingActivity(name string, keys chan<- string, execs *atomic.Int32) *activity.Definition[string, string] {
	return activity.New(name, func(ctx context.Context, in string) (string, error) {
		execs.Add(1)
		keys <- activity.GetInfo(ctx).IdempotencyKey
		return "", activity.ErrResultPending
	})
}

func TestCompleteActivity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	keys := make(chan string, 4)
	var execs atomic.Int32
	act := pendingActivity("ac-approve", keys, &execs)
	other := activity.New("ac-other", func(context.Context, string) (string, error) { return "", nil })
	wf := workflow.New("ac-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	eng, _ := setup(t, nil, wf, act, other)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "ac-1"})
	require.NoError(t, err)
	key := recv(t, keys, "the activity's key")
	require.Equal(t, "ac-1/2", key)

	// Bad keys and definitions change nothing.
	require.ErrorIs(t, chorus.CompleteActivity(ctx, eng, act, "nokey", "r"), chorus.ErrActivityNotFound)
	require.ErrorIs(t, chorus.CompleteActivity(ctx, eng, act, "ac-1/0", "r"), chorus.ErrActivityNotFound)
	require.ErrorIs(t, chorus.CompleteActivity(ctx, eng, act, "ac-1/99", "r"), chorus.ErrActivityNotFound)
	require.ErrorIs(t, chorus.CompleteActivity(ctx, eng, act, "ac-1/1", "r"), chorus.ErrActivityNotFound, "step 1 is RunStarted")
	require.ErrorIs(t, chorus.CompleteActivity(ctx, eng, act, "ac-none/2", "r"), chorus.ErrRunNotFound)
	err = chorus.CompleteActivity(ctx, eng, other, key, "r")
	require.ErrorIs(t, err, chorus.ErrActivityNotFound)
	require.ErrorContains(t, err, `"ac-approve"`)

	require.NoError(t, chorus.CompleteActivity(ctx, eng, act, key, "approved"))
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "approved", out)
	require.EqualValues(t, 1, execs.Load(), "a pending attempt is neither retried nor run again")

	// A second completion is refused and changes nothing.
	require.ErrorIs(t, chorus.CompleteActivity(ctx, eng, act, key, "again"), chorus.ErrActivityCompleted)
	require.ErrorIs(t, chorus.FailActivity(ctx, eng, key, errors.New("late")), chorus.ErrActivityCompleted)
	out, err = run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "approved", out)
}

func TestCompleteActivityCanceled(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	keys := make(chan string, 4)
	var execs atomic.Int32
	act := pendingActivity("ac-cancel-act", keys, &execs)
	stop := workflow.NewSignal[string]("stop")
	wf := workflow.New("ac-cancel-wf", func(ctx workflow.Context, in string) (string, error) {
		sub, cancel := workflow.WithCancel(ctx)
		f := workflow.ExecuteActivity(sub, act, in)
		ch := workflow.GetSignalChannel(ctx, stop)
		ch.Receive(ctx)
		cancel()
		_, err := f.Get(ctx)
		ch.Receive(ctx)
		return fmt.Sprint(errors.Is(err, workflow.ErrCanceled)), nil
	})
	eng, _ := setup(t, nil, wf, act)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "ac-cancel"})
	require.NoError(t, err)
	key := recv(t, keys, "the activity's key")
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), stop, "cancel"))

	err = chorus.CompleteActivity(ctx, eng, act, key, "too late")
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.ErrorContains(t, err, "canceled")

	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), stop, "end"))
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "true", out)
	err = chorus.CompleteActivity(ctx, eng, act, key, "too late")
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.ErrorIs(t, err, chorus.ErrRunEnded)
}

// TestFailActivityRetries: a failure reported from outside counts as the
// pending attempt's: the retry policy runs the activity again, and the
// last allowed attempt's failure is the activity's.
func TestFailActivityRetries(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	keys := make(chan string, 4)
	var execs atomic.Int32
	act := pendingActivity("ac-fail-act", keys, &execs).WithOptions(activity.Options{RetryPolicy: fastRetry(2)})
	wf := workflow.New("ac-fail-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	eng, seen := openWatched(t, nil, wf, act)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "ac-fail"})
	require.NoError(t, err)
	key := recv(t, keys, "the first attempt's key")
	require.Equal(t, "pending "+key, recv(t, seen, "the pending mark"))
	require.NoError(t, chorus.FailActivity(ctx, eng, key, errors.New("declined once")))
	require.Equal(t, key, recv(t, keys, "the second attempt's key"), "every attempt has the same key")
	require.Equal(t, "pending "+key, recv(t, seen, "the second pending mark"))
	require.NoError(t, chorus.FailActivity(ctx, eng, key, activity.NewError("declined", "for good")))
	_, err = run.Result(ctx)
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "declined", ae.Type)
	require.EqualValues(t, 2, execs.Load())
	require.Error(t, chorus.FailActivity(ctx, eng, key, nil))
}

// TestCompleteActivityBeforeReturn: a callback may complete the activity
// before its attempt has returned ErrResultPending.
func TestCompleteActivityBeforeReturn(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var eng *chorus.Engine
	var execs atomic.Int32
	var act *activity.Definition[string, string]
	act = activity.New("ac-early", func(actx context.Context, in string) (string, error) {
		execs.Add(1)
		if err := chorus.CompleteActivity(actx, eng, act, activity.GetInfo(actx).IdempotencyKey, in+" done early"); err != nil {
			return "", activity.NonRetryable(err)
		}
		return "", activity.ErrResultPending
	})
	wf := workflow.New("ac-early-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	eng, _ = setup(t, nil, wf, act)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "ac-early"})
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "x done early", out)
	require.EqualValues(t, 1, execs.Load())
}

// TestPendingActivityStartToClose: the start-to-close timeout bounds a
// pending attempt too, and counts from the attempt's start.
func TestPendingActivityStartToClose(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	keys := make(chan string, 4)
	var execs atomic.Int32
	act := pendingActivity("ac-timeout-act", keys, &execs).WithOptions(activity.Options{
		StartToCloseTimeout: time.Minute, RetryPolicy: fastRetry(1),
	})
	wf := workflow.New("ac-timeout-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	eng, seen := openWatched(t, &chorus.Options{Clock: mock}, wf, act)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "ac-timeout"})
	require.NoError(t, err)
	key := recv(t, keys, "the activity's key")
	require.Equal(t, "pending "+key, recv(t, seen, "the pending mark"))
	mock.Add(59 * time.Second)
	require.EqualValues(t, 1, execs.Load())
	mock.Add(time.Second)
	_, err = run.Result(ctx)
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, activity.TypeStartToCloseTimeout, ae.Type)
	require.ErrorIs(t, chorus.CompleteActivity(ctx, eng, act, key, "late"), chorus.ErrActivityCompleted)
	require.EqualValues(t, 1, execs.Load())
}

// openWatched opens an engine on a new database whose committed pending
// marks and heartbeat writes are reported on the returned channel.
func openWatched(t *testing.T, opts *chorus.Options, defs ...chorus.Definition) (*chorus.Engine, <-chan string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "chorus.db"), nil)
	require.NoError(t, err)
	seen := make(chan string, 10000)
	eng, err := chorus.OpenStore(context.Background(), pendingWatch{Store: st, say: func(format string, args ...any) {
		seen <- fmt.Sprintf(format, args...)
	}}, opts)
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	require.NoError(t, eng.Register(defs...))
	return eng, seen
}

// TestCompleteActivityRace: of two completions racing, one wins and the
// other is told the activity has its outcome already.
func TestCompleteActivityRace(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	keys := make(chan string, 32)
	var execs atomic.Int32
	act := pendingActivity("ac-race-act", keys, &execs)
	wf := workflow.New("ac-race-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	eng, seen := openWatched(t, nil, wf, act)
	for i := range 10 {
		id := fmt.Sprintf("ac-race-%d", i)
		run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		key := recv(t, keys, "the activity's key")
		if i%2 == 0 {
			require.Equal(t, "pending "+key, recv(t, seen, "the pending mark"))
		}
		errs := make(chan error, 2)
		for _, v := range []string{"a", "b"} {
			go func() { errs <- chorus.CompleteActivity(ctx, eng, act, key, v) }()
		}
		e1, e2 := recv(t, errs, "a completion"), recv(t, errs, "a completion")
		if e1 != nil {
			e1, e2 = e2, e1
		}
		require.NoError(t, e1)
		require.ErrorIs(t, e2, chorus.ErrActivityCompleted)
		out, err := run.Result(ctx)
		require.NoError(t, err)
		require.Contains(t, []string{"a", "b"}, out)
		drain(seen, "")
	}
	require.EqualValues(t, 10, execs.Load())
}

// TestPendingActivityReopen: a pending attempt stays pending across a
// close and reopen (its body does not run again), and its start-to-close
// deadline, counted from the attempt's start, still applies: a deadline
// that passed while the engine was closed fires right after Open.
func TestPendingActivityReopen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	keys := make(chan string, 4)
	var execs atomic.Int32
	act := pendingActivity("ac-reopen-act", keys, &execs).WithOptions(activity.Options{
		StartToCloseTimeout: time.Hour, RetryPolicy: fastRetry(1),
	})
	wf := workflow.New("ac-reopen-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	path := filepath.Join(t.TempDir(), "chorus.db")
	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	seen := make(chan string, 16)
	eng, err := chorus.OpenStore(ctx, pendingWatch{Store: st, say: func(format string, args ...any) { seen <- fmt.Sprintf(format, args...) }},
		&chorus.Options{Clock: mock, Definitions: []chorus.Definition{wf, act}})
	require.NoError(t, err)
	for _, id := range []string{"ac-reopen-1", "ac-reopen-2"} {
		_, err := chorus.Start(ctx, eng, wf, id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		key := recv(t, keys, "the activity's key")
		require.Equal(t, "pending "+key, recv(t, seen, "the pending mark"))
	}
	closeEngine(t, eng)

	mock.Add(30 * time.Minute)
	eng = openEngine(t, path, &chorus.Options{Clock: mock}, wf, act)
	require.NoError(t, chorus.CompleteActivity(ctx, eng, act, "ac-reopen-1/2", "done"))
	run1, err := chorus.Lookup(ctx, eng, wf, "ac-reopen-1")
	require.NoError(t, err)
	out, err := run1.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "done", out)
	closeEngine(t, eng)

	mock.Add(30 * time.Minute) // the second attempt's deadline passes while closed
	eng = openEngine(t, path, &chorus.Options{Clock: mock}, wf, act)
	run2, err := chorus.Lookup(ctx, eng, wf, "ac-reopen-2")
	require.NoError(t, err)
	_, err = run2.Result(ctx)
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, activity.TypeStartToCloseTimeout, ae.Type)
	require.EqualValues(t, 2, execs.Load(), "one execution per run: none after a reopen")
}
