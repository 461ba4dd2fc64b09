package engine

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/activity"
)

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	p := (&activity.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second}).WithDefaults()
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 500: 10 * time.Second} {
		for range 20 {
			got := backoff(p, attempt)
			require.LessOrEqual(t, got, want, "attempt %d", attempt)
			require.GreaterOrEqual(t, got, want*8/10, "jitter takes at most 20%% off (attempt %d)", attempt)
		}
	}
}

func TestFinalFailure(t *testing.T) {
	t.Parallel()
	p := &activity.RetryPolicy{MaximumAttempts: 3, NonRetryableErrorTypes: []string{"fatal"}}
	require.False(t, finalFailure(p, 1, errors.New("x")))
	require.True(t, finalFailure(p, 3, errors.New("x")))
	require.True(t, finalFailure(p, 1, activity.NewError("fatal", "no")))
	require.True(t, finalFailure(p, 1, activity.NonRetryable(errors.New("x"))))
	require.False(t, finalFailure(&activity.RetryPolicy{}, 1_000_000, errors.New("x")), "0 attempts means no limit")
}

func TestFailureOf(t *testing.T) {
	t.Parallel()
	require.Nil(t, FailureOf(nil))
	f := FailureOf(fmt.Errorf("stop: %w", ErrCanceled))
	require.Equal(t, FailureTypeCanceled, f.Type)
	f = FailureOf(&TimeoutError{Activity: "a", Timeout: time.Second})
	require.Equal(t, FailureTypeTimeout, f.Type)
	nde := &NonDeterminismError{RunID: "r", Workflow: "w", Step: 7, Recorded: "x", Issued: "y"}
	f = FailureOf(fmt.Errorf("blocked: %w", nde))
	require.Equal(t, FailureTypeNonDeterminism, f.Type)
	require.Equal(t, nde, BlockedCause(f), "a non-determinism error survives the journal field by field")
	require.Nil(t, BlockedCause(FailureOf(errors.New("other"))))
}

// A coroutine parked in Await is unwound by kill: its deferred calls run,
// and workflow API calls made from them exit instead of blocking.
func TestKillUnwindsParkedCoroutines(t *testing.T) {
	t.Parallel()
	r := &Run{}
	var order []string
	r.spawn(func() {
		defer func() { order = append(order, "first deferred") }()
		defer func() {
			order = append(order, "second deferred")
			r.Await(never) // exits at once: the run is being killed
			order = append(order, "unreachable")
		}()
		order = append(order, "first runs")
		r.Await(never)
	})
	r.spawn(func() {
		order = append(order, "second runs")
		r.Await(never)
	})
	r.runUntilBlocked()
	require.Equal(t, []string{"first runs", "second runs"}, order, "coroutines run in creation order")
	r.kill()
	require.Equal(t, []string{"first runs", "second runs", "second deferred", "first deferred"}, order)
	require.Empty(t, r.cos)
}

// Coroutines resume in creation order every pass, whatever Go's scheduler
// does, so the interleaving is the same on every replay.
func TestSchedulerOrderIsDeterministic(t *testing.T) {
	t.Parallel()
	for range 50 {
		r := &Run{}
		var trace []int
		turn := 0
		for id := range 4 {
			r.spawn(func() {
				for step := range 3 {
					want := step*4 + id
					r.Await(func() bool { return turn >= want })
					trace = append(trace, id)
					turn++
				}
			})
		}
		r.runUntilBlocked()
		require.Equal(t, []int{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}, trace)
		require.Empty(t, r.cos)
	}
}

func TestPanicInCoroutineIsFatal(t *testing.T) {
	t.Parallel()
	r := &Run{}
	r.spawn(func() { panic("kaboom") })
	r.spawn(func() { t.Error("a coroutine ran after a fatal panic") })
	r.runUntilBlocked()
	var pe *PanicError
	require.ErrorAs(t, r.fatal, &pe)
	require.Equal(t, "kaboom", pe.Value)
	r.kill()
}

// BenchmarkSchedulerStep measures one hand-over between the scheduler and a
// parked coroutine: the cost every blocking workflow call pays.
func BenchmarkSchedulerStep(b *testing.B) {
	r := &Run{}
	turn := 0
	r.spawn(func() {
		for i := 0; ; i++ {
			want := i + 1
			r.Await(func() bool { return turn >= want })
		}
	})
	r.runUntilBlocked()
	b.ResetTimer()
	for range b.N {
		turn++
		r.runUntilBlocked()
	}
	b.StopTimer()
	r.kill()
}
