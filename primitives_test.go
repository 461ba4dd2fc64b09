package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

type Decision struct {
	Approved bool
	By       string
}

var approve = workflow.NewSignal[Decision]("approve")

// approval waits up to 48 hours for a decision, then escalates.
func approvalWorkflow() *workflow.Definition[string, string] {
	return workflow.New("approval", func(ctx workflow.Context, claim string) (string, error) {
		d, ok := workflow.GetSignalChannel(ctx, approve).ReceiveWithTimeout(ctx, 48*time.Hour)
		if !ok {
			return claim + ": escalated after 48h at " + workflow.Now(ctx).UTC().Format(time.RFC3339), nil
		}
		return fmt.Sprintf("%s: approved=%v by %s", claim, d.Approved, d.By), nil
	})
}

func TestSleepThirtyDaysOnFakeClock(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	start := mock.Now()
	wf := workflow.New("wait-30d", func(ctx workflow.Context, _ int) (time.Time, error) {
		if err := workflow.Sleep(ctx, 30*24*time.Hour); err != nil {
			return time.Time{}, err
		}
		return workflow.Now(ctx), nil
	})
	eng, _ := setup(t, &chorus.Options{Clock: mock}, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	mock.Add(29 * 24 * time.Hour)
	info, err := run.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status, "not due yet")
	mock.Add(24 * time.Hour)
	woke, err := run.Result(ctx)
	require.NoError(t, err)
	require.True(t, woke.Equal(start.Add(30*24*time.Hour)), "workflow.Now is the recorded time the timer fired: %v", woke)
}

func TestApprovalSignalBeforeTimeout(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	wf := approvalWorkflow()
	eng, _ := setup(t, &chorus.Options{Clock: mock}, wf)
	run, err := chorus.Start(ctx, eng, wf, "claim-1", &chorus.StartOptions{ID: "claim-1"})
	require.NoError(t, err)
	mock.Add(47 * time.Hour)
	require.NoError(t, chorus.Signal(ctx, eng, "claim-1", approve, Decision{Approved: true, By: "ana"}))
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "claim-1: approved=true by ana", got)
	mock.Add(48 * time.Hour) // the canceled timer must not wake anything
	require.ErrorIs(t, chorus.Signal(ctx, eng, "claim-1", approve, Decision{}), chorus.ErrRunEnded)
	require.ErrorIs(t, chorus.Signal(ctx, eng, "nobody", approve, Decision{}), chorus.ErrRunNotFound)
}

func TestApprovalTimesOutAndEscalates(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	wf := approvalWorkflow()
	eng, _ := setup(t, &chorus.Options{Clock: mock}, wf)
	run, err := chorus.Start(ctx, eng, wf, "claim-2", nil)
	require.NoError(t, err)
	mock.Add(48 * time.Hour)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "claim-2: escalated after 48h at 1970-01-03T00:00:00Z", got)
}

func TestTimerDueWhileDownFiresAfterReopen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	wf := approvalWorkflow()
	eng, path := setup(t, &chorus.Options{Clock: mock}, wf)
	_, err := chorus.Start(ctx, eng, wf, "claim-3", &chorus.StartOptions{ID: "claim-3"})
	require.NoError(t, err)
	closeEngine(t, eng)

	mock.Add(72 * time.Hour) // the process was down past the deadline
	eng = openEngine(t, path, &chorus.Options{Clock: mock}, wf)
	run, err := chorus.Lookup(ctx, eng, wf, "claim-3")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Contains(t, got, "escalated", "the overdue timer fired right after reopen, without advancing the clock")
}

func TestSignalsBeforeWaitingAreKeptInOrder(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	items := workflow.NewSignal[string]("item")
	wf := workflow.New("collect", func(ctx workflow.Context, n int) ([]string, error) {
		if err := workflow.Sleep(ctx, time.Hour); err != nil { // signals arrive meanwhile
			return nil, err
		}
		ch := workflow.GetSignalChannel(ctx, items)
		var got []string
		for range n {
			v, _ := ch.Receive(ctx)
			got = append(got, v)
		}
		return got, nil
	})
	eng, path := setup(t, &chorus.Options{Clock: mock}, wf)
	_, err := chorus.Start(ctx, eng, wf, 4, &chorus.StartOptions{ID: "c"})
	require.NoError(t, err)
	for _, s := range []string{"a", "b", "c"} {
		require.NoError(t, chorus.Signal(ctx, eng, "c", items, s))
	}
	closeEngine(t, eng) // signals are durable before the code ever read them

	eng = openEngine(t, path, &chorus.Options{Clock: mock}, wf)
	require.NoError(t, chorus.Signal(ctx, eng, "c", items, "d"))
	mock.Add(time.Hour)
	run, err := chorus.Lookup(ctx, eng, wf, "c")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, got)
}

func TestSignalWithStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	add := workflow.NewSignal[int]("add")
	done := workflow.NewSignal[struct{}]("done")
	wf := workflow.New("sum", func(ctx workflow.Context, base int) (int, error) {
		adds, fin := workflow.GetSignalChannel(ctx, add), workflow.GetSignalChannel(ctx, done)
		sum, finished := base, false
		for !finished {
			workflow.NewSelector(ctx).
				AddReceive(adds, func() { v, _ := adds.ReceiveAsync(); sum += v }).
				AddReceive(fin, func() { fin.ReceiveAsync(); finished = true }).
				Select(ctx)
		}
		return sum, nil
	})
	eng, _ := setup(t, nil, wf)
	run, err := chorus.SignalWithStart(ctx, eng, wf, 100, &chorus.StartOptions{ID: "s"}, add, 1)
	require.NoError(t, err)
	again, err := chorus.SignalWithStart(ctx, eng, wf, 999, &chorus.StartOptions{ID: "s"}, add, 2)
	require.NoError(t, err, "the second call signals the existing run")
	require.Equal(t, run.ID(), again.ID())
	require.NoError(t, chorus.Signal(ctx, eng, "s", done, struct{}{}))
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 103, got, "base 100 from the first start, then 1 and 2")
	_, err = chorus.SignalWithStart(ctx, eng, wf, 0, nil, add, 1)
	require.ErrorContains(t, err, "needs StartOptions.ID")
}

var progressQuery = workflow.NewQuery[string, string]("progress")

func TestQueryAnswersLiveAndFromReplayWithoutChangingTheJournal(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	step := addOne(&c, "step")
	next := workflow.NewSignal[struct{}]("next")
	wf := workflow.New("progress", func(ctx workflow.Context, _ int) (int, error) {
		n := 0
		workflow.SetQueryHandler(ctx, progressQuery, func(prefix string) (string, error) {
			return fmt.Sprintf("%s%d", prefix, n), nil
		})
		for range 2 {
			var err error
			if n, err = workflow.ExecuteActivity(ctx, step, n).Get(ctx); err != nil {
				return 0, err
			}
			workflow.GetSignalChannel(ctx, next).Receive(ctx)
		}
		return n, nil
	})
	blocking := workflow.NewQuery[struct{}, int]("blocking")
	wf2 := workflow.New("bad-query", func(ctx workflow.Context, _ int) (int, error) {
		workflow.SetQueryHandler(ctx, blocking, func(struct{}) (int, error) {
			workflow.Sleep(ctx, time.Second) // not allowed in a query
			return 0, nil
		})
		workflow.GetSignalChannel(ctx, next).Receive(ctx)
		return 0, nil
	})
	eng, path := setup(t, nil, wf, wf2, step)
	_, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "q"})
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, wf2, 0, &chorus.StartOptions{ID: "bad"})
	require.NoError(t, err)

	waitFor := func(want string) {
		for {
			got, err := chorus.Query(ctx, eng, "q", progressQuery, "n=")
			require.NoError(t, err)
			if got == want {
				return
			}
			runtimeGosched()
		}
	}
	waitFor("n=1")
	before, err := eng.Describe(ctx, "q")
	require.NoError(t, err)

	closeEngine(t, eng)
	eng = openEngine(t, path, nil, wf, wf2, step)
	got, err := chorus.Query(ctx, eng, "q", progressQuery, "after reopen: ")
	require.NoError(t, err)
	require.Equal(t, "after reopen: 1", got, "answered from a replay of the journal")
	after, err := eng.Describe(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, before.Events, after.Events, "queries never change the journal")

	_, err = chorus.Query(ctx, eng, "q", workflow.NewQuery[int, int]("nope"), 0)
	require.ErrorIs(t, err, chorus.ErrUnknownQuery)
	require.ErrorContains(t, err, "progress")
	_, err = chorus.Query(ctx, eng, "bad", blocking, struct{}{})
	require.ErrorIs(t, err, chorus.ErrQueryMisuse)
	_, err = chorus.Query(ctx, eng, "nobody", progressQuery, "")
	require.ErrorIs(t, err, chorus.ErrRunNotFound)

	require.NoError(t, chorus.Signal(ctx, eng, "q", next, struct{}{}))
	waitFor("n=2")
	require.NoError(t, chorus.Signal(ctx, eng, "q", next, struct{}{}))
	run, err := chorus.Lookup(ctx, eng, wf, "q")
	require.NoError(t, err)
	n, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, 2, c.get("q/step"))
	got, err = chorus.Query(ctx, eng, "q", progressQuery, "ended: ")
	require.NoError(t, err)
	require.Equal(t, "ended: 2", got, "a completed run is queried from its replay")
}

func TestGoroutinesChannelsSelectorAndWaitGroup(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	double := activity.New("double", func(ctx context.Context, n int) (int, error) {
		c.inc("double")
		return 2 * n, nil
	})
	wf := workflow.New("fan-out", func(ctx workflow.Context, n int) ([]int, error) {
		results := workflow.NewBufferedChannel[int](ctx, n)
		wg := workflow.NewWaitGroup(ctx)
		for i := range n {
			wg.Add(1)
			workflow.Go(ctx, func(ctx workflow.Context) {
				defer wg.Done()
				v, err := workflow.ExecuteActivity(ctx, double, i).Get(ctx)
				if err == nil {
					results.Send(ctx, v)
				}
			})
		}
		wg.Wait(ctx)
		results.Close()
		var out []int
		for {
			v, ok := results.Receive(ctx)
			if !ok {
				break
			}
			out = append(out, v)
		}
		// An unbuffered hand-off between two workflow goroutines.
		ping := workflow.NewChannel[string](ctx)
		workflow.Go(ctx, func(ctx workflow.Context) { ping.Send(ctx, "pong") })
		s, _ := ping.Receive(ctx)
		if s != "pong" {
			return nil, errors.New("unbuffered channel lost its value")
		}
		return out, nil
	})
	eng, _ := setup(t, &chorus.Options{CacheSize: 1}, wf, double)
	// Two runs with a cache of one force replays in the middle.
	runs := make([]*chorus.Run[[]int], 2)
	for i := range runs {
		var err error
		runs[i], err = chorus.Start(ctx, eng, wf, 10, nil)
		require.NoError(t, err)
	}
	for _, run := range runs {
		got, err := run.Result(ctx)
		require.NoError(t, err)
		require.Len(t, got, 10)
		sum := 0
		for _, v := range got {
			sum += v
		}
		require.Equal(t, 90, sum)
	}
	require.Equal(t, 20, c.get("double"), "each activity ran once despite replays")
}

func TestSelectorPicksFirstReadyInOrder(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	slow := activity.New("slow", func(ctx context.Context, _ int) (string, error) {
		<-ctx.Done() // never finishes on its own
		return "", ctx.Err()
	})
	wf := workflow.New("race", func(ctx workflow.Context, _ int) (string, error) {
		actCtx, cancel := workflow.WithCancel(ctx)
		work := workflow.ExecuteActivity(actCtx, slow, 0)
		timeout := workflow.NewTimer(ctx, time.Minute)
		var winner string
		workflow.NewSelector(ctx).
			AddFuture(work, func() { winner = "activity" }).
			AddFuture(timeout, func() { winner = "timer" }).
			Select(ctx)
		cancel()
		_, err := work.Get(ctx)
		if !errors.Is(err, workflow.ErrCanceled) {
			return "", fmt.Errorf("want a canceled activity, got %v", err)
		}
		return winner, nil
	})
	eng, _ := setup(t, &chorus.Options{Clock: mock}, wf, slow)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	mock.Add(time.Minute)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "timer", got)
}

func TestSideEffectsUUIDAndRandomAreStableUnderReplay(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var calls atomic.Int32
	next := workflow.NewSignal[struct{}]("next")
	seen := workflow.NewQuery[struct{}, string]("seen")
	wf := workflow.New("stable", func(ctx workflow.Context, _ int) (string, error) {
		id := workflow.NewUUID(ctx)
		n := workflow.NewRandom(ctx).IntN(1_000_000)
		flag := workflow.SideEffect(ctx, func() string { calls.Add(1); return "flag-on" })
		s := fmt.Sprintf("%s %d %s", id, n, flag)
		workflow.SetQueryHandler(ctx, seen, func(struct{}) (string, error) { return s, nil })
		workflow.GetSignalChannel(ctx, next).Receive(ctx)
		return s, nil
	})
	eng, path := setup(t, nil, wf)
	_, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "r"})
	require.NoError(t, err)
	live, err := chorus.Query(ctx, eng, "r", seen, struct{}{})
	require.NoError(t, err)
	closeEngine(t, eng)

	eng = openEngine(t, path, nil, wf)
	require.NoError(t, chorus.Signal(ctx, eng, "r", next, struct{}{}))
	run, err := chorus.Lookup(ctx, eng, wf, "r")
	require.NoError(t, err)
	replayed, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, live, replayed, "the replayed run returns the recorded values")
	require.EqualValues(t, 1, calls.Load(), "the side effect ran once, live")
}

func TestDisconnectedContextRunsCleanupAfterCancel(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	started := make(chan struct{}, 1)
	reserve := activity.New("reserve", func(ctx context.Context, _ int) (int, error) {
		started <- struct{}{}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	release := addOne(&c, "release")
	wf := workflow.New("cleanup", func(ctx workflow.Context, _ int) (int, error) {
		_, err := workflow.ExecuteActivity(ctx, reserve, 0).Get(ctx)
		if errors.Is(err, workflow.ErrCanceled) {
			cleanup := workflow.NewDisconnectedContext(ctx)
			if _, cerr := workflow.ExecuteActivity(cleanup, release, 0).Get(cleanup); cerr != nil {
				return 0, cerr
			}
			if !errors.Is(ctx.Err(), workflow.ErrCanceled) || cleanup.Err() != nil {
				return 0, errors.New("wrong context states")
			}
		}
		return 0, err
	})
	eng, _ := setup(t, nil, wf, reserve, release)
	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "d"})
	require.NoError(t, err)
	recv(t, started, "reserve to start")
	require.NoError(t, run.Cancel(ctx))
	_, err = run.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.Equal(t, 1, c.get("d/release"), "the cleanup activity ran in the disconnected context")
}
