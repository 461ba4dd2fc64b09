package ui_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

var (
	Customer = chorus.NewKeyword("customer")
	Total    = chorus.NewInt("total")
	Approve  = workflow.NewSignal[map[string]string]("approve")
)

// fixture is a database filled by real runs and the engine that owns it.
type fixture struct {
	path string
	eng  *chorus.Engine
}

// newFixture fills a database with: a completed order, a run whose
// activity failed for good at its second attempt, a run blocked by a
// panic, a run blocked by a divergence (recorded timer, issued activity),
// a trip whose saga compensated, orders with search attributes, a parent
// with a child, and runs waiting for a signal (to act on).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	mock := clock.NewMock()
	mock.Set(t0)
	path := filepath.Join(t.TempDir(), "chorus.db")

	work := activity.New("work", func(ctx context.Context, s int) (int, error) {
		mock.Add(time.Duration(s) * time.Second)
		return s * 2, nil
	})
	flaky := activity.New("reserve", func(ctx context.Context, item string) (string, error) {
		mock.Add(time.Second)
		return "", fmt.Errorf("inventory down on attempt %d", activity.GetInfo(ctx).Attempt)
	})
	decline := activity.New("decline", func(ctx context.Context, card string) (string, error) {
		return "", activity.NonRetryable(activity.NewError("card-declined", "card %s declined", card))
	})
	undo := activity.New("undo", func(ctx context.Context, what string) (string, error) {
		return "undone " + what, nil
	})
	order := workflow.New("order", func(ctx workflow.Context, secs int) (int, error) {
		return workflow.ExecuteActivity(ctx, work, secs).Get(ctx)
	})
	reserve := workflow.New("reserve", func(ctx workflow.Context, item string) (string, error) {
		actx := workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: &activity.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 2}})
		return workflow.ExecuteActivity(actx, flaky, item).Get(ctx)
	})
	restock := workflow.New("restock", func(ctx workflow.Context, item string) (string, error) {
		actx := workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: &activity.RetryPolicy{InitialInterval: time.Hour}})
		return workflow.ExecuteActivity(actx, flaky, item).Get(ctx)
	})
	broken := workflow.New("broken", func(ctx workflow.Context, n int) (int, error) {
		if _, err := workflow.ExecuteActivity(ctx, work, 0).Get(ctx); err != nil {
			return 0, err
		}
		panic("index out of range in pricing rules")
	})
	trip := workflow.New("trip", func(ctx workflow.Context, dest string) (_ string, err error) {
		s := saga.New(ctx, &saga.Options{Name: "trip"})
		defer s.CompensateOnError(&err)
		if err := saga.Add(s, undo, "flight to "+dest); err != nil {
			return "", err
		}
		if err := saga.Add(s, undo, "hotel in "+dest); err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, decline, "4242").Get(ctx)
	})
	checkout := workflow.New("checkout", func(ctx workflow.Context, total int64) (string, error) {
		if err := workflow.UpsertSearchAttributes(ctx, Customer.Value("acme"), Total.Value(total)); err != nil {
			return "", err
		}
		if err := workflow.UpsertMemo(ctx, "note", "gift wrap"); err != nil {
			return "", err
		}
		return "shipped", nil
	})
	child := workflow.New("child", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, work, n).Get(ctx)
	})
	parent := workflow.New("parent", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteChildWorkflow(ctx, child, n, &workflow.ChildOptions{ID: "parent-1-child"}).Get(ctx)
	})
	approval := workflow.New("approval", func(ctx workflow.Context, item string) (string, error) {
		// Signals wait in the channel; the timer is what a cancel ends.
		if err := workflow.Sleep(ctx, 24*time.Hour); err != nil {
			return "", err
		}
		v, _ := workflow.GetSignalChannel(ctx, Approve).Receive(ctx)
		return item + " approved by " + v["by"], nil
	})
	oldCode := workflow.New("upgrade", func(ctx workflow.Context, n int) (int, error) {
		return n, workflow.Sleep(ctx, time.Hour)
	})
	newCode := workflow.New("upgrade", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, work, n).Get(ctx)
	})
	quiet := slog.New(slog.DiscardHandler)
	old, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock, Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, old.Register(oldCode))
	_, err = chorus.Start(ctx, old, oldCode, 1, &chorus.StartOptions{ID: "upgrade-1"})
	require.NoError(t, err)
	require.NoError(t, old.Close(ctx))

	eng, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Close(cctx)
	})
	require.NoError(t, eng.Register(order, reserve, restock, broken, trip, checkout, child, parent, approval, newCode, work, flaky, decline, undo))
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancel)

	r1, err := chorus.Start(tctx, eng, order, 2, &chorus.StartOptions{ID: "order-1"})
	require.NoError(t, err)
	_, err = r1.Result(tctx)
	require.NoError(t, err)

	// The retry waits a second of fake time: advance the clock until the
	// run ends.
	rr, err := chorus.Start(tctx, eng, reserve, "chair", &chorus.StartOptions{ID: "reserve-1"})
	require.NoError(t, err)
	ended := make(chan error, 1)
	go func() { _, err := rr.Result(tctx); ended <- err }()
	for wait := true; wait; {
		select {
		case err := <-ended:
			require.Error(t, err)
			wait = false
		case <-time.After(2 * time.Millisecond):
			mock.Add(time.Second)
		}
	}

	rb, err := chorus.Start(tctx, eng, broken, 1, &chorus.StartOptions{ID: "broken-1"})
	require.NoError(t, err)
	_, err = rb.Result(tctx)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)

	rt, err := chorus.Start(tctx, eng, trip, "Lisbon", &chorus.StartOptions{ID: "trip-1"})
	require.NoError(t, err)
	_, err = rt.Result(tctx)
	require.Error(t, err)

	for i, total := range []int64{120, 40} {
		rc, err := chorus.Start(tctx, eng, checkout, total, &chorus.StartOptions{ID: fmt.Sprintf("checkout-%d", i+1)})
		require.NoError(t, err)
		_, err = rc.Result(tctx)
		require.NoError(t, err)
	}

	rp, err := chorus.Start(tctx, eng, parent, 3, &chorus.StartOptions{ID: "parent-1"})
	require.NoError(t, err)
	_, err = rp.Result(tctx)
	require.NoError(t, err)

	// The diverged run is blocked once the new code replays it, which a
	// signal makes it do.
	if err := chorus.Signal(tctx, eng, "upgrade-1", Approve, map[string]string{"by": "bob"}); err != nil {
		require.ErrorIs(t, err, chorus.ErrRunBlocked)
	}
	require.NoError(t, testutil.AwaitStatus(tctx, eng, "upgrade-1", chorus.StatusBlocked))

	for _, id := range []string{"approval-1", "approval-2", "approval-3"} {
		_, err = chorus.Start(tctx, eng, approval, "desk", &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}

	// A step that retries, an hour of fake time away from its second
	// attempt.
	_, err = chorus.Start(tctx, eng, restock, "lamp", &chorus.StartOptions{ID: "restock-1"})
	require.NoError(t, err)
	st, err := sqlite.OpenReadOnly(tctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, testutil.Await(tctx, eng, "restock-1 to retry", func() (bool, error) {
		tasks, err := st.Tasks(tctx)
		return slices.ContainsFunc(tasks, func(tk history.Task) bool { return tk.RunID == "restock-1" && tk.Attempt == 2 }), err
	}))
	return &fixture{path: path, eng: eng}
}

// waitStatus waits until run id has status want.
func (f *fixture) waitStatus(t *testing.T, id string, want chorus.RunStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, testutil.AwaitStatus(ctx, f.eng, id, want))
}
