package chorus_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// A selector kept across a loop merges each future exactly once: a future
// case is consumed when it fires, although the future stays ready.
func TestSelectorSplitAndMergeFiresEachFutureOnce(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const chunks = 5
	process := activity.New("process-chunk", func(ctx context.Context, n int) (int, error) { return n * 10, nil })
	wf := workflow.New("split-merge", func(ctx workflow.Context, _ int) ([]int, error) {
		s := workflow.NewSelector(ctx)
		var merged []int
		for i := range chunks {
			f := workflow.ExecuteActivity(ctx, process, i+1)
			s.AddFuture(f, func() {
				v, err := f.Get(ctx)
				if err != nil {
					panic(err)
				}
				merged = append(merged, v)
			})
		}
		for range chunks {
			s.Select(ctx)
		}
		return merged, nil
	})
	eng, _ := setup(t, nil, wf, process)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	slices.Sort(got)
	require.Equal(t, []int{10, 20, 30, 40, 50}, got, "each chunk merged exactly once")

	h, err := chorus.History(ctx, eng, run.ID())
	require.NoError(t, err)
	require.NoError(t, replay.Run(ctx, h, wf, process), "the run replays")
}

// A timer racing an activity in a loop of Select calls on one selector
// notifies once, when the timer wins, and not again on the passes that
// follow while the activity is still running.
func TestSelectorTimerVersusActivityNotifiesOnce(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	release, notified := make(chan struct{}), make(chan struct{})
	slow := activity.New("slow-work", func(ctx context.Context, _ int) (string, error) {
		select {
		case <-release:
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	notify := activity.New("notify", func(ctx context.Context, msg string) (int, error) {
		select {
		case <-notified:
			return 0, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	wf := workflow.New("timer-vs-activity", func(ctx workflow.Context, _ int) (int, error) {
		work := workflow.ExecuteActivity(ctx, slow, 0)
		late := workflow.NewTimer(ctx, time.Minute)
		notifications := 0
		done := false
		s := workflow.NewSelector(ctx).
			AddFuture(late, func() {
				notifications++
				if _, err := workflow.ExecuteActivity(ctx, notify, "running late").Get(ctx); err != nil {
					panic(err)
				}
			}).
			AddFuture(work, func() { done = true })
		for i := 0; !done && i < 5; i++ { // bounded, so a selector that fires twice fails fast
			s.Select(ctx)
		}
		return notifications, nil
	})
	eng, _ := setup(t, &chorus.Options{Clock: mock}, wf, slow, notify)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	journaled := func(typ history.EventType, name string) func() bool {
		return func() bool {
			h, err := chorus.History(ctx, eng, run.ID())
			require.NoError(t, err)
			return slices.ContainsFunc(h.Events, func(ev history.Event) bool { return ev.Type == typ && ev.Name == name })
		}
	}
	mock.Add(time.Minute)
	// The timer won: the notification is on its way. Then the work ends
	// while the notification is still running, so the next pass finds both
	// cases' futures ready and the timer's first.
	require.Eventually(t, journaled(history.EventActivityScheduled, notify.Name()), testTimeout, time.Millisecond)
	close(release)
	require.Eventually(t, journaled(history.EventActivityCompleted, slow.Name()), testTimeout, time.Millisecond)
	close(notified)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, got, "the late notification was sent once")

	h, err := chorus.History(ctx, eng, run.ID())
	require.NoError(t, err)
	require.NoError(t, replay.Run(ctx, h, wf, slow, notify), "the run replays")
}

// A receive case fires once per value, and once more when its channel is
// closed and drained; after that a Select without default would wait
// forever and panics instead, which blocks the run and says why.
func TestSelectorReceiveCaseFiresPerValueThenOnceOnClose(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("receive-cases", func(ctx workflow.Context, _ int) (string, error) {
		ch := workflow.NewBufferedChannel[int](ctx, 3)
		ch.SendAsync(1)
		ch.SendAsync(2)
		ch.Close()
		var log []string
		s := workflow.NewSelector(ctx).AddReceive(ch, func() {
			v, ok := ch.ReceiveAsync()
			log = append(log, fmt.Sprint(v, ok))
		})
		for range 3 {
			s.Select(ctx)
		}
		s.AddDefault(func() { log = append(log, "default") })
		s.Select(ctx)
		return fmt.Sprint(log), nil
	})
	stuck := workflow.New("select-on-spent", func(ctx workflow.Context, _ int) (int, error) {
		s := workflow.NewSelector(ctx).AddFuture(workflow.NewTimer(ctx, 0), func() {})
		s.Select(ctx)
		s.Select(ctx)
		return 0, nil
	})
	eng, _ := setup(t, nil, wf, stuck)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "[1 true 2 true 0 false default]", got)

	_, err = chorus.Start(ctx, eng, stuck, 0, nil)
	var pe *chorus.PanicError
	require.ErrorAs(t, err, &pe)
	require.Contains(t, fmt.Sprint(pe.Value), "have all fired already")
}
