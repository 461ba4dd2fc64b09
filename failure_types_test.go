package chorus_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// An activity result over MaxPayloadBytes fails the activity at once, not
// retried, with a typed *LimitError that workflow code and the caller of
// Result can match.
func TestActivityResultOverPayloadLimit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var attempts counter
	echo := activity.New("echo", func(ctx context.Context, s string) (string, error) {
		attempts.inc("echo")
		return s + s, nil
	})
	type seen struct {
		Is, As        bool
		Limit, Type   string
		NonRetryable  bool
		AttemptsInErr int
	}
	wf := workflow.New("wf", func(ctx workflow.Context, s string) (seen, error) {
		_, err := workflow.ExecuteActivity(ctx, echo, s).Get(ctx)
		var le *chorus.LimitError
		var ae *activity.Error
		var wae *workflow.ActivityError
		v := seen{Is: errors.Is(err, chorus.ErrLimitExceeded), As: errors.As(err, &le)}
		if v.As {
			v.Limit = le.Limit
		}
		if errors.As(err, &ae) {
			v.Type, v.NonRetryable = ae.Type, ae.NonRetryable
		}
		if errors.As(err, &wae) {
			v.AttemptsInErr = wae.Attempt
		}
		if strings.HasPrefix(s, "fail") {
			return v, err
		}
		return v, nil
	})
	eng, _ := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxPayloadBytes: 3000},
		DefaultActivityOptions: &activity.Options{RetryPolicy: fastRetry(5)}}, wf, echo)

	run, err := chorus.Start(ctx, eng, wf, strings.Repeat("x", 2000), &chorus.StartOptions{ID: "seen"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, seen{Is: true, As: true, Limit: "MaxPayloadBytes", Type: activity.TypeLimitExceeded, NonRetryable: true, AttemptsInErr: 1}, got)
	require.Equal(t, 1, attempts.get("echo"), "a result over the limit is not retried")

	run, err = chorus.Start(ctx, eng, wf, "fail"+strings.Repeat("x", 2000), &chorus.StartOptions{ID: "fails"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrLimitExceeded, "Result: %v", err)
	var le *chorus.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, "MaxPayloadBytes", le.Limit)
	require.EqualValues(t, 3000, le.Max)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.Equal(t, activity.TypeLimitExceeded, we.Type)
	require.NotContains(t, err.Error(), "*engine")
	require.NotContains(t, err.Error(), "engine.")
}

// namedType is what a recorded failure type must look like: a documented
// name, never a Go type with a pointer star or a package path.
var namedType = regexp.MustCompile(`^[A-Z][A-Za-z]*$`)

// failureTypes returns the type of every failure recorded in run id's
// journal and row, causes included.
func failureTypes(t *testing.T, eng *chorus.Engine, id string) []string {
	t.Helper()
	x, err := chorus.History(context.Background(), eng, id)
	require.NoError(t, err)
	var out []string
	add := func(b []byte) {
		if len(b) == 0 {
			return
		}
		var f history.Failure
		require.NoError(t, history.JSONCodec{}.Unmarshal(b, &f))
		for c := &f; c != nil; c = c.Cause {
			out = append(out, c.Type)
		}
	}
	add(x.Run.Failure)
	for _, ev := range x.Events {
		switch ev.Type {
		case history.EventActivityFailed, history.EventChildFailed, history.EventRunFailed, history.EventRunCanceled,
			history.EventSignalDelivered, history.EventRunTerminated:
			add(ev.Payload)
		}
	}
	return out
}

// Every failure the engine records itself has a documented type name.
func TestRecordedFailureTypesAreNamed(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	once := &activity.RetryPolicy{MaximumAttempts: 1}
	panics := activity.New("panics", func(ctx context.Context, _ int) (int, error) { panic("boom") }).
		WithOptions(activity.Options{RetryPolicy: once})
	takesInt := activity.New("takes", func(ctx context.Context, n int) (int, error) { return n, nil })
	sendsString := activity.New("takes", func(ctx context.Context, s string) (int, error) { return 0, nil }).
		WithOptions(activity.Options{RetryPolicy: once})
	slow := activity.New("slow", func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}).WithOptions(activity.Options{StartToCloseTimeout: 20 * time.Millisecond, RetryPolicy: once})
	silent := activity.New("silent", func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}).WithOptions(activity.Options{HeartbeatTimeout: 20 * time.Millisecond, RetryPolicy: once})
	big := activity.New("big", func(ctx context.Context, _ int) (string, error) { return strings.Repeat("x", 4000), nil })
	call := func(name string, f func(workflow.Context) error) *workflow.Definition[int, int] {
		return workflow.New(name, func(ctx workflow.Context, _ int) (int, error) { return 0, f(ctx) })
	}
	wfs := map[string]*workflow.Definition[int, int]{
		activity.TypePanic: call("panic", func(ctx workflow.Context) error {
			_, err := workflow.ExecuteActivity(ctx, panics, 1).Get(ctx)
			return err
		}),
		activity.TypeInvalidPayload: call("input", func(ctx workflow.Context) error {
			_, err := workflow.ExecuteActivity(ctx, sendsString, "not a number").Get(ctx)
			return err
		}),
		activity.TypeStartToCloseTimeout: call("timeout", func(ctx workflow.Context) error {
			_, err := workflow.ExecuteActivity(ctx, slow, 1).Get(ctx)
			return err
		}),
		activity.TypeHeartbeatTimeout: call("heartbeat", func(ctx workflow.Context) error {
			_, err := workflow.ExecuteActivity(ctx, silent, 1).Get(ctx)
			return err
		}),
		activity.TypeLimitExceeded: call("limit", func(ctx workflow.Context) error {
			_, err := workflow.ExecuteActivity(ctx, big, 1).Get(ctx)
			return err
		}),
		chorus.FailureTypeWorkflowPanic: call("wfpanic", func(ctx workflow.Context) error {
			workflow.Sleep(ctx, time.Millisecond) // so that the run exists before it panics
			panic("workflow boom")
		}),
		chorus.FailureTypeLimitExceeded + "/history": call("long", func(ctx workflow.Context) error {
			for range 10 {
				workflow.Sleep(ctx, time.Millisecond)
			}
			return nil
		}),
	}
	defs := []chorus.Definition{panics, takesInt, slow, silent, big}
	for _, wf := range wfs {
		defs = append(defs, wf)
	}
	eng, _ := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxPayloadBytes: 3000, MaxHistoryEvents: 8}}, defs...)
	for want, wf := range wfs {
		run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: wf.Name()})
		require.NoError(t, err)
		_, err = run.Result(ctx)
		require.Error(t, err, wf.Name())
		types := failureTypes(t, eng, wf.Name())
		require.NotEmpty(t, types, wf.Name())
		want, _, _ = strings.Cut(want, "/")
		require.Contains(t, types, want, "run %s recorded %v", wf.Name(), types)
		for _, typ := range types {
			require.Regexp(t, namedType, typ, "run %s recorded %v", wf.Name(), types)
		}
	}
}
