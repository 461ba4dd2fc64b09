package chorus_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

func TestDescribeShowsPendingActivities(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var calls atomic.Int32
	second, release := make(chan struct{}, 1), make(chan struct{})
	flaky := activity.New("desc-flaky", func(ctx context.Context, n int) (int, error) {
		if calls.Add(1) == 1 {
			return 0, errors.New("card declined")
		}
		second <- struct{}{}
		<-release
		return n, nil
	})
	wf := workflow.New("desc-wf", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: fastRetry(3)}), flaky, n).Get(ctx)
	})
	eng, _ := setup(t, nil, wf, flaky)
	run, err := chorus.Start(ctx, eng, wf, 5, &chorus.StartOptions{ID: "desc"})
	require.NoError(t, err)
	recv(t, second, "the second attempt")

	info, err := eng.Describe(ctx, "desc")
	require.NoError(t, err)
	require.Len(t, info.PendingActivities, 1)
	p := info.PendingActivities[0]
	require.Equal(t, "desc-flaky", p.Name)
	require.Equal(t, 2, p.Attempt)
	require.NotNil(t, p.LastFailure)
	require.Equal(t, "card declined", p.LastFailure.Message)
	require.Equal(t, 1, p.LastFailure.Attempt)
	require.False(t, p.FirstFailureAt.IsZero())
	require.False(t, p.ScheduledAt.IsZero())
	require.False(t, p.FirstFailureAt.Before(p.ScheduledAt))
	require.False(t, p.CancelRequested)
	require.True(t, p.AwaitingCompletionSince.IsZero())

	close(release)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	info, err = eng.Describe(ctx, "desc")
	require.NoError(t, err)
	require.Empty(t, info.PendingActivities, "an ended run waits for nothing")
}
