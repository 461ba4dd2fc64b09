package chorus_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/workflow"
)

// TestChildCanceledBeforeStartNeverRuns cancels a child's scope in the same
// round that starts it: the child never runs, no run with its ID exists,
// and the parent's future fails with ErrCanceled, live and on replay.
func TestChildCanceledBeforeStartNeverRuns(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var ran atomic.Int32
	child := workflow.New("ccb-child", func(ctx workflow.Context, n int) (int, error) {
		ran.Add(1)
		return n, nil
	})
	type out struct {
		Canceled bool
		Ready    bool
		ID       string
	}
	parent := workflow.New("ccb-parent", func(ctx workflow.Context, n int) (out, error) {
		cctx, cancel := workflow.WithCancel(ctx)
		f := workflow.ExecuteChildWorkflow(cctx, child, n, nil)
		cancel()
		ready := f.IsReady()
		_, err := f.Get(ctx)
		// Something after, so a replay checks the journal past the cancel.
		if err := workflow.Sleep(ctx, 1); err != nil {
			return out{}, err
		}
		return out{Canceled: errors.Is(err, workflow.ErrCanceled), Ready: ready, ID: f.RunID()}, nil
	})
	eng, _ := setup(t, nil, parent, child)
	run, err := chorus.Start(ctx, eng, parent, 7, &chorus.StartOptions{ID: "ccb"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.True(t, got.Canceled, "the child's future fails with ErrCanceled")
	require.True(t, got.Ready, "the future is settled as soon as the scope is canceled")
	_, err = eng.Describe(ctx, got.ID)
	require.ErrorIs(t, err, chorus.ErrRunNotFound, "the child was never started")
	require.Zero(t, ran.Load(), "the child's code never ran")
	require.NoError(t, hook.Core(eng).ReplayRun(ctx, "ccb"), "the parent replays")
}
