package activity_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

func TestNonRetryable(t *testing.T) {
	t.Parallel()
	require.Nil(t, activity.NonRetryable(nil))

	plain := fmt.Errorf("lookup: %w", fs.ErrNotExist)
	err := activity.NonRetryable(plain)
	require.True(t, activity.IsNonRetryable(err))
	require.ErrorIs(t, err, fs.ErrNotExist, "the original error stays in the chain")
	require.False(t, activity.IsNonRetryable(plain))

	typed := activity.NewError("card-declined", "card %d", 4242)
	marked := activity.NonRetryable(typed)
	require.True(t, activity.IsNonRetryable(marked))
	require.False(t, typed.NonRetryable, "the caller's error value is not modified")
	var ae *activity.Error
	require.ErrorAs(t, marked, &ae)
	require.Equal(t, "card-declined", ae.Type)
	require.Equal(t, "card-declined: card 4242", marked.Error())
}

func TestTypeOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", activity.TypeOf(nil))
	require.Equal(t, "*errors.errorString", activity.TypeOf(errors.New("x")))
	require.Equal(t, "*fs.PathError", activity.TypeOf(&fs.PathError{Op: "open", Err: fs.ErrNotExist}))
	require.Equal(t, "rate-limited", activity.TypeOf(fmt.Errorf("call: %w", activity.NewError("rate-limited", "slow down"))))
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	d := (*activity.RetryPolicy)(nil).WithDefaults()
	require.Equal(t, activity.DefaultInitialInterval, d.InitialInterval)
	require.Equal(t, activity.DefaultBackoffCoefficient, d.BackoffCoefficient)
	require.Equal(t, activity.DefaultMaximumInterval, d.MaximumInterval)
	require.Zero(t, d.MaximumAttempts)

	big := (&activity.RetryPolicy{InitialInterval: time.Hour}).WithDefaults()
	require.Equal(t, time.Hour, big.MaximumInterval, "the cap is never below the first interval")

	for _, tc := range []struct {
		p    activity.RetryPolicy
		want string
	}{
		{activity.RetryPolicy{InitialInterval: -1}, "InitialInterval"},
		{activity.RetryPolicy{BackoffCoefficient: 0.5}, "BackoffCoefficient"},
		{activity.RetryPolicy{MaximumInterval: -1}, "MaximumInterval"},
		{activity.RetryPolicy{InitialInterval: time.Minute, MaximumInterval: time.Second}, "below InitialInterval"},
		{activity.RetryPolicy{MaximumAttempts: -2}, "MaximumAttempts"},
	} {
		require.ErrorContains(t, tc.p.Validate(), tc.want)
	}
	require.NoError(t, (&activity.RetryPolicy{}).Validate())
	require.ErrorContains(t, (&activity.Options{StartToCloseTimeout: -time.Second}).Validate(), "StartToCloseTimeout")
}

func TestMerge(t *testing.T) {
	t.Parallel()
	base := &activity.Options{StartToCloseTimeout: time.Minute, RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 5}}
	over := &activity.Options{RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 2}}
	m := activity.Merge(base, over)
	require.Equal(t, time.Minute, m.StartToCloseTimeout)
	require.Equal(t, 2, m.RetryPolicy.MaximumAttempts)
	require.Equal(t, *base, activity.Merge(base, nil))
	require.Equal(t, activity.Options{}, activity.Merge(nil, nil))
}

func TestInvokeOutsideAnyWorkflow(t *testing.T) {
	t.Parallel()
	greet := activity.New("greet", func(ctx context.Context, name string) (string, error) {
		info := activity.GetInfo(ctx)
		return fmt.Sprintf("hello %s (attempt %d, key %s)", name, info.Attempt, info.IdempotencyKey), nil
	})
	codec := history.JSONCodec{}
	ctx := activity.WithInfo(context.Background(), activity.Info{Attempt: 2, IdempotencyKey: "run-1/2"})
	out, err := greet.Invoke(ctx, codec, []byte(`"ada"`))
	require.NoError(t, err)
	require.JSONEq(t, `"hello ada (attempt 2, key run-1/2)"`, string(out))

	_, err = greet.Invoke(ctx, codec, []byte(`{not json`))
	require.True(t, activity.IsNonRetryable(err), "an input that does not decode cannot be fixed by retrying")
	require.ErrorContains(t, err, `activity "greet": decode input`)

	require.Equal(t, activity.Info{}, activity.GetInfo(context.Background()))
	require.Panics(t, func() { activity.New[int, int]("", func(context.Context, int) (int, error) { return 0, nil }) })
	require.Panics(t, func() { activity.New[int, int]("x", nil) })
}
