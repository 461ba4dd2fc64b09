package grpccall_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/integrate/grpccall"
	"github.com/chorusdev/chorus/workflow"
)

// TestWorkflowRoutesOnTheCode runs gRPC calls as activities of real runs:
// each carries its activity's idempotency key, the workflow reads the code
// of a failure back from the journal, and the connection's breaker shows
// in integrate.Snapshot.
func TestWorkflowRoutesOnTheCode(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fail(codes.NotFound))
	c := srv.client(t, &grpccall.Options{Name: t.Name()})
	check := activity.New("health.check", func(ctx context.Context, service string) (string, error) {
		resp, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		return resp.GetStatus().String(), err
	}).WithOptions(activity.Options{RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 5, InitialInterval: time.Millisecond}})
	wf := workflow.New(t.Name(), func(ctx workflow.Context, service string) (string, error) {
		out, err := workflow.ExecuteActivity(ctx, check, service).Get(ctx)
		if code, ok := grpccall.CodeOf(err); ok {
			return "failed with " + code.String(), nil
		}
		return out, err
	})
	eng, err := chorus.Open(context.Background(), filepath.Join(t.TempDir(), "chorus.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, eng.Close(ctx))
	})
	require.NoError(t, eng.Register(wf, check))
	ctx := testContext(t)
	result := func(id string) string {
		run, err := chorus.Start(ctx, eng, wf, "", &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		out, err := run.Result(ctx)
		require.NoError(t, err)
		return out
	}
	require.Equal(t, "failed with NotFound", result("r1"), "NotFound is not retried by the engine either")
	require.Equal(t, "SERVING", result("r2"))
	require.Equal(t, []string{"r1/2", "r2/2"}, srv.idempotencyKeys())
	var names []string
	for _, s := range integrate.Snapshot() {
		if strings.HasPrefix(s.Name, t.Name()+" ") {
			names = append(names, s.Name+" "+s.BreakerState)
		}
	}
	require.Equal(t, []string{t.Name() + " passthrough:///" + t.Name() + " closed"}, names)
}
