package remote_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/remote"
	"github.com/chorusdev/chorus/workflow"
)

func TestHubOptionsValidate(t *testing.T) {
	t.Parallel()
	eng := openSQLite(t, tempDB(t))
	t.Cleanup(func() { closeEngine(t, eng) })
	noQueue := activity.New("no-queue", func(context.Context, string) (string, error) { return "", nil })
	for _, tc := range []struct {
		name string
		o    remote.HubOptions
		want string
	}{
		{"no activity", remote.HubOptions{Workers: workers}, "Activities is empty"},
		{"no worker", remote.HubOptions{Activities: []remote.Activity{onHub}}, "Workers is empty"},
		{"activity without queue", remote.HubOptions{Activities: []remote.Activity{noQueue}, Workers: workers}, `"no-queue") has no queue`},
		{"short token", remote.HubOptions{Activities: []remote.Activity{onHub}, Workers: []remote.WorkerToken{{Name: "a", Token: "short", Queues: []string{queue}}}}, "shorter than 16 bytes"},
		{"shared token", remote.HubOptions{Activities: []remote.Activity{onHub}, Workers: []remote.WorkerToken{
			{Name: "a", Token: tokenA, Queues: []string{queue}}, {Name: "b", Token: tokenA, Queues: []string{queue}}}}, "given to another worker"},
		{"worker without queue", remote.HubOptions{Activities: []remote.Activity{onHub}, Workers: []remote.WorkerToken{{Name: "a", Token: tokenA}}}, "Queues is empty"},
		{"negative lease", remote.HubOptions{Activities: []remote.Activity{onHub}, Workers: workers, LeaseTimeout: -time.Second}, "LeaseTimeout is negative"},
	} {
		_, err := remote.NewHub(eng, &tc.o)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	_, err := remote.NewHub(nil, nil)
	require.Error(t, err)

	// The activity is registered by its name: the hub process must not
	// register it as a local activity too.
	require.NoError(t, eng.Register(onHub))
	_, err = remote.NewHub(eng, &remote.HubOptions{Activities: []remote.Activity{onHub}, Workers: workers})
	require.ErrorIs(t, err, chorus.ErrDuplicateRegistration)
}

func TestNewWorkerValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url, token string
		queues           []string
		acts             []remote.Activity
		want             string
	}{
		{"bad URL", "ftp://hub", tokenA, []string{queue}, []remote.Activity{onHub}, "not http"},
		{"no token", "http://hub", "", []string{queue}, []remote.Activity{onHub}, "empty token"},
		{"no queue", "http://hub", tokenA, nil, []remote.Activity{onHub}, "no queue"},
		{"no activity", "http://hub", tokenA, []string{queue}, nil, "no activity"},
		{"twice", "http://hub", tokenA, []string{queue}, []remote.Activity{onHub, onHub}, "given twice"},
	} {
		_, err := remote.NewWorker(tc.url, tc.token, tc.queues, nil, tc.acts...)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	for _, tc := range []struct {
		o    remote.WorkerOptions
		want string
	}{
		{remote.WorkerOptions{Concurrency: -1}, "Concurrency is negative (-1)"},
		{remote.WorkerOptions{RetryDelay: -time.Second}, "RetryDelay is negative (-1s)"},
		{remote.WorkerOptions{DrainTimeout: -time.Minute}, "DrainTimeout is negative (-1m0s)"},
	} {
		_, err := remote.NewWorker("http://hub", tokenA, []string{queue}, &tc.o, onHub)
		require.ErrorContains(t, err, tc.want)
	}
}

// TestTimeoutStopsWorker: when the hub's engine times the attempt out, the
// task is withdrawn, and the worker running it is told at its next lease
// renewal: its activity's context is canceled.
func TestTimeoutStopsWorker(t *testing.T) {
	t.Parallel()
	slow := func(fn func(context.Context, string) (string, error)) *activity.Definition[string, string] {
		return activity.New("slow-ledger", fn).WithOptions(activity.Options{Queue: queue,
			StartToCloseTimeout: 300 * time.Millisecond, RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 1}})
	}
	slowOnHub := slow(func(context.Context, string) (string, error) { return "", errors.New("ran on the hub") })
	wf := workflow.New("slow-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, slowOnHub, in).Get(ctx)
	})
	eng := openSQLite(t, tempDB(t))
	require.NoError(t, eng.Register(wf))
	env := newHubEnv(t, eng, &remote.HubOptions{Activities: []remote.Activity{onHub, slowOnHub}, Workers: workers,
		LeaseTimeout: 300 * time.Millisecond, Logger: quiet})
	stopped := make(chan error, 1)
	env.startWorker(t, tokenA, slow(func(ctx context.Context, in string) (string, error) {
		<-ctx.Done()
		stopped <- ctx.Err()
		return "", ctx.Err()
	}))
	ctx := testContext(t)
	run, err := chorus.Start(ctx, env.eng, wf, "x", &chorus.StartOptions{ID: "slow"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, activity.TypeStartToCloseTimeout, ae.Type)
	require.ErrorIs(t, recv(t, stopped, "the worker's activity to be canceled"), context.Canceled)
}
