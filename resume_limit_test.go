package chorus_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// TestRaisedLimitIsSeenRightAfterOpen blocks a run at MaxHistoryEvents,
// reopens the database with the limit raised and asks at once, without
// retrying: neither Describe, Signal nor Result may report the old block
// (issue 10, point 5: "with fixed code (or a raised limit)").
func TestRaisedLimitIsSeenRightAfterOpen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	step := addOne(&c, "step")
	next := workflow.NewSignal[int]("next")
	loop := workflow.New("limit-then-signal", func(ctx workflow.Context, n int) (int, error) {
		for i := range n {
			if _, err := workflow.ExecuteActivity(ctx, step, i).Get(ctx); err != nil {
				return 0, err
			}
		}
		v, _ := workflow.GetSignalChannel(ctx, next).Receive(ctx)
		return n + v, nil
	})
	eng, path := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxHistoryEvents: 10}}, loop, step)
	run, err := chorus.Start(ctx, eng, loop, 10, &chorus.StartOptions{ID: "raise-me"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var le *chorus.LimitError
	require.ErrorAs(t, err, &le, "the run is blocked by the limit: %v", err)
	require.ErrorIs(t, err, chorus.ErrLimitExceeded)
	info, err := eng.Describe(ctx, "raise-me")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusBlocked, info.Status)
	closeEngine(t, eng)

	eng = openEngine(t, path, &chorus.Options{Limits: &chorus.Limits{MaxHistoryEvents: -1}}, loop, step)
	info, err = eng.Describe(ctx, "raise-me")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status, "Describe right after the limit was raised: %v", info.Err)
	require.NoError(t, info.Err)
	require.NoError(t, chorus.Signal(ctx, eng, "raise-me", next, 5), "Signal right after the limit was raised")
	run, err = chorus.Lookup(ctx, eng, loop, "raise-me")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err, "Result right after the limit was raised")
	require.Equal(t, 15, got)
	require.Equal(t, 10, c.get("raise-me/step"), "no step ran twice")
}
