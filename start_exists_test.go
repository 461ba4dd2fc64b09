package chorus_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// TestStartOfExistingRunNotInMemory: a Start whose ID belongs to a run the
// engine does not hold in memory (it ended, or it was started by an earlier
// process) is refused with ErrRunExists by the commit, since a start does
// not read the store first; the duplicate's code leaves nothing behind: no
// event, no activity executed, and the existing run goes on with its own
// input. AttachIfExists returns a handle to the existing run.
func TestStartOfExistingRunNotInMemory(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "chorus.db")
	var calls atomic.Int64
	step := activity.New("exists-step", func(ctx context.Context, n int) (int, error) {
		calls.Add(1)
		return n * 10, nil
	})
	wake := workflow.NewSignal[int]("exists-wake")
	wf := workflow.New("exists-wf", func(ctx workflow.Context, n int) (int, error) {
		v, err := workflow.ExecuteActivity(ctx, step, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		w, _ := workflow.GetSignalChannel(ctx, wake).Receive(ctx)
		return v + w, nil
	})

	eng := openEngine(t, path, nil, wf, step)
	_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "parked"})
	require.NoError(t, err)
	ended, err := chorus.Start(ctx, eng, wf, 2, &chorus.StartOptions{ID: "ended"})
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, "ended", wake, 5))
	out, err := ended.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 25, out)

	// An ended run is not kept in memory.
	_, err = chorus.Start(ctx, eng, wf, 3, &chorus.StartOptions{ID: "ended"})
	require.ErrorIs(t, err, chorus.ErrRunExists)
	require.Contains(t, err.Error(), `"ended"`)

	// A reopened engine holds no run in memory until an input loads it.
	closeEngine(t, eng)
	before := calls.Load()
	eng = openEngine(t, path, nil, wf, step)
	hist, err := chorus.History(ctx, eng, "parked")
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, wf, 4, &chorus.StartOptions{ID: "parked"})
	require.ErrorIs(t, err, chorus.ErrRunExists)
	again, err := chorus.History(ctx, eng, "parked")
	require.NoError(t, err)
	require.Equal(t, hist.Events, again.Events, "the refused start journaled nothing")

	h, err := chorus.Start(ctx, eng, wf, 6, &chorus.StartOptions{ID: "parked", IfExists: chorus.AttachIfExists})
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, "parked", wake, 7))
	out, err = h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 17, out, "the existing run went on with its own input")
	require.Equal(t, before, calls.Load(), "no refused start executed its activity")
	require.Equal(t, int64(2), before)
}
