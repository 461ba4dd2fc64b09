package chorus_test

// Activity heartbeats; the pm* helpers are in primitives_more_test.go.

import (
	"context"
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

// ---------------------------------------------------------------------------
// Heartbeats

func TestHeartbeatsKeepLongActivityAlive(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	const beats = 5
	var execs atomic.Int32
	beat := make(chan int, 1)
	proceed := make(chan struct{}, 1)
	stopped := make(chan error, 1)
	long := activity.New("pm-hb-long", func(ctx context.Context, _ int) (int, error) {
		execs.Add(1)
		var prev int
		if activity.HeartbeatDetails(ctx, &prev) {
			return 0, activity.NonRetryable(fmt.Errorf("first attempt sees details %d", prev))
		}
		for k := 1; k <= beats; k++ {
			activity.Heartbeat(ctx, k)
			beat <- k
			select {
			case <-proceed:
			case <-ctx.Done():
				stopped <- ctx.Err()
				return 0, ctx.Err()
			}
		}
		return activity.GetInfo(ctx).Attempt, nil
	}).WithOptions(activity.Options{HeartbeatTimeout: 10 * time.Second, RetryPolicy: fastRetry(1)})
	wf := workflow.New("pm-hb-long-wf", func(ctx workflow.Context, _ int) (int, error) {
		return workflow.ExecuteActivity(ctx, long, 0).Get(ctx)
	})
	eng, _ := setup(t, &chorus.Options{Clock: mock}, wf, long)

	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "pm-hb-long"})
	require.NoError(t, err)
	for k := 1; k <= beats; k++ {
		select {
		case got := <-beat:
			require.Equal(t, k, got)
		case err := <-stopped:
			t.Fatalf("the attempt was stopped before heartbeat %d: %v", k, err)
		case <-ctx.Done():
			t.Fatalf("timed out waiting for heartbeat %d", k)
		}
		// 6 s after each heartbeat: 30 s in all, three times the timeout,
		// but never 10 s without a heartbeat.
		mock.Add(6 * time.Second)
		proceed <- struct{}{}
	}
	got, err := run.Result(ctx)
	require.NoError(t, err, "the heartbeating attempt was never timed out")
	require.Equal(t, 1, got, "the result came from attempt 1")
	require.EqualValues(t, 1, execs.Load(), "the activity ran once")
}

func TestHeartbeatTimeoutStopsAndRetriesWithLastDetails(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	type report struct {
		Attempt int
		Prev    string
		HadPrev bool
	}
	reports := make(chan report, 8)
	stopped := make(chan error, 8)
	stall := activity.New("pm-hb-stall", func(ctx context.Context, _ int) (string, error) {
		var prev string
		had := activity.HeartbeatDetails(ctx, &prev)
		attempt := activity.GetInfo(ctx).Attempt
		if attempt == 1 {
			activity.Heartbeat(ctx, "chunk-1")
			activity.Heartbeat(ctx, "chunk-2")
			reports <- report{attempt, prev, had}
			<-ctx.Done() // stops heartbeating
			stopped <- ctx.Err()
			return "", ctx.Err()
		}
		reports <- report{attempt, prev, had}
		return "resumed after " + prev, nil
	}).WithOptions(activity.Options{HeartbeatTimeout: 10 * time.Second, RetryPolicy: fastRetry(3)})
	wf := workflow.New("pm-hb-stall-wf", func(ctx workflow.Context, _ int) (string, error) {
		return workflow.ExecuteActivity(ctx, stall, 0).Get(ctx)
	})
	eng, _ := setup(t, &chorus.Options{Clock: mock}, wf, stall)

	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "pm-hb-stall"})
	require.NoError(t, err)
	require.Equal(t, report{Attempt: 1}, recv(t, reports, "attempt 1 to heartbeat"))
	mock.Add(9 * time.Second)
	select {
	case err := <-stopped:
		t.Fatalf("attempt 1 was stopped before its heartbeat timeout: %v", err)
	default:
	}
	mock.Add(2 * time.Second) // 11 s without a heartbeat
	require.ErrorIs(t, recv(t, stopped, "attempt 1 to be stopped for its heartbeat timeout"), context.Canceled)

	// The retry backoff (about 1 ms) runs on the mock clock too: advance it
	// until attempt 2 starts.
	var second report
	for waiting := true; waiting; {
		select {
		case second = <-reports:
			waiting = false
		case <-ctx.Done():
			t.Fatal("timed out waiting for attempt 2")
		default:
			mock.Add(time.Millisecond)
		}
	}
	require.Equal(t, report{Attempt: 2, Prev: "chunk-2", HadPrev: true}, second, "attempt 2 reads attempt 1's last heartbeat details")
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "resumed after chunk-2", got)
	require.Empty(t, reports, "no third attempt")
}
