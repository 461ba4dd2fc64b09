package chorustest_test

import (
	"context"
	"fmt"
	"sync"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// TestEnvAtUpdateAndAsyncCompletion: an env.At callback sends an Update
// and completes an activity that returned activity.ErrResultPending, each
// at its fake time, through the chorus functions on env.Engine().
func TestEnvAtUpdateAndAsyncCompletion(t *stdtesting.T) {
	t.Parallel()
	var mu sync.Mutex
	var key string
	ask := activity.New("envat-ask", func(ctx context.Context, _ string) (string, error) {
		mu.Lock()
		key = activity.GetInfo(ctx).IdempotencyKey
		mu.Unlock()
		return "", activity.ErrResultPending
	})
	bump := workflow.NewUpdate[int, int]("envat-bump")
	wf := workflow.New("envat-outside", func(ctx workflow.Context, _ string) (string, error) {
		total := 0
		var at time.Duration
		start := workflow.Now(ctx)
		workflow.SetUpdateHandler(ctx, bump, func(ctx workflow.Context, n int) (int, error) {
			total += n
			at = workflow.Now(ctx).Sub(start)
			return total, nil
		}, nil)
		decision, err := workflow.ExecuteActivity(ctx, ask, "").Get(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s at +%v; total %d, updated at +%v", decision, workflow.Now(ctx).Sub(start), total, at), nil
	})
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{wf, ask}, Timeout: 10 * time.Second})
	run := chorustest.Start(env, wf, "", &chorus.StartOptions{ID: "outside"})
	var answer int
	env.At(time.Hour, func() {
		var err error
		answer, err = chorus.Update(context.Background(), env.Engine(), "outside", bump, 5)
		require.NoError(t, err)
	})
	env.At(2*time.Hour, func() {
		mu.Lock()
		k := key
		mu.Unlock()
		require.NoError(t, chorus.CompleteActivity(context.Background(), env.Engine(), ask, k, "approved"))
	})
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, 5, answer)
	require.Equal(t, "approved at +2h0m0s; total 5, updated at +1h0m0s", got)
}
