package chorus_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/faultstore"
	"github.com/chorusdev/chorus/workflow"
)

// TestStartOfExistingRunNotInMemory: a Start whose ID belongs to a run the
// engine does not hold in memory (it ended, or it was started by an earlier
// process) is refused with ErrRunExists and leaves nothing behind: no
// event, no activity executed, and the existing run goes on with its own
// input. AttachIfExists returns a handle to the existing run.
func TestStartOfExistingRunNotInMemory(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "chorus.db")
	var calls atomic.Int64
	step, wake, wf := existsWorkflow(&calls)

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

// existsWorkflow returns a workflow that runs one activity, counted in
// calls, then waits for a signal, and its activity and signal.
func existsWorkflow(calls *atomic.Int64) (*activity.Definition[int, int], *workflow.Signal[int], *workflow.Definition[int, int]) {
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
	return step, wake, wf
}

// TestStartOfExistingRunUnknownCommit: a Start of an ID that a run not in
// memory holds, on a store that reports the next commit's outcome as
// unknown, is refused and must not run the existing run's completed
// activity again (a start that skipped reading the run first, and took
// the existing run for the one its refused batch created, once did).
func TestStartOfExistingRunUnknownCommit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var calls atomic.Int64
	step, wake, wf := existsWorkflow(&calls)
	inner, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	fs := faultstore.Wrap(keepOpen{inner}, 1, faultstore.Rates{CommitUnknown: 1, MaxFaults: 1})
	fs.Disable()
	journaled := make(chan struct{}, 1)
	eng, err := chorus.OpenStore(ctx, fs, &chorus.Options{Definitions: []chorus.Definition{wf, step},
		Observer: activityEnded(func() { journaled <- struct{}{} })})
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "x"})
	require.NoError(t, err)
	recv(t, journaled, "the activity's outcome journaled")
	closeEngine(t, eng)
	require.Equal(t, int64(1), calls.Load())

	eng, err = chorus.OpenStore(ctx, fs, &chorus.Options{Definitions: []chorus.Definition{wf, step}})
	require.NoError(t, err)
	fs.Enable()
	_, err = chorus.Start(ctx, eng, wf, 2, &chorus.StartOptions{ID: "x"})
	require.Error(t, err, "the outcome is unknown, or the ID exists")
	require.LessOrEqual(t, fs.Stats().Total(), 1, "at most one fault: %v", fs.Faults())
	require.NoError(t, chorus.Signal(ctx, eng, "x", wake, 5))
	h, err := chorus.Lookup(ctx, eng, wf, "x")
	require.NoError(t, err)
	out, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 15, out, "the existing run went on with its own input")
	closeEngine(t, eng)
	require.Equal(t, int64(1), calls.Load(), "the existing run's activity ran once")
}

// activityEnded is an Observer that calls f when an activity attempt's
// outcome is journaled.
type activityEnded func()

func (f activityEnded) Observe(ctx context.Context, ev chorus.Event) context.Context {
	if ev.Kind == chorus.EventActivityEnded {
		f()
	}
	return ctx
}
