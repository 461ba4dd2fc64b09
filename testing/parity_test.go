package chorustest_test

import (
	"context"
	"errors"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

var slowQuote = activity.New("parity-quote", func(_ context.Context, item string) (int, error) { return len(item), nil })

// raceQuote races a quote against a one-hour timer and reports which came
// first and when the quote arrived, in workflow time.
var raceQuote = newRaceQuote("parity-race", nil)

func newRaceQuote(name string, opts *activity.Options) *workflow.Definition[string, []string] {
	return workflow.New(name, func(ctx workflow.Context, item string) ([]string, error) {
		if opts != nil {
			ctx = workflow.WithActivityOptions(ctx, *opts)
		}
		return raceQuoteCode(ctx, item)
	})
}

func raceQuoteCode(ctx workflow.Context, item string) ([]string, error) {
	start := workflow.Now(ctx)
	var got []string
	q := workflow.ExecuteActivity(ctx, slowQuote, item)
	timer := workflow.NewTimer(ctx, time.Hour)
	workflow.Go(ctx, func(ctx workflow.Context) {
		_, _ = timer.Get(ctx)
		got = append(got, "timer")
	})
	_, err := q.Get(ctx)
	got = append(got, "quote")
	took := workflow.Now(ctx).Sub(start).String()
	workflow.Await(ctx, func() bool { return len(got) == 2 })
	if err != nil {
		return append(got, took+" error: "+err.Error()), nil
	}
	return append(got, took), nil
}

func parityEnv(t *stdtesting.T, defs ...chorus.Definition) *chorustest.Env {
	return chorustest.New(t, &chorustest.Options{Definitions: defs, Timeout: 10 * time.Second})
}

// TestMockActivityAfter: a mock that takes two hours of fake time answers
// after a one-hour timer, two hours later in workflow time.
func TestMockActivityAfter(t *stdtesting.T) {
	t.Parallel()
	env := parityEnv(t, raceQuote, slowQuote)
	m := chorustest.OnActivity(env, slowQuote).After(2*time.Hour).Return(42, nil)
	got, err := chorustest.Result(env, chorustest.Start(env, raceQuote, "tea", nil))
	require.NoError(t, err)
	require.Equal(t, []string{"timer", "quote", "2h0m0s"}, got)
	require.Equal(t, 2*time.Hour, env.Elapsed())
	require.Equal(t, 1, m.Calls())
}

// TestMockActivityAfterRunsRealActivity: a mock with After and no answer
// runs the real activity once the time passed.
func TestMockActivityAfterRunsRealActivity(t *stdtesting.T) {
	t.Parallel()
	env := parityEnv(t, raceQuote, slowQuote)
	chorustest.OnActivity(env, slowQuote).After(30 * time.Minute)
	got, err := chorustest.Result(env, chorustest.Start(env, raceQuote, "tea", nil))
	require.NoError(t, err)
	require.Equal(t, []string{"quote", "timer", "30m0s"}, got)
	require.Equal(t, time.Hour, env.Elapsed(), "the run waited for its timer too")
}

// TestMockActivityAfterTimesOut: a mock slower than the activity's
// start-to-close timeout times out there, on the fake clock.
func TestMockActivityAfterTimesOut(t *stdtesting.T) {
	t.Parallel()
	wf := newRaceQuote("parity-race-timeout", &activity.Options{StartToCloseTimeout: 10 * time.Minute, RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 1}})
	env := parityEnv(t, wf, slowQuote)
	chorustest.OnActivity(env, slowQuote).After(2*time.Hour).Return(42, nil)
	got, err := chorustest.Result(env, chorustest.Start(env, wf, "tea", nil))
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, "quote", got[0], "%q", got)
	require.Contains(t, got[2], "10m0s error: ")
	require.Contains(t, got[2], "start-to-close timeout of 10m0s")
	require.Equal(t, time.Hour, env.Elapsed(), "the quote failed at +10m; the timer fired at +1h; nothing waited for +2h")
}

// TestMockActivityAfterCanceled: canceling the run while a slow mock waits
// ends the attempt there; the env keeps skipping time afterwards.
func TestMockActivityAfterCanceled(t *stdtesting.T) {
	t.Parallel()
	wf := workflow.New("parity-cancel", func(ctx workflow.Context, item string) (string, error) {
		_, err := workflow.ExecuteActivity(ctx, slowQuote, item).Get(ctx)
		if !errors.Is(err, workflow.ErrCanceled) {
			return "", err
		}
		// Clean up for three hours, then report the cancellation.
		if err := workflow.Sleep(workflow.NewDisconnectedContext(ctx), 3*time.Hour); err != nil {
			return "", err
		}
		return "", err
	})
	env := parityEnv(t, wf, slowQuote)
	chorustest.OnActivity(env, slowQuote).After(24*time.Hour).Return(1, nil)
	run := chorustest.Start(env, wf, "tea", nil)
	env.At(time.Hour, func() { env.Cancel(run.ID()) })
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.Equal(t, 4*time.Hour, env.Elapsed())
}

var quoteChild = workflow.New("parity-child", func(ctx workflow.Context, item string) (int, error) { return len(item), nil })

// TestMockWorkflowAfter: a mocked child answers three hours later in the
// parent's workflow time.
func TestMockWorkflowAfter(t *stdtesting.T) {
	t.Parallel()
	parent := workflow.New("parity-parent", func(ctx workflow.Context, item string) (string, error) {
		start := workflow.Now(ctx)
		n, err := workflow.ExecuteChildWorkflow(ctx, quoteChild, item, nil).Get(ctx)
		return time.Duration(n).String() + " after " + workflow.Now(ctx).Sub(start).String(), err
	})
	env := parityEnv(t, parent, quoteChild)
	m := chorustest.OnWorkflow(env, quoteChild).After(3*time.Hour).Once().Return(7, nil)
	got, err := chorustest.Result(env, chorustest.Start(env, parent, "tea", nil))
	require.NoError(t, err)
	require.Equal(t, "7ns after 3h0m0s", got)
	require.Equal(t, 1, m.Calls())

	// Without an answer, the real child runs after the wait.
	chorustest.OnWorkflow(env, quoteChild).After(time.Hour)
	got, err = chorustest.Result(env, chorustest.Start(env, parent, "coffee", nil))
	require.NoError(t, err)
	require.Equal(t, "6ns after 1h0m0s", got)
}

var parityPing = workflow.NewSignal[string]("parity-ping")

// pinger signals each run of its input and reports what each send gave.
var pinger = workflow.New("parity-pinger", func(ctx workflow.Context, targets []string) ([]string, error) {
	var out []string
	for _, id := range targets {
		err := workflow.Wait(ctx, workflow.SignalExternal(ctx, id, parityPing, "ping "+id))
		switch {
		case err == nil:
			out = append(out, id+": ok")
		case errors.Is(err, chorus.ErrRunNotFound):
			out = append(out, id+": not found")
		default:
			out = append(out, id+": "+err.Error())
		}
	}
	return out, nil
})

var ponger = workflow.New("parity-ponger", func(ctx workflow.Context, _ string) (string, error) {
	v, _ := workflow.GetSignalChannel(ctx, parityPing).Receive(ctx)
	return v, nil
})

// TestOnSignalExternal: signals to other runs are answered by mocks (the
// target need not exist), a mock can report the target missing, and a
// signal no mock answers, or one a spy counts, is delivered for real.
func TestOnSignalExternal(t *stdtesting.T) {
	t.Parallel()
	env := parityEnv(t, pinger, ponger)
	gone := chorustest.OnSignalExternal(env, parityPing).When(func(id, _ string) bool { return id == "gone" }).Return(chorus.ErrRunNotFound)
	spy := chorustest.OnSignalExternal(env, parityPing).When(func(id, _ string) bool { return id == "real" })
	ok := chorustest.OnSignalExternal(env, parityPing).When(func(id, _ string) bool { return id != "real-2" }).Return(nil)
	pong := chorustest.Start(env, ponger, "", &chorus.StartOptions{ID: "real"})
	pong2 := chorustest.Start(env, ponger, "", &chorus.StartOptions{ID: "real-2"})

	got, err := chorustest.Result(env, chorustest.Start(env, pinger, []string{"elsewhere", "gone", "real", "real-2"}, nil))
	require.NoError(t, err)
	require.Equal(t, []string{"elsewhere: ok", "gone: not found", "real: ok", "real-2: ok"}, got)
	require.Equal(t, []string{"elsewhere"}, ok.Targets())
	require.Equal(t, []string{"ping gone"}, gone.Values())
	require.Equal(t, 1, spy.Calls())
	for _, r := range []*chorus.Run[string]{pong, pong2} {
		v, err := chorustest.Result(env, r)
		require.NoError(t, err)
		require.Equal(t, "ping "+r.ID(), v)
	}
}

var parityAsk = workflow.NewQuery[string, string]("parity-ask")

// waiter answers queries with what it received, and ends on a signal.
var waiter = workflow.New("parity-waiter", func(ctx workflow.Context, _ string) (string, error) {
	var seen []string
	workflow.SetQueryHandler(ctx, parityAsk, func(string) (string, error) {
		return workflow.Now(ctx).Format(time.TimeOnly) + " " + time.Duration(len(seen)).String(), nil
	})
	ch := workflow.GetSignalChannel(ctx, parityPing)
	for {
		workflow.Await(ctx, func() bool { return ch.Len() > 0 || ctx.Err() != nil })
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		v, _ := ch.Receive(ctx)
		seen = append(seen, v)
		if v == "stop" {
			return workflow.Now(ctx).Format(time.TimeOnly), nil
		}
	}
})

// TestEnvAtEveryInput: env.At callbacks drive every kind of input at their
// fake time: a start, a signal-with-start, a signal, a query, a
// cancellation and a termination.
func TestEnvAtEveryInput(t *stdtesting.T) {
	t.Parallel()
	env := parityEnv(t, waiter)
	var started *chorus.Run[string]
	var answers []string
	env.At(time.Hour, func() { started = chorustest.Start(env, waiter, "", &chorus.StartOptions{ID: "w-start"}) })
	env.At(2*time.Hour, func() {
		chorustest.SignalWithStart(env, waiter, "", &chorus.StartOptions{ID: "w-sws"}, parityPing, "hello")
		chorustest.Start(env, waiter, "", &chorus.StartOptions{ID: "w-cancel"})
		chorustest.Start(env, waiter, "", &chorus.StartOptions{ID: "w-term"})
	})
	env.At(3*time.Hour, func() {
		chorustest.Signal(env, "w-start", parityPing, "one")
		a, err := chorustest.Query(env, "w-start", parityAsk, "")
		require.NoError(t, err)
		answers = append(answers, a)
		a, err = chorustest.Query(env, "w-sws", parityAsk, "")
		require.NoError(t, err)
		answers = append(answers, a)
	})
	env.At(4*time.Hour, func() {
		env.Cancel("w-cancel")
		env.Terminate("w-term", "enough")
		chorustest.Signal(env, "w-start", parityPing, "stop")
		chorustest.Signal(env, "w-sws", parityPing, "stop")
	})
	require.NoError(t, env.Await(func() bool { return env.Elapsed() >= 4*time.Hour }))
	require.NotNil(t, started)
	got, err := chorustest.Result(env, started)
	require.NoError(t, err)
	require.Equal(t, "04:00:00", got)
	require.Equal(t, []string{"03:00:00 1ns", "02:00:00 1ns"}, answers, "queries see the signals of their time")
	sws, err := chorus.Lookup(context.Background(), env.Engine(), waiter, "w-sws")
	require.NoError(t, err)
	got, err = chorustest.Result(env, sws)
	require.NoError(t, err)
	require.Equal(t, "04:00:00", got)
	require.Equal(t, chorus.StatusCanceled, env.Describe("w-cancel").Status)
	require.Equal(t, chorus.StatusTerminated, env.Describe("w-term").Status)
}
