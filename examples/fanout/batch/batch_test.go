package batch_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/fanout/batch"
	chorustest "github.com/chorusdev/chorus/testing"
)

// Unit tests of the RunBatch workflow on chorustest, with process-item
// mocked so that nothing takes wall time.

func batchEnv(t *testing.T) *chorustest.Env {
	return chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{batch.RunBatch, batch.Process, batch.Publish}})
}

func TestBatchCompletesBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	env := batchEnv(t)
	process := chorustest.OnActivity(env, batch.Process).Do(func(ctx context.Context, it batch.Item) (int, error) {
		return it.N * it.N, nil
	})
	publish := chorustest.OnActivity(env, batch.Publish) // real, counted
	run := chorustest.Start(env, batch.RunBatch, batch.Batch{Items: 5, Work: time.Hour, Deadline: 24 * time.Hour}, &chorus.StartOptions{ID: "batch"})
	rep, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, 5, rep.Done)
	require.Zero(t, rep.Failed)
	require.Equal(t, 1+4+9+16+25, rep.Total)
	require.False(t, rep.MissedDeadline)
	require.Zero(t, env.Elapsed(), "the deadline timer was canceled, not waited for")
	require.Equal(t, 5, process.Calls())
	require.Equal(t, []batch.Report{rep}, publish.Inputs())

	id, err := chorustest.Query(env, "batch", batch.BatchID, struct{}{})
	require.NoError(t, err)
	require.Equal(t, rep.BatchID, id, "the UUID is journaled, so a replay answers the same ID")
	acts := env.ActivitiesRun("batch")
	require.Equal(t, "publish-summary", acts[len(acts)-1])
}

// Items that are still running at the deadline are canceled. An activity
// attempt in flight counts as work, so the env does not skip time while the
// slow items run: the test moves the clock itself.
func TestBatchDeadlineCancelsTheSlowItems(t *testing.T) {
	t.Parallel()
	env := batchEnv(t)
	fast := chorustest.OnActivity(env, batch.Process).When(func(it batch.Item) bool { return it.N <= 2 }).
		Do(func(ctx context.Context, it batch.Item) (int, error) { return it.N * it.N, nil })
	slow := chorustest.OnActivity(env, batch.Process).Do(func(ctx context.Context, it batch.Item) (int, error) {
		<-ctx.Done() // until the workflow cancels it
		return 0, ctx.Err()
	})
	run := chorustest.Start(env, batch.RunBatch, batch.Batch{Items: 5, Work: time.Hour, Deadline: 24 * time.Hour}, &chorus.StartOptions{ID: "batch"})
	// Wait until the slow items run and the fast ones are journaled: the
	// first step's 9 events (start, 2 side effects, 5 activities, the
	// timer) and 2 results.
	require.NoError(t, env.Await(func() bool {
		info, err := env.Engine().Describe(t.Context(), "batch")
		return err == nil && info.Events == 11 && slow.Calls() == 3
	}))
	env.Clock().Add(24 * time.Hour) // no env wait is in progress: the test may move the clock
	rep, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.True(t, rep.MissedDeadline)
	require.Equal(t, 3, rep.Failed)
	require.Equal(t, 2, rep.Done)
	require.Equal(t, 1+4, rep.Total)
	require.Equal(t, []int{1, 2}, sortedItems(fast.Inputs()))
	require.Equal(t, []int{3, 4, 5}, sortedItems(slow.Inputs()))
}

func sortedItems(its []batch.Item) []int {
	var ns []int
	for _, it := range its {
		ns = append(ns, it.N)
	}
	slices.Sort(ns)
	return ns
}
