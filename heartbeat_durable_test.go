package chorus_test

// Heartbeat details are journaled at a bounded rate; WaitForCancellation
// makes a canceled activity settle after its attempt returned.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// drain returns the lines seen so far that start with prefix.
func drain(seen <-chan string, prefix string) []string {
	var got []string
	for {
		select {
		case l := <-seen:
			if strings.HasPrefix(l, prefix) {
				got = append(got, l)
			}
		default:
			return got
		}
	}
}

// TestHeartbeatWritesBounded: 1,000 heartbeats in a tight loop cost one
// write; details that change within the throttle interval are written once
// it has passed, coalesced.
func TestHeartbeatWritesBounded(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	beaten := make(chan struct{})
	proceed := make(chan struct{})
	act := activity.New("hb-bound", func(ctx context.Context, mode string) (int, error) {
		n := 1000
		for i := range n {
			activity.Heartbeat(ctx, i)
		}
		if mode == "wait" {
			close(beaten)
			<-proceed
		}
		return n, nil
	}).WithOptions(activity.Options{HeartbeatTimeout: 10 * time.Second})
	wf := workflow.New("hb-bound-wf", func(ctx workflow.Context, mode string) (int, error) {
		return workflow.ExecuteActivity(ctx, act, mode).Get(ctx)
	})
	eng, seen := openWatched(t, &chorus.Options{Clock: mock}, wf, act)

	run, err := chorus.Start(ctx, eng, wf, "tight", &chorus.StartOptions{ID: "hb-bound-1"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"heartbeat hb-bound-1/2 0"}, drain(seen, "heartbeat "), "the first details are written at once, the rest within the interval are not")

	run, err = chorus.Start(ctx, eng, wf, "wait", &chorus.StartOptions{ID: "hb-bound-2"})
	require.NoError(t, err)
	recv(t, beaten, "the heartbeats")
	require.Equal(t, []string{"heartbeat hb-bound-2/2 0"}, drain(seen, "heartbeat "))
	mock.Add(8 * time.Second) // 80% of the heartbeat timeout
	require.Equal(t, "heartbeat hb-bound-2/2 999", recv(t, seen, "the coalesced write"))
	close(proceed)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	require.Empty(t, drain(seen, "heartbeat "))
}

// TestWaitForCancellation: with WaitForCancellation, the code after the
// canceled activity's Get runs after the activity's cleanup, and gets
// ErrCanceled; without it, at once.
func TestWaitForCancellation(t *testing.T) {
	t.Parallel()
	for _, wait := range []bool{true, false} {
		t.Run(fmt.Sprint("wait=", wait), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			name := fmt.Sprintf("wfc-%v", wait)
			started := make(chan struct{})
			release := make(chan struct{})
			var cleaned atomic.Bool
			var execs atomic.Int32
			long := activity.New(name+"-long", func(ctx context.Context, _ string) (string, error) {
				execs.Add(1)
				close(started)
				<-ctx.Done()
				// A slow cleanup: it ends when the workflow's next activity
				// releases it, or, when the workflow waits for it (and so
				// cannot run that activity first), shortly.
				guard := testTimeout
				if wait {
					guard = 300 * time.Millisecond
				}
				select {
				case <-release:
				case <-time.After(guard):
				}
				cleaned.Store(true)
				return "", ctx.Err()
			}).WithOptions(activity.Options{WaitForCancellation: wait})
			check := activity.New(name+"-check", func(context.Context, string) (bool, error) {
				c := cleaned.Load()
				close(release)
				return c, nil
			})
			stop := workflow.NewSignal[string]("stop")
			wf := workflow.New(name+"-wf", func(ctx workflow.Context, in string) (string, error) {
				sub, cancel := workflow.WithCancel(ctx)
				f := workflow.ExecuteActivity(sub, long, in)
				workflow.GetSignalChannel(ctx, stop).Receive(ctx)
				cancel()
				_, err := f.Get(ctx)
				c, cerr := workflow.ExecuteActivity(ctx, check, in).Get(ctx)
				return fmt.Sprintf("canceled=%v cleaned=%v", errors.Is(err, workflow.ErrCanceled), c), cerr
			})
			eng, _ := setup(t, nil, wf, long, check)
			run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: name})
			require.NoError(t, err)
			recv(t, started, "the activity's start")
			require.NoError(t, chorus.Signal(ctx, eng, run.ID(), stop, "now"))
			out, err := run.Result(ctx)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("canceled=true cleaned=%v", wait), out)
			require.EqualValues(t, 1, execs.Load())
		})
	}
}
