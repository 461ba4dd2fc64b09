package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// counter counts activity executions by key, outside the journal.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key]++
	return c.n[key]
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// addOne is an activity that counts its executions per run.
func addOne(c *counter, name string) *activity.Definition[int, int] {
	return activity.New(name, func(ctx context.Context, n int) (int, error) {
		c.inc(activity.GetInfo(ctx).RunID + "/" + name)
		return n + 1, nil
	})
}

func threeSteps(name string, a *activity.Definition[int, int]) *workflow.Definition[int, string] {
	return workflow.New(name, func(ctx workflow.Context, n int) (string, error) {
		for range 3 {
			var err error
			if n, err = workflow.ExecuteActivity(ctx, a, n).Get(ctx); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("n=%d", n), nil
	})
}

func TestThreeActivitiesResult(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	act := addOne(&c, "add")
	wf := threeSteps("three", act)
	eng, _ := setup(t, nil, wf, act)

	run, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "r1"})
	require.NoError(t, err)
	require.Equal(t, "r1", run.ID())
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "n=4", got)
	require.Equal(t, 3, c.get("r1/add"))

	info, err := eng.Describe(ctx, "r1")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCompleted, info.Status)
	require.Equal(t, "three", info.Workflow)
	// RunStarted, 3 x (scheduled, completed), RunCompleted.
	require.EqualValues(t, 8, info.Events)
	require.NoError(t, info.Err)
}

func TestWorkflowWithoutActivitiesCompletesAtStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("echo", func(ctx workflow.Context, s string) (string, error) { return "echo " + s, nil })
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, "hi", nil)
	require.NoError(t, err)
	info, err := run.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCompleted, info.Status, "the start and the completion commit together")
	require.EqualValues(t, 2, info.Events)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "echo hi", got)
}

func TestWorkflowErrorIsRecorded(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("fails", func(ctx workflow.Context, _ int) (int, error) {
		return 0, activity.NewError("out-of-stock", "sku %s", "A-1")
	})
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.Equal(t, "out-of-stock", we.Type)
	require.Contains(t, we.Message, "sku A-1")
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "out-of-stock", ae.Type)
	info, err := eng.Describe(ctx, run.ID())
	require.NoError(t, err)
	require.Equal(t, chorus.StatusFailed, info.Status)
	require.ErrorAs(t, info.Err, &we)
}

func TestActivityRetriesWithStableIdempotencyKey(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var mu sync.Mutex
	var attempts []int
	keys := map[string]bool{}
	flaky := activity.New("flaky", func(ctx context.Context, n int) (int, error) {
		info := activity.GetInfo(ctx)
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, info.Attempt)
		keys[info.IdempotencyKey] = true
		if info.Attempt < 3 {
			return 0, errors.New("temporarily unavailable")
		}
		return n * 2, nil
	}).WithOptions(activity.Options{RetryPolicy: fastRetry(0)})
	wf := workflow.New("retry", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, flaky, n).Get(ctx)
	})
	eng, _ := setup(t, nil, wf, flaky)
	run, err := chorus.Start(ctx, eng, wf, 21, &chorus.StartOptions{ID: "retry-1"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 42, got)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{1, 2, 3}, attempts)
	require.Equal(t, map[string]bool{"retry-1/2": true}, keys, "one key for every attempt: run ID and step")
}

func TestNonRetryableFailureReachesWorkflowTyped(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var calls atomic.Int32
	charge := activity.New("charge", func(ctx context.Context, cents int) (string, error) {
		calls.Add(1)
		return "", activity.NonRetryable(activity.NewError("card-declined", "card ending %d declined", 4242))
	})
	var seen *workflow.ActivityError
	wf := workflow.New("pay", func(ctx workflow.Context, cents int) (string, error) {
		_, err := workflow.ExecuteActivity(ctx, charge, cents).Get(ctx)
		if !errors.As(err, &seen) {
			return "", fmt.Errorf("want an ActivityError, got %T %v", err, err)
		}
		return "", err
	})
	eng, _ := setup(t, nil, wf, charge)
	run, err := chorus.Start(ctx, eng, wf, 100, nil)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Error(t, err)
	require.EqualValues(t, 1, calls.Load(), "a non-retryable error is not retried")
	require.Equal(t, "charge", seen.Activity)
	require.EqualValues(t, 2, seen.Step)
	require.Equal(t, 1, seen.Attempt)
	var ae *activity.Error
	require.ErrorAs(t, seen, &ae)
	require.Equal(t, "card-declined", ae.Type)
	require.True(t, ae.NonRetryable)

	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.Equal(t, "card-declined", we.Type, "returning the activity's error records its type as the run's")
}

func TestRetryPolicyLimits(t *testing.T) {
	t.Parallel()
	errBusy := errors.New("busy")
	cases := []struct {
		name      string
		policy    *activity.RetryPolicy
		err       error
		wantCalls int32
		wantType  string
	}{
		{"maximum attempts", fastRetry(3), errBusy, 3, "*errors.errorString"},
		{"non-retryable type", &activity.RetryPolicy{InitialInterval: time.Millisecond, NonRetryableErrorTypes: []string{"validation"}},
			activity.NewError("validation", "bad zip code"), 1, "validation"},
		{"panic is retried", fastRetry(2), nil, 2, "Panic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			var calls atomic.Int32
			act := activity.New("act", func(ctx context.Context, _ int) (int, error) {
				calls.Add(1)
				if tc.err == nil {
					panic("boom")
				}
				return 0, tc.err
			}).WithOptions(activity.Options{RetryPolicy: tc.policy})
			var seen *workflow.ActivityError
			wf := workflow.New("wf", func(ctx workflow.Context, _ int) (int, error) {
				_, err := workflow.ExecuteActivity(ctx, act, 0).Get(ctx)
				errors.As(err, &seen)
				return 0, err
			})
			eng, _ := setup(t, nil, wf, act)
			run, err := chorus.Start(ctx, eng, wf, 0, nil)
			require.NoError(t, err)
			_, err = run.Result(ctx)
			require.Error(t, err)
			require.Equal(t, tc.wantCalls, calls.Load())
			require.NotNil(t, seen)
			require.EqualValues(t, tc.wantCalls, seen.Attempt)
			var ae *activity.Error
			require.ErrorAs(t, seen, &ae)
			require.Equal(t, tc.wantType, ae.Type)
		})
	}
}

func TestStartToCloseTimeoutAbandonsStuckActivity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stuck := activity.New("stuck", func(ctx context.Context, _ int) (int, error) {
		<-release // ignores its context on purpose
		return 1, nil
	}).WithOptions(activity.Options{StartToCloseTimeout: 20 * time.Millisecond, RetryPolicy: fastRetry(2)})
	var seen *workflow.ActivityError
	wf := workflow.New("wf", func(ctx workflow.Context, _ int) (int, error) {
		_, err := workflow.ExecuteActivity(ctx, stuck, 0).Get(ctx)
		errors.As(err, &seen)
		return 0, err
	})
	eng, _ := setup(t, nil, wf, stuck)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Error(t, err)
	require.NotNil(t, seen)
	require.Equal(t, 2, seen.Attempt)
	var ae *activity.Error
	require.ErrorAs(t, seen, &ae)
	require.Equal(t, "StartToCloseTimeout", ae.Type)
}

func TestDuplicateRunID(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	act := addOne(&c, "add")
	wf := threeSteps("three", act)
	other := workflow.New("other", func(ctx workflow.Context, n int) (string, error) { return "", nil })
	eng, _ := setup(t, nil, wf, other, act)

	first, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "dup"})
	require.NoError(t, err)
	_, err = first.Result(ctx)
	require.NoError(t, err)

	_, err = chorus.Start(ctx, eng, wf, 100, &chorus.StartOptions{ID: "dup"})
	require.ErrorIs(t, err, chorus.ErrRunExists)

	attached, err := chorus.Start(ctx, eng, wf, 100, &chorus.StartOptions{ID: "dup", IfExists: chorus.AttachIfExists})
	require.NoError(t, err)
	got, err := attached.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "n=4", got, "attaching returns the existing run, whose input was 1")

	_, err = chorus.Start(ctx, eng, other, 1, &chorus.StartOptions{ID: "dup", IfExists: chorus.AttachIfExists})
	require.ErrorContains(t, err, `belongs to workflow "three"`)
	require.Equal(t, 3, c.get("dup/add"), "no second run was created")
}

func TestConcurrentStartsOfOneIDCreateOneRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var starts atomic.Int32
	wf := workflow.New("once", func(ctx workflow.Context, n int) (int, error) {
		if !workflow.IsReplaying(ctx) {
			starts.Add(1)
		}
		return n, nil
	})
	eng, _ := setup(t, nil, wf)
	var wg sync.WaitGroup
	var ok, exists atomic.Int32
	for i := range 16 {
		wg.Go(func() {
			_, err := chorus.Start(ctx, eng, wf, i, &chorus.StartOptions{ID: "same"})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, chorus.ErrRunExists):
				exists.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, ok.Load())
	require.EqualValues(t, 15, exists.Load())
	runs, err := eng.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, runs, 1)
}

func TestBadInputErrors(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("wf", func(ctx workflow.Context, in map[string]any) (int, error) { return 1, nil })
	unregistered := workflow.New("nobody-registered-me", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	act := activity.New("act", func(ctx context.Context, n int) (int, error) { return n, nil })
	eng, _ := setup(t, nil, wf, act)

	_, err := chorus.Start(ctx, eng, unregistered, 1, nil)
	var nre *chorus.NotRegisteredError
	require.ErrorAs(t, err, &nre)
	require.Equal(t, "nobody-registered-me", nre.Name)
	require.ErrorIs(t, err, chorus.ErrNotRegistered)

	require.ErrorIs(t, eng.Register(wf), chorus.ErrDuplicateRegistration)
	require.ErrorIs(t, eng.Register(act), chorus.ErrDuplicateRegistration)
	require.ErrorContains(t, eng.Register(nil), "nil definition")
	require.ErrorContains(t, eng.Register(namedThing{}), "neither a workflow")
	bad := activity.New("bad-policy", func(ctx context.Context, n int) (int, error) { return n, nil }).
		WithOptions(activity.Options{RetryPolicy: &activity.RetryPolicy{BackoffCoefficient: 0.5}})
	require.ErrorContains(t, eng.Register(bad), "BackoffCoefficient")

	_, err = chorus.Start(ctx, eng, wf, map[string]any{"f": func() {}}, nil)
	require.ErrorIs(t, err, chorus.ErrPayload)

	_, err = chorus.Start(ctx, eng, wf, nil, &chorus.StartOptions{ID: string(make([]byte, 300))})
	require.ErrorContains(t, err, "limit is 255")

	_, err = chorus.Lookup(ctx, eng, wf, "no-such-run")
	require.ErrorIs(t, err, chorus.ErrRunNotFound)
	require.ErrorIs(t, eng.Cancel(ctx, "no-such-run"), chorus.ErrRunNotFound)
	_, err = eng.Describe(ctx, "no-such-run")
	require.ErrorIs(t, err, chorus.ErrRunNotFound)

	_, err = chorus.Open(ctx, filepath.Join(t.TempDir(), "x.db"), &chorus.Options{CacheSize: -1})
	require.ErrorContains(t, err, "CacheSize")
	_, err = chorus.Open(ctx, filepath.Join(t.TempDir(), "x.db"), &chorus.Options{Synchronous: "SOMETIMES"})
	require.ErrorContains(t, err, "Synchronous")
}

type namedThing struct{}

func (namedThing) Name() string { return "thing" }

func TestResultDecodeErrorIsTyped(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("str", func(ctx workflow.Context, _ int) (string, error) { return "not a number", nil })
	asInt := workflow.New("str", func(ctx workflow.Context, _ int) (int, error) { return 0, nil })
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "s"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	wrong, err := chorus.Lookup(ctx, eng, asInt, "s")
	require.NoError(t, err)
	_, err = wrong.Result(ctx)
	var pe *chorus.PayloadError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, chorus.ErrPayload)
}

func TestOpenRefusesForeignFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "notes.txt")
	content := []byte("these are my notes, not a database\n")
	require.NoError(t, os.WriteFile(path, content, 0o600))
	_, err := chorus.Open(context.Background(), path, nil)
	require.ErrorIs(t, err, chorus.ErrNotChorusDatabase)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, content, after, "the file is untouched")
}

func TestClosedEngineRefusesWork(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("wf", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	eng, _ := setup(t, nil, wf)
	closeEngine(t, eng)
	_, err := chorus.Start(ctx, eng, wf, 1, nil)
	require.ErrorIs(t, err, chorus.ErrEngineClosed)
	require.ErrorIs(t, eng.Cancel(ctx, "x"), chorus.ErrEngineClosed)
	closeEngine(t, eng) // a second Close is harmless
}

func TestCancelStopsPendingActivity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	started := make(chan struct{}, 1)
	sawCancel := make(chan error, 1)
	wait := activity.New("wait", func(ctx context.Context, _ int) (int, error) {
		started <- struct{}{}
		<-ctx.Done()
		sawCancel <- ctx.Err()
		return 0, ctx.Err()
	})
	var getErr, ctxErr error
	wf := workflow.New("cancelable", func(ctx workflow.Context, _ int) (int, error) {
		_, getErr = workflow.ExecuteActivity(ctx, wait, 0).Get(ctx)
		ctxErr = ctx.Err()
		// After cancellation nothing new can be scheduled under ctx.
		_, err := workflow.ExecuteActivity(ctx, wait, 1).Get(ctx)
		return 0, err
	})
	eng, _ := setup(t, nil, wf, wait)
	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "c"})
	require.NoError(t, err)
	recv(t, started, "the activity to start")
	require.NoError(t, run.Cancel(ctx))
	require.ErrorIs(t, recv(t, sawCancel, "the activity to see cancellation"), context.Canceled)

	_, err = run.Result(ctx)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Canceled)
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.ErrorIs(t, getErr, workflow.ErrCanceled)
	require.ErrorIs(t, ctxErr, workflow.ErrCanceled)

	info, err := eng.Describe(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCanceled, info.Status)
	require.ErrorIs(t, eng.Cancel(ctx, "c"), chorus.ErrRunEnded)
}

func TestCacheEvictionRebuildsRunsByReplay(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	act := addOne(&c, "add")
	wf := threeSteps("three", act)
	eng, _ := setup(t, &chorus.Options{CacheSize: 1}, wf, act)
	const n = 50
	runs := make([]*chorus.Run[string], n)
	for i := range n {
		var err error
		runs[i], err = chorus.Start(ctx, eng, wf, i, &chorus.StartOptions{ID: fmt.Sprint("run-", i)})
		require.NoError(t, err)
	}
	for i, r := range runs {
		got, err := r.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("n=%d", i+3), got)
		require.Equal(t, 3, c.get(r.ID()+"/add"), "replay never executes an activity again")
	}
}

func TestUnregisteredActivityWaitsForRegistration(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	act := addOne(&c, "late")
	wf := threeSteps("three", act)
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	info, err := run.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status)
	require.NoError(t, eng.Register(act))
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "n=3", got)
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ok := workflow.New("ok", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	bad := workflow.New("bad", func(ctx workflow.Context, n int) (int, error) { return 0, errors.New("no") })
	eng, _ := setup(t, nil, ok, bad)
	for i := range 3 {
		_, err := chorus.Start(ctx, eng, ok, i, &chorus.StartOptions{ID: fmt.Sprint("ok-", i)})
		require.NoError(t, err)
	}
	_, err := chorus.Start(ctx, eng, bad, 0, &chorus.StartOptions{ID: "bad-0"})
	require.NoError(t, err)

	all, err := eng.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, all, 4)
	failed, err := eng.List(ctx, &chorus.ListOptions{Status: chorus.StatusFailed})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "bad-0", failed[0].ID)
	page, err := eng.List(ctx, &chorus.ListOptions{Workflow: "ok", AfterID: "ok-0", Limit: 1})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, "ok-1", page[0].ID)
}

func TestManyConcurrentRuns(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	act := addOne(&c, "add")
	wf := threeSteps("three", act)
	eng, _ := setup(t, nil, wf, act)
	const n = 300
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			run, err := chorus.Start(ctx, eng, wf, i, nil)
			if err != nil {
				t.Error(err)
				return
			}
			got, err := run.Result(ctx)
			if err != nil || got != fmt.Sprintf("n=%d", i+3) {
				t.Errorf("run %d: %q, %v", i, got, err)
			}
			if k := c.get(run.ID() + "/add"); k != 3 {
				t.Errorf("run %d: activity ran %d times, want 3", i, k)
			}
		})
	}
	wg.Wait()
}

func TestPerCallOptionsAndContextValues(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var calls atomic.Int32
	fail := activity.New("fail", func(ctx context.Context, _ int) (int, error) {
		calls.Add(1)
		return 0, errors.New("down")
	}).WithOptions(activity.Options{RetryPolicy: fastRetry(5)})
	type key struct{}
	wf := workflow.New("wf", func(ctx workflow.Context, _ int) (string, error) {
		ctx = workflow.WithValue(ctx, key{}, "tenant-9")
		once := workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: fastRetry(1)})
		_, err := workflow.ExecuteActivity(once, fail, 0).Get(once)
		if err == nil {
			return "", errors.New("want an error")
		}
		info := workflow.GetInfo(once)
		return fmt.Sprintf("%v %s %s", once.Value(key{}), info.RunID, info.Workflow), nil
	})
	eng, _ := setup(t, nil, wf, fail)
	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "opts"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "tenant-9 opts wf", got)
	require.EqualValues(t, 1, calls.Load(), "the call's MaximumAttempts (1) beats the definition's (5)")
}

func TestSecondEngineOnSameFileIsRefused(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("wf", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	eng, path := setup(t, nil, wf)
	_, err := chorus.Open(ctx, path, nil)
	require.ErrorIs(t, err, chorus.ErrLocked)
	require.ErrorContains(t, err, path)
	run, err := chorus.Start(ctx, eng, wf, 1, nil)
	require.NoError(t, err, "the first engine is unaffected")
	_, err = run.Result(ctx)
	require.NoError(t, err)
	closeEngine(t, eng)
	second := openEngine(t, path, nil, wf)
	runs, err := second.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, runs, 1, "once the first engine closed, the second opens the same journal")
}

func TestReadsAfterCloseSayEngineClosed(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("wf", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	eng, path := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "r"})
	require.NoError(t, err)
	closeEngine(t, eng)
	_, err = eng.Describe(ctx, "r")
	require.ErrorIs(t, err, chorus.ErrEngineClosed)
	// The text names the run asked about, not the database file.
	require.ErrorContains(t, err, `"r"`)
	require.NotContains(t, err.Error(), path)
	_, err = eng.List(ctx, nil)
	require.ErrorIs(t, err, chorus.ErrEngineClosed)
	_, err = chorus.Lookup(ctx, eng, wf, "r")
	require.ErrorIs(t, err, chorus.ErrEngineClosed)
	_, err = run.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrEngineClosed)
}
