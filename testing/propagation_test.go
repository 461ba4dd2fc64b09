package chorustest_test

import (
	"context"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

var tenantAct = activity.New("prop-tenant", func(ctx context.Context, _ string) (string, error) {
	return "real:" + chorus.StringValue(ctx, "tenant"), nil
})

var tenantChild = workflow.New("prop-tenant-child", func(ctx workflow.Context, _ string) (string, error) {
	return "child:" + chorus.StringValue(ctx, "tenant"), nil
})

var tenantWF = workflow.New("prop-tenant-wf", func(ctx workflow.Context, _ string) ([]string, error) {
	out := []string{"wf:" + chorus.StringValue(ctx, "tenant")}
	if err := workflow.Sleep(ctx, time.Hour); err != nil {
		return nil, err
	}
	for range 2 {
		a, err := workflow.ExecuteActivity(ctx, tenantAct, "").Get(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	c, err := workflow.ExecuteChildWorkflow(ctx, tenantChild, "", nil).Get(ctx)
	return append(out, c), err
})

// TestStartContextPropagates: under chorustest, values on the context of
// StartContext reach the workflow code, a mocked and a real activity, and
// a child run; Markers leaves out the journaled header, and the replay
// check at the end replays with the propagators.
func TestStartContextPropagates(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{
		Definitions: []chorus.Definition{tenantWF, tenantAct, tenantChild},
		Engine:      &chorus.Options{ContextPropagators: []chorus.ContextPropagator{chorus.NewStringPropagator("tenant")}},
	})
	chorustest.OnActivity(env, tenantAct).Once().Do(func(ctx context.Context, _ string) (string, error) {
		return "mock:" + chorus.StringValue(ctx, "tenant"), nil
	})
	ctx := chorus.WithStringValue(context.Background(), "tenant", "acme")
	run := chorustest.StartContext(ctx, env, tenantWF, "", &chorus.StartOptions{ID: "t-1"})
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, []string{"wf:acme", "mock:acme", "real:acme", "child:acme"}, got)
	require.Empty(t, env.Markers("t-1"))

	sig := workflow.NewSignal[string]("prop-go")
	run = chorustest.SignalWithStartContext(ctx, env, tenantWF, "", &chorus.StartOptions{ID: "t-2"}, sig, "go")
	got, err = chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, []string{"wf:acme", "real:acme", "real:acme", "child:acme"}, got)
}
