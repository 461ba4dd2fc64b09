package events_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/events/eventstest"
)

// TestWakeupDeliversWithoutPolling: with a poll interval of an hour, only
// the Wakeup observer can make the running relay deliver a new event.
func TestWakeupDeliversWithoutPolling(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	w := events.NewWakeup(nil)
	eng, err := chorus.Open(ctx, path, &chorus.Options{Observer: w})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close(context.Background())) }()
	require.NoError(t, eng.Register(placeOrders))
	st, err := events.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()

	b := eventstest.New()
	r, err := events.NewRelay(st, b, &events.RelayOptions{PollInterval: time.Hour, Wakeup: w})
	require.NoError(t, err)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()

	// The relay's first pass may run before or after the run commits; the
	// wakeup covers the second case.
	run, err := chorus.Start(ctx, eng, placeOrders, []string{"o-1"}, nil)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	msgs, err := b.WaitFor(ctx, "orders.placed", 1)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	stop()
	require.NoError(t, <-done)
}
