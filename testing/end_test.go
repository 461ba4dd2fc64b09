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

// useNewPath is read by Branchy: a package-level variable, the kind of
// thing workflow code must not branch on.
var useNewPath atomic.Bool

var (
	PathA   = activity.New("path-a", func(ctx context.Context, _ int) (string, error) { return "a", nil })
	PathB   = activity.New("path-b", func(ctx context.Context, _ int) (string, error) { return "b", nil })
	Branchy = workflow.New("branchy", func(ctx workflow.Context, n int) (string, error) {
		act := PathA
		if useNewPath.Load() {
			act = PathB
		}
		return workflow.ExecuteActivity(ctx, act, n).Get(ctx)
	})
)

// A workflow that branches on a global that changes between the run and the
// end of the test fails its own test with the NonDeterminismError.
func TestReplayCheckCatchesNonDeterminism(t *stdtesting.T) {
	ft := newFakeTB(t)
	env := chorustest.New(ft, &chorustest.Options{Definitions: []chorus.Definition{Branchy, PathA, PathB}})
	run := chorustest.Start(env, Branchy, 1, &chorus.StartOptions{ID: "branchy"})
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "a", got)
	require.NoError(t, env.CheckReplay(), "the same code replays")

	useNewPath.Store(true) // "a deploy"
	defer useNewPath.Store(false)
	err = env.CheckReplay()
	var nde *chorus.NonDeterminismError
	require.ErrorAs(t, err, &nde)
	require.Equal(t, "branchy", nde.RunID)
	require.Equal(t, int64(2), nde.Step)

	require.False(t, ft.Failed())
	ft.finish()
	require.Contains(t, ft.errors(), "non-determinism in run \"branchy\"", "the test fails at its end")
	require.Contains(t, ft.errors(), `ActivityScheduled "path-a"`)
}

func TestReplayCheckCanBeSkipped(t *stdtesting.T) {
	ft := newFakeTB(t)
	env := chorustest.New(ft, &chorustest.Options{Definitions: []chorus.Definition{Branchy, PathA, PathB}, SkipReplayCheck: true})
	_, err := chorustest.Result(env, chorustest.Start(env, Branchy, 1, nil))
	require.NoError(t, err)
	useNewPath.Store(true)
	defer useNewPath.Store(false)
	ft.finish()
	require.Empty(t, ft.errors())
}

func TestUnfinishedRunsAreReported(t *stdtesting.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("FailOnUnfinished=", fail), func(t *stdtesting.T) {
			t.Parallel()
			ft := newFakeTB(t)
			env := chorustest.New(ft, &chorustest.Options{Definitions: []chorus.Definition{Greet, Claim, Escalate}, FailOnUnfinished: fail})
			chorustest.Start(env, Greet, struct{}{}, &chorus.StartOptions{ID: "waits-forever"})
			done := chorustest.Start(env, Claim, "c", &chorus.StartOptions{ID: "ends"})
			env.At(24*time.Hour, func() { chorustest.Signal(env, "ends", Approve, Decision{Approved: true}) })
			env.At(100*time.Hour, func() {})
			_, err := chorustest.Result(env, done)
			require.NoError(t, err)
			ft.finish()
			report := ft.logged()
			if fail {
				report = ft.errors()
			}
			require.Contains(t, report, `run "waits-forever" (workflow "greet") is still running at the end of the test (fake time +24h0m0s)`)
			require.NotContains(t, report, `"ends"`)
			require.Contains(t, ft.logged(), "env.At callback for +100h0m0s never ran")
			if !fail {
				require.Empty(t, ft.errors())
			}
		})
	}
}

// Panicky panics: its run is blocked, which Result reports and the end of
// the test lists rather than replays.
var Panicky = workflow.New("panicky", func(ctx workflow.Context, _ int) (int, error) {
	if err := workflow.Sleep(ctx, time.Hour); err != nil {
		return 0, err
	}
	panic("boom")
})

func TestBlockedRun(t *stdtesting.T) {
	t.Parallel()
	ft := newFakeTB(t)
	env := chorustest.New(ft, &chorustest.Options{Definitions: []chorus.Definition{Panicky}, LogLevel: errorLevel})
	_, err := chorustest.Result(env, chorustest.Start(env, Panicky, 0, &chorus.StartOptions{ID: "p"}))
	var pe *chorus.PanicError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
	ft.finish()
	require.Empty(t, ft.errors())
	require.Contains(t, ft.logged(), `run "p" (workflow "panicky") is still blocked`)
	require.Contains(t, ft.logged(), "chorus: run blocked", "engine logs go to t.Log")
	require.Contains(t, ft.logged(), "fake_time=+1h0m0s", "stamped with the fake time")
}

// Progress of a long activity, kept in heartbeats.
var CopyFiles = activity.New("copy-files", func(ctx context.Context, total int) (string, error) {
	done := 0
	activity.HeartbeatDetails(ctx, &done) // resume where the last attempt stopped
	start := done
	for ; done < total; done++ {
		activity.Heartbeat(ctx, done)
	}
	info := activity.GetInfo(ctx)
	return fmt.Sprintf("attempt %d (%s) copied %d of %d", info.Attempt, info.IdempotencyKey, done-start, total), nil
})

var Fails = activity.New("fails", func(ctx context.Context, _ int) (int, error) {
	return 0, activity.NewError("bad-input", "no")
})

func TestRunActivity(t *stdtesting.T) {
	t.Parallel()
	got, err := chorustest.RunActivity(t, CopyFiles, 10, nil)
	require.NoError(t, err)
	require.Equal(t, "attempt 1 () copied 10 of 10", got)

	got, err = chorustest.RunActivity(t, CopyFiles, 10, &activity.Info{Attempt: 2, IdempotencyKey: "run/4"}, 7)
	require.NoError(t, err)
	require.Equal(t, "attempt 2 (run/4) copied 3 of 10", got, "resumed from the previous attempt's heartbeat")

	_, err = chorustest.RunActivity(t, Fails, 0, nil)
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "bad-input", ae.Type)
}

// Envs are independent: each test has its own clock and journal.
func TestParallelEnvs(t *stdtesting.T) {
	t.Parallel()
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *stdtesting.T) {
			t.Parallel()
			env := claimEnv(t, nil)
			run := chorustest.Start(env, Claim, "c", &chorus.StartOptions{ID: "c"})
			if i%2 == 0 {
				env.At(time.Duration(i+1)*time.Hour, func() { chorustest.Signal(env, "c", Approve, Decision{Approved: true, By: "x"}) })
			}
			got, err := chorustest.Result(env, run)
			require.NoError(t, err)
			if i%2 == 0 {
				require.Equal(t, "c: approved=true by x", got)
				require.Equal(t, time.Duration(i+1)*time.Hour, env.Elapsed())
			} else {
				require.Equal(t, "escalated c", got)
				require.Equal(t, approvalWindow, env.Elapsed())
			}
		})
	}
}

var Refund = activity.New("refund", func(ctx context.Context, o Order) (string, error) { return "refunded", nil })

// Refunding charges, then refunds and marks the compensation when shipping
// fails.
var Refunding = workflow.New("refunding", func(ctx workflow.Context, o Order) (string, error) {
	if _, err := workflow.ExecuteActivity(ctx, Charge, o).Get(ctx); err != nil {
		return "", err
	}
	if _, err := workflow.ExecuteActivity(ctx, Ship, o).Get(ctx); err != nil {
		workflow.RecordMarker(ctx, "compensate.refund", o.ID)
		return workflow.ExecuteActivity(workflow.NewDisconnectedContext(ctx), Refund, o).Get(ctx)
	}
	return "shipped", nil
})

func TestJournalAssertions(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Refunding, Charge, Ship, Refund}})
	chorustest.OnActivity(env, Ship).ReturnError(activity.NonRetryable(errors.New("warehouse on fire")))
	got, err := chorustest.Result(env, chorustest.Start(env, Refunding, Order{ID: "o"}, &chorus.StartOptions{ID: "r"}))
	require.NoError(t, err)
	require.Equal(t, "refunded", got)
	require.Equal(t, []string{"charge", "ship", "refund"}, env.ActivitiesRun("r"))
	require.Equal(t, []string{"compensate.refund"}, env.Markers("r"))
	h := env.History("r")
	require.Equal(t, "RunStarted", h[0].Type.String())
	require.Equal(t, "RunCompleted", h[len(h)-1].Type.String())
}

// A run whose activity is not registered waits for it; the wait says so
// instead of hanging, and registering the activity releases the run.
func TestRegisterReleasesAStalledRun(t *stdtesting.T) {
	t.Parallel()
	ft := newFakeTB(t)
	defer ft.finish()
	env := chorustest.New(ft, &chorustest.Options{Definitions: []chorus.Definition{PlaceOrder}})
	run := chorustest.Start(env, PlaceOrder, Order{ID: "o"}, &chorus.StartOptions{ID: "o"})
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorustest.ErrStalled)
	require.Contains(t, ft.logged(), `activity \"charge\" is not registered`, "the engine's warning is in the test log")
	env.Register(Charge, Ship)
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "real-o/parcel-o", got)
}

// A wait that takes too long in wall time gives up and describes the env.
func TestWaitTimeoutDescribesTheEnv(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{PlaceOrder, Charge, Ship}, Timeout: 200 * time.Millisecond})
	chorustest.OnActivity(env, Charge).Do(func(ctx context.Context, o Order) (Receipt, error) {
		<-ctx.Done() // stuck until the engine closes
		return Receipt{}, ctx.Err()
	})
	_, err := chorustest.Result(env, chorustest.Start(env, PlaceOrder, Order{ID: "o"}, &chorus.StartOptions{ID: "o"}))
	require.ErrorContains(t, err, `gave up after 200ms of wall time waiting for run "o" to end`)
	require.ErrorContains(t, err, "1 activity attempt(s) running")
	require.ErrorContains(t, err, `runs not ended: "o" (workflow "place-order") running`)
}

func TestTerminate(t *stdtesting.T) {
	t.Parallel()
	env := claimEnv(t, nil)
	run := chorustest.Start(env, Claim, "c", &chorus.StartOptions{ID: "c"})
	env.Advance(time.Hour)
	env.Terminate("c", "duplicate claim")
	_, err := chorustest.Result(env, run)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Terminated)
	require.Equal(t, "duplicate claim", we.Message)
	require.Equal(t, time.Hour, env.Elapsed())
}
