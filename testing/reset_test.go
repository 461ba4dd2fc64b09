package chorustest_test

import (
	"context"
	"errors"
	"sync/atomic"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// A run reset after a fix, with a timer before the point, passes the
// env's end-of-test replay check.
func TestResetRunPassesTheReplayCheck(t *stdtesting.T) {
	var fixed atomic.Bool
	var charges atomic.Int32
	charge := activity.New("ct-reset-charge", func(ctx context.Context, n int) (int, error) {
		charges.Add(1)
		return n, nil
	})
	ship := activity.New("ct-reset-ship", func(ctx context.Context, n int) (int, error) {
		if !fixed.Load() {
			return 0, activity.NonRetryable(errors.New("bug"))
		}
		return n + 1, nil
	})
	wf := workflow.New("ct-reset-wf", func(ctx workflow.Context, n int) (int, error) {
		if _, err := workflow.ExecuteActivity(ctx, charge, n).Get(ctx); err != nil {
			return 0, err
		}
		if err := workflow.Sleep(ctx, time.Hour); err != nil {
			return 0, err
		}
		return workflow.ExecuteActivity(ctx, ship, n).Get(ctx)
	})
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{wf, charge, ship}})
	run := chorustest.Start(env, wf, 1, &chorus.StartOptions{ID: "ct-reset"})
	_, err := chorustest.Result(env, run)
	require.Error(t, err)
	fixed.Store(true)
	res, err := env.Engine().Reset(context.Background(), "ct-reset", chorus.ResetOptions{ToFirstFailure: true})
	require.NoError(t, err)
	require.Positive(t, res.FirstSeq)
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, 2, got)
	require.Equal(t, int32(1), charges.Load())
	require.NoError(t, env.CheckReplay())
}
