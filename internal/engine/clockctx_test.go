package engine

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

type ctxKey struct{}

func TestClockTimeoutContext(t *testing.T) {
	clk := clock.NewMock()
	parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	defer cancelParent()

	ctx, cancel := withClockTimeout(parent, clk, time.Second)
	defer cancel()
	require.Equal(t, "v", ctx.Value(ctxKey{}), "values come from the parent")
	dl, ok := ctx.Deadline()
	require.True(t, ok)
	require.Equal(t, clk.Now().Add(time.Second), dl)
	clk.Add(time.Second - 1)
	require.NoError(t, ctx.Err())
	clk.Add(1)
	<-ctx.Done()
	require.Equal(t, context.DeadlineExceeded, ctx.Err())
	require.Equal(t, context.DeadlineExceeded, context.Cause(ctx))
	require.NoError(t, parent.Err())

	// Canceled by its parent: the parent's error, and the timer is stopped.
	ctx, cancel = withClockTimeout(parent, clk, time.Second)
	defer cancel()
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	cancelParent()
	<-child.Done()
	require.Equal(t, context.Canceled, ctx.Err())
	require.Equal(t, context.Canceled, child.Err())
	clk.Add(time.Hour)
	require.Equal(t, context.Canceled, ctx.Err(), "the first end wins")

	// Canceled by its cancel function.
	ctx, cancel = withClockTimeout(context.Background(), clk, time.Second)
	cancel()
	<-ctx.Done()
	require.Equal(t, context.Canceled, ctx.Err())

	// A parent with an earlier deadline keeps it.
	early, cancelEarly := withClockTimeout(context.Background(), clk, time.Second)
	defer cancelEarly()
	ctx, cancel = withClockTimeout(early, clk, time.Minute)
	defer cancel()
	dl, _ = ctx.Deadline()
	require.Equal(t, clk.Now().Add(time.Second), dl)
	clk.Add(time.Second)
	<-ctx.Done()
	require.Equal(t, context.DeadlineExceeded, ctx.Err())
}
