package chorus_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

func TestPayloadLimit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	big := strings.Repeat("x", 2000)
	echo := activity.New("echo", func(ctx context.Context, s string) (string, error) { return s + s, nil })
	wf := workflow.New("wf", func(ctx workflow.Context, s string) (string, error) {
		return workflow.ExecuteActivity(ctx, echo, s).Get(ctx)
	})
	sig := workflow.NewSignal[string]("sig")
	eng, _ := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxPayloadBytes: 3000}}, wf, echo)

	_, err := chorus.Start(ctx, eng, wf, strings.Repeat("y", 4000), nil)
	var le *chorus.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, "MaxPayloadBytes", le.Limit)
	require.ErrorIs(t, err, chorus.ErrLimitExceeded)
	require.ErrorContains(t, err, "instead of the data itself")

	// The activity's result (4,000 bytes) is over the limit: the activity
	// fails for good instead of being recorded.
	run, err := chorus.Start(ctx, eng, wf, big, &chorus.StartOptions{ID: "p"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.ErrorContains(t, err, "MaxPayloadBytes exceeded")
	require.ErrorIs(t, chorus.Signal(ctx, eng, "p", sig, strings.Repeat("z", 4000)), chorus.ErrLimitExceeded)
}

func TestHistoryLimitBlocksRunWithoutLosingIt(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	step := addOne(&c, "step")
	loop := workflow.New("loop", func(ctx workflow.Context, n int) (int, error) {
		for i := range n {
			if _, err := workflow.ExecuteActivity(ctx, step, i).Get(ctx); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
	eng, path := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxHistoryEvents: 10}}, loop, step)
	run, err := chorus.Start(ctx, eng, loop, 10, &chorus.StartOptions{ID: "long"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var le *chorus.LimitError
	require.ErrorAs(t, err, &le, "the run is blocked by the limit: %v", err)
	require.Equal(t, "MaxHistoryEvents", le.Limit)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
	info, err := eng.Describe(ctx, "long")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusBlocked, info.Status)
	require.LessOrEqual(t, info.Events, int64(10), "nothing past the limit was written")
	closeEngine(t, eng)

	// Raising the limit resumes it where it stopped.
	eng = openEngine(t, path, &chorus.Options{Limits: &chorus.Limits{MaxHistoryEvents: -1}}, loop, step)
	run, err = chorus.Lookup(ctx, eng, loop, "long")
	require.NoError(t, err)
	got, err := waitResult(ctx, t, run)
	require.NoError(t, err)
	require.Equal(t, 10, got)
	require.Equal(t, 10, c.get("long/step"), "no step ran again: the limit kept room for every outcome")
}

func TestPendingSignalsLimit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	sig := workflow.NewSignal[int]("n")
	never := workflow.NewSignal[int]("never")
	wf := workflow.New("deaf", func(ctx workflow.Context, _ int) (int, error) {
		v, _ := workflow.GetSignalChannel(ctx, never).Receive(ctx)
		return v, nil
	})
	eng, _ := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxPendingSignals: 3}}, wf)
	_, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "deaf"})
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, chorus.Signal(ctx, eng, "deaf", sig, i))
	}
	err = chorus.Signal(ctx, eng, "deaf", sig, 4)
	var le *chorus.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, "MaxPendingSignals", le.Limit)
	info, err := eng.Describe(ctx, "deaf")
	require.NoError(t, err)
	require.EqualValues(t, 4, info.Events, "started + 3 signals; the refused one was not journaled")
	require.ErrorIs(t, chorus.Signal(ctx, eng, "deaf", never, 7), chorus.ErrLimitExceeded,
		"the limit counts every unconsumed signal of the run, whatever its name")
	require.NoError(t, eng.Terminate(ctx, "deaf", "test over"), "the run itself is intact")
}
