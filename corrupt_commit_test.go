package chorus_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/faultstore"
	"github.com/chorusdev/chorus/workflow"
)

// corruptCommitEngine opens an engine on a store whose commits for run
// "c" fail with an error wrapping history.ErrCorrupt once enabled, and
// starts "c", whose one activity waits until release is closed.
func corruptCommitEngine(t *testing.T, maxFaults int) (*chorus.Engine, *faultstore.Store, *chorus.Run[int], chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	step := activity.New("step", func(ctx context.Context, n int) (int, error) {
		<-release
		return n + 1, nil
	})
	wf := workflow.New("wf", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, step, n).Get(ctx)
	})
	inner, err := sqlite.Open(context.Background(), ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	fs := faultstore.Wrap(keepOpen{inner}, 1, faultstore.Rates{BatchError: 1, MaxFaults: maxFaults, Wrap: history.ErrCorrupt,
		Only: func(id string) bool { return id == "c" }})
	fs.Disable()
	eng, err := chorus.OpenStore(context.Background(), fs, &chorus.Options{Definitions: []chorus.Definition{wf, step}})
	require.NoError(t, err)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		closeEngine(t, eng)
	})
	run, err := chorus.Start(testContext(t), eng, wf, 1, &chorus.StartOptions{ID: "c"})
	require.NoError(t, err)
	fs.Enable()
	return eng, fs, run, release
}

// A commit that the store refuses because its file is damaged blocks the
// run with that reason, once, instead of being retried forever.
func TestCorruptCommitBlocksRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	eng, fs, run, release := corruptCommitEngine(t, 1)
	close(release) // the activity's result is the commit that fails
	_, err := run.Result(ctx)
	var be *chorus.BlockedError
	require.ErrorAs(t, err, &be, "Result: %v", err)
	require.ErrorIs(t, err, chorus.ErrCorrupt)
	require.Equal(t, 1, fs.Stats().Total(), "one fault: %v", fs.Faults())

	info, err := eng.Describe(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusBlocked, info.Status, "the blocked status was recorded")
	require.ErrorIs(t, chorus.Signal(ctx, eng, "c", workflow.NewSignal[int]("s"), 1), chorus.ErrRunBlocked)
}

// When the store refuses even the blocked status, the run is still blocked
// in memory: Result returns, and nothing is retried in a loop.
func TestCorruptCommitBlocksRunWhenNothingCanBeWritten(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	eng, fs, run, release := corruptCommitEngine(t, 0)
	close(release)
	_, err := run.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrRunBlocked, "Result: %v", err)
	require.ErrorIs(t, err, chorus.ErrCorrupt)
	require.Equal(t, 2, fs.Stats().Total(), "the round and the blocked status, nothing more: %v", fs.Faults())
	require.ErrorIs(t, chorus.Signal(ctx, eng, "c", workflow.NewSignal[int]("s"), 1), chorus.ErrRunBlocked)
}
