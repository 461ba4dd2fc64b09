package chorustest_test

import (
	"errors"
	"fmt"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

func claimEnv(t *stdtesting.T, opts *chorustest.Options) *chorustest.Env {
	var o chorustest.Options
	if opts != nil {
		o = *opts
	}
	o.Definitions = append(o.Definitions, Claim, Escalate)
	return chorustest.New(t, &o)
}

func TestThirtyDaysAreSkipped(t *stdtesting.T) {
	t.Parallel()
	env := claimEnv(t, nil)
	wall := time.Now()
	run := chorustest.Start(env, Claim, "claim-1", &chorus.StartOptions{ID: "claim-1"})
	got, err := chorustest.Result(env, run)
	took := time.Since(wall)
	require.NoError(t, err)
	require.Equal(t, "escalated claim-1", got)
	require.Equal(t, approvalWindow, env.Elapsed(), "the clock jumped to the timeout and no further")
	require.Equal(t, env.StartTime().Add(approvalWindow), env.Now())
	require.Equal(t, []string{"escalate"}, env.ActivitiesRun("claim-1"))
	t.Logf("30 days of fake time took %v of wall time", took) // reported, never asserted
}

func TestAtSignalsBeforeTheTimeout(t *stdtesting.T) {
	t.Parallel()
	env := claimEnv(t, nil)
	run := chorustest.Start(env, Claim, "claim-2", &chorus.StartOptions{ID: "claim-2"})
	var signaledAt time.Duration
	env.At(47*time.Hour, func() {
		signaledAt = env.Elapsed()
		chorustest.Signal(env, "claim-2", Approve, Decision{Approved: true, By: "ana"})
	})
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "claim-2: approved=true by ana", got)
	require.Equal(t, 47*time.Hour, signaledAt, "the callback ran at its fake time")
	require.Equal(t, 47*time.Hour, env.Elapsed(), "once approved, the 30-day timer no longer matters")
	require.Empty(t, env.ActivitiesRun("claim-2"))
}

// A timer due at the same instant as an env.At callback fires first, and
// its consequences happen before the callback runs.
func TestAtRunsAfterTimersDueAtTheSameInstant(t *stdtesting.T) {
	t.Parallel()
	env := claimEnv(t, nil)
	run := chorustest.Start(env, Claim, "claim-3", &chorus.StartOptions{ID: "claim-3"})
	var signalErr error
	env.At(approvalWindow, func() {
		signalErr = chorus.Signal(t.Context(), env.Engine(), "claim-3", Approve, Decision{Approved: true})
	})
	env.Advance(approvalWindow + time.Hour)
	require.ErrorIs(t, signalErr, chorus.ErrRunEnded, "the run escalated before the callback ran")
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "escalated claim-3", got)
	require.Equal(t, approvalWindow+time.Hour, env.Elapsed())
}

// Tick records workflow.Now at each of n daily wake-ups.
var Tick = workflow.New("tick", func(ctx workflow.Context, n int) ([]time.Duration, error) {
	start := workflow.Now(ctx)
	var at []time.Duration
	for range n {
		if err := workflow.Sleep(ctx, 24*time.Hour); err != nil {
			return at, err
		}
		at = append(at, workflow.Now(ctx).Sub(start))
	}
	return at, nil
})

var Progress = workflow.NewQuery[struct{}, int]("progress")

// Days sleeps one day at a time and answers how many days have passed.
var Days = workflow.New("days", func(ctx workflow.Context, n int) (int, error) {
	days := 0
	workflow.SetQueryHandler(ctx, Progress, func(struct{}) (int, error) { return days, nil })
	for days < n {
		if err := workflow.Sleep(ctx, 24*time.Hour); err != nil {
			return days, err
		}
		days++
	}
	return days, nil
})

func TestAdvanceFiresEachTimerInOrder(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Days}})
	chorustest.Start(env, Days, 30, &chorus.StartOptions{ID: "days"})
	ask := func() int {
		n, err := chorustest.Query(env, "days", Progress, struct{}{})
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 0, ask())
	env.Advance(29*24*time.Hour + 23*time.Hour)
	require.Equal(t, 29, ask(), "each daily timer fired, one after the other")
	require.Equal(t, chorus.StatusRunning, env.Describe("days").Status)
	env.Advance(time.Hour)
	require.Equal(t, chorus.StatusCompleted, env.Describe("days").Status)
	require.Equal(t, 30*24*time.Hour, env.Elapsed())
	env.Advance(0)
	require.Equal(t, 30*24*time.Hour, env.Elapsed())
}

func TestResultRecordsTheFakeTimes(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Tick}, InMemory: true})
	require.Empty(t, env.Path())
	run := chorustest.Start(env, Tick, 3, nil)
	at, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{24 * time.Hour, 48 * time.Hour, 72 * time.Hour}, at)
}

var Hello = workflow.NewSignal[string]("hello")

// Greet waits for a signal, with no timeout.
var Greet = workflow.New("greet", func(ctx workflow.Context, _ struct{}) (string, error) {
	name, _ := workflow.GetSignalChannel(ctx, Hello).Receive(ctx)
	return "hello " + name, nil
})

func TestResultReportsAStall(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Greet}})
	run := chorustest.Start(env, Greet, struct{}{}, &chorus.StartOptions{ID: "greet"})
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorustest.ErrStalled)
	require.Contains(t, err.Error(), `"greet"`)
	require.Zero(t, env.Elapsed())

	chorustest.Signal(env, "greet", Hello, "ana")
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "hello ana", got)
}

func TestAwait(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Days}})
	chorustest.Start(env, Days, 10, &chorus.StartOptions{ID: "days"})
	require.NoError(t, env.Await(func() bool { return env.Elapsed() >= 3*24*time.Hour }))
	require.Equal(t, 3*24*time.Hour, env.Elapsed(), "time stops as soon as the condition holds")
	n, err := chorustest.Query(env, "days", Progress, struct{}{})
	require.NoError(t, err)
	require.Equal(t, 3, n)

	err = env.Await(func() bool { return false })
	require.ErrorIs(t, err, chorustest.ErrStalled, "the run ended and nothing else is due")
	require.Equal(t, 10*24*time.Hour, env.Elapsed())
}

func TestCancel(t *stdtesting.T) {
	t.Parallel()
	env := claimEnv(t, nil)
	run := chorustest.Start(env, Claim, "claim-4", &chorus.StartOptions{ID: "claim-4"})
	env.At(24*time.Hour, func() { env.Cancel("claim-4") })
	_, err := chorustest.Result(env, run)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Canceled, "%v", err)
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.Equal(t, 24*time.Hour, env.Elapsed())
}

// Many runs with timers at different times, waited for from several
// goroutines at once.
func TestConcurrentWaits(t *stdtesting.T) {
	t.Parallel()
	env := claimEnv(t, nil)
	const n = 8
	runs := make([]*chorus.Run[string], n)
	for i := range n {
		id := fmt.Sprintf("claim-%d", i)
		runs[i] = chorustest.Start(env, Claim, id, &chorus.StartOptions{ID: id})
		if i%2 == 0 {
			env.At(time.Duration(i+1)*time.Hour, func() {
				chorustest.Signal(env, id, Approve, Decision{Approved: true, By: "bot"})
			})
		}
	}
	errs := make(chan error, n)
	for i := range n {
		go func() {
			got, err := chorustest.Result(env, runs[i])
			want := fmt.Sprintf("claim-%d: approved=true by bot", i)
			if i%2 == 1 {
				want = fmt.Sprintf("escalated claim-%d", i)
			}
			if err == nil && got != want {
				err = fmt.Errorf("run %d: got %q, want %q", i, got, want)
			}
			errs <- err
		}()
	}
	var all []error
	for range n {
		all = append(all, <-errs)
	}
	require.NoError(t, errors.Join(all...))
	require.Equal(t, approvalWindow, env.Elapsed())
}

// A callback may inspect the env: it sees everything due by its time.
func TestAtCallbackMayInspect(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Days}})
	run := chorustest.Start(env, Days, 5, &chorus.StartOptions{ID: "days"})
	var seen []int
	for day := range 5 {
		env.At(time.Duration(day)*24*time.Hour+time.Hour, func() {
			n, err := chorustest.Query(env, "days", Progress, struct{}{})
			require.NoError(t, err)
			seen = append(seen, n)
			require.Equal(t, chorus.StatusRunning, env.Describe("days").Status)
		})
	}
	n, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	require.Equal(t, []int{0, 1, 2, 3, 4}, seen)
}
