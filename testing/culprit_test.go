package chorustest_test

import (
	"context"
	"errors"
	"sync/atomic"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// Ticker sleeps an hour at a time, forever: a run that always has a timer
// due, so an env wait never runs out of time to skip.
var Ticker = workflow.New("ticker", func(ctx workflow.Context, _ int) (int, error) {
	for {
		if err := workflow.Sleep(ctx, time.Hour); err != nil {
			return 0, err
		}
	}
})

// A run that calls an activity that is neither registered nor mocked makes
// Result fail at once, naming the activity, even while other runs keep
// time moving.
func TestUnregisteredActivityFailsFast(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{PlaceOrder, Ticker}, InMemory: true, Timeout: 5 * time.Second})
	chorustest.Start(env, Ticker, 0, &chorus.StartOptions{ID: "ticker"})
	_, err := chorustest.Result(env, chorustest.Start(env, PlaceOrder, Order{ID: "o"}, &chorus.StartOptions{ID: "o"}))
	require.ErrorIs(t, err, chorus.ErrNotRegistered)
	require.ErrorIs(t, err, chorustest.ErrStalled)
	require.ErrorContains(t, err, `run "o" waits for activity "charge" (step 2, attempt 1), which is not registered`)
	require.Zero(t, env.Elapsed(), "no time was skipped first")
}

var Unregistered = workflow.New("unregistered-child", func(ctx workflow.Context, n int) (int, error) { return n, nil })

var Parent = workflow.New("parent", func(ctx workflow.Context, n int) (int, error) {
	return workflow.ExecuteChildWorkflow(ctx, Unregistered, n, &workflow.ChildOptions{ID: "kid"}).Get(ctx)
})

// The same for a child workflow that is neither registered nor mocked.
func TestUnregisteredChildFailsFast(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Parent}, InMemory: true})
	run := chorustest.Start(env, Parent, 1, &chorus.StartOptions{ID: "p"})
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorus.ErrNotRegistered)
	require.ErrorContains(t, err, `run "p" waits for workflow "unregistered-child" of child run "kid" (step 2), which is not registered`)
	require.Equal(t, []chorus.Unregistered{{Kind: "workflow", Name: "unregistered-child", Step: 2, Child: "kid"}},
		env.Describe("p").Unregistered)

	chorustest.OnWorkflow(env, Unregistered).Return(7, nil)
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, 7, got)
}

// A wait that times out while an activity fails attempt after attempt names
// the activity, its attempt and the last attempt's error.
func TestTimeoutNamesTheFailingActivity(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{PlaceOrder, Charge, Ship}, InMemory: true,
		Timeout: 300 * time.Millisecond})
	chorustest.OnActivity(env, Charge).ReturnError(errors.New("card declined"))
	_, err := chorustest.Result(env, chorustest.Start(env, PlaceOrder, Order{ID: "o"}, &chorus.StartOptions{ID: "o"}))
	require.ErrorContains(t, err, "gave up after 300ms of wall time")
	require.Regexp(t, `runs not ended: "o" \(workflow "place-order"\) running, waiting for: activity "charge" \(step 2\) attempt \d+ `+
		`(running|queued|due at \+\S+) \(last error: card declined\)`, err.Error())
}

// The same for an activity whose attempt does not return.
func TestTimeoutNamesTheRunningActivity(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{PlaceOrder, Charge, Ship}, InMemory: true,
		Timeout: 200 * time.Millisecond})
	var attempts atomic.Int32
	chorustest.OnActivity(env, Charge).Do(func(ctx context.Context, o Order) (Receipt, error) {
		if attempts.Add(1) == 1 {
			return Receipt{}, errors.New("gateway busy")
		}
		<-ctx.Done() // stuck until the engine closes
		return Receipt{}, ctx.Err()
	})
	_, err := chorustest.Result(env, chorustest.Start(env, PlaceOrder, Order{ID: "o"}, &chorus.StartOptions{ID: "o"}))
	require.ErrorContains(t, err, `waiting for: activity "charge" (step 2) attempt 2 running (last error: gateway busy)`)
}

// A wait that times out while a parent waits for its child names the
// child and what the child waits for.
func TestTimeoutNamesTheChild(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Parent, PlaceOrder, Charge, Ship}, InMemory: true,
		Timeout: 200 * time.Millisecond})
	chorustest.OnWorkflow(env, Unregistered).Do(func(ctx workflow.Context, n int) (int, error) {
		_, err := workflow.ExecuteActivity(ctx, Charge, Order{ID: "kid"}).Get(ctx)
		return n, err
	})
	chorustest.OnActivity(env, Charge).Do(func(ctx context.Context, o Order) (Receipt, error) {
		<-ctx.Done()
		return Receipt{}, ctx.Err()
	})
	_, err := chorustest.Result(env, chorustest.Start(env, Parent, 1, &chorus.StartOptions{ID: "p"}))
	require.ErrorContains(t, err, `"p" (workflow "parent") running, waiting for: child run "kid" (workflow "unregistered-child", step 2)`)
	require.ErrorContains(t, err, `"kid" (workflow "unregistered-child") running, waiting for: activity "charge" (step 2) attempt 1 running`)
}

var (
	hangOnReplay  atomic.Bool
	releaseReplay = make(chan struct{})
)

// HangsOnReplay blocks in plain Go when hangOnReplay is set: a workflow
// whose replay does not finish.
var HangsOnReplay = workflow.New("hangs-on-replay", func(ctx workflow.Context, n int) (int, error) {
	if hangOnReplay.Load() {
		<-releaseReplay
	}
	return n, nil
})

// The replay check at the end of the test gives up after Options.Timeout,
// naming the run whose replay does not finish.
func TestReplayCheckIsBounded(t *stdtesting.T) {
	ft := newFakeTB(t)
	env := chorustest.New(ft, &chorustest.Options{Definitions: []chorus.Definition{HangsOnReplay}, InMemory: true, Timeout: 200 * time.Millisecond})
	_, err := chorustest.Result(env, chorustest.Start(env, HangsOnReplay, 1, &chorus.StartOptions{ID: "h"}))
	require.NoError(t, err)
	hangOnReplay.Store(true)
	defer close(releaseReplay) // lets the abandoned replay end
	defer hangOnReplay.Store(false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ft.finish()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the end of the test hangs in the replay check")
	}
	require.Contains(t, ft.errors(), `replaying run "h" (workflow "hangs-on-replay") did not finish within 200ms of wall time`)
}
