package chorus_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// Helpers of this file are prefixed with pm so they do not clash with those
// of the other test files of the package.

// pmCloseGracefully closes eng and lets running activity attempts finish and
// be recorded. Use it only when no attempt is blocked waiting for its
// context, or Close waits for testTimeout.
func pmCloseGracefully(t *testing.T, eng *chorus.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, eng.Close(ctx))
}

// pmStart starts one run of wf with input in under each ID.
func pmStart[In, Out any](ctx context.Context, t *testing.T, eng *chorus.Engine, wf *workflow.Definition[In, Out], in In, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := chorus.Start(ctx, eng, wf, in, &chorus.StartOptions{ID: id})
		require.NoError(t, err, "start %s", id)
	}
}

// pmResult looks the run up and waits for its result.
func pmResult[In, Out any](ctx context.Context, t *testing.T, eng *chorus.Engine, wf *workflow.Definition[In, Out], id string) (Out, error) {
	t.Helper()
	run, err := chorus.Lookup(ctx, eng, wf, id)
	require.NoError(t, err, "lookup %s", id)
	return run.Result(ctx)
}

// pmStatus returns the run's status.
func pmStatus(ctx context.Context, t *testing.T, eng *chorus.Engine, id string) chorus.RunStatus {
	t.Helper()
	info, err := eng.Describe(ctx, id)
	require.NoError(t, err, "describe %s", id)
	return info.Status
}

// pmReporter is an activity that counts its executions per run, reports the
// run on ran and returns its input plus one.
func pmReporter(c *counter, name string, ran chan<- string) *activity.Definition[int, int] {
	return activity.New(name, func(ctx context.Context, n int) (int, error) {
		id := activity.GetInfo(ctx).RunID
		c.inc(id + "/" + name)
		ran <- id
		return n + 1, nil
	})
}
