package nats_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/events"
	natsevents "github.com/chorusdev/chorus/events/nats"
	"github.com/chorusdev/chorus/workflow"
)

// benchEnv is an engine whose runs publish ticks, its relay to an
// in-process NATS server, and a subscription of the ticks.
type benchEnv struct {
	eng   *chorus.Engine
	st    *events.Store
	relay *events.Relay
	sub   *natsevents.Subscriber
	wake  *events.Wakeup
}

func newBenchEnv(b *testing.B) *benchEnv {
	ctx := testContext(b)
	js := connect(b, startServer(b))
	_, err := natsevents.EnsureStream(ctx, js, nil, "ticks.>")
	require.NoError(b, err)
	path := filepath.Join(b.TempDir(), "chorus.db")
	wake := events.NewWakeup(nil)
	eng, err := chorus.Open(ctx, path, &chorus.Options{Observer: wake})
	require.NoError(b, err)
	require.NoError(b, eng.Register(ticker, oneTick))
	b.Cleanup(func() { _ = eng.Close(context.Background()) })
	st, err := events.Open(ctx, path, nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	relay, err := events.NewRelay(st, natsevents.NewPublisher(js), &events.RelayOptions{Wakeup: wake})
	require.NoError(b, err)
	sub, err := natsevents.NewSubscriber(js, &natsevents.SubscriberOptions{MaxAckPending: 256})
	require.NoError(b, err)
	return &benchEnv{eng: eng, st: st, relay: relay, sub: sub, wake: wake}
}

// oneTick publishes one tick.
var oneTick = workflow.New("one-tick", func(ctx workflow.Context, n int) (int, error) {
	return n, events.Publish(ctx, tick, "k", Tick{N: n})
})

// BenchmarkOutboxToConsumer measures the throughput of the outbox, once
// filled: the relay publishes b.N events to JetStream and a subscriber
// receives them all.
func BenchmarkOutboxToConsumer(b *testing.B) {
	e := newBenchEnv(b)
	ctx := testContext(b)
	// Fill the outbox: runs of 100 events each.
	for i := 0; i < b.N; i += 100 {
		r, err := chorus.Start(ctx, e.eng, ticker, min(100, b.N-i), nil)
		require.NoError(b, err)
		_, err = r.Result(ctx)
		require.NoError(b, err)
	}
	var got atomic.Int64
	done := make(chan struct{})
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	subDone := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() {
		subDone <- e.sub.Subscribe(sctx, "ticks.made", "bench", func(context.Context, *events.Message) error {
			if got.Add(1) == int64(b.N) {
				close(done)
			}
			return nil
		})
	}()
	for {
		n, err := e.relay.Flush(ctx)
		require.NoError(b, err)
		if n == 0 {
			break
		}
	}
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	require.NoError(b, <-subDone)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkPublishToConsumerLatency measures the latency of one event end
// to end: from chorus.Start of a run that publishes it (the run starts,
// runs, commits the step with its outbox row) to its receipt by a NATS
// subscriber, with the relay running and woken by the engine's commits:
// b.N runs, one after another, each publishing one event.
func BenchmarkPublishToConsumerLatency(b *testing.B) {
	e := newBenchEnv(b)
	ctx := testContext(b)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	relayDone := make(chan error, 1)
	go func() { relayDone <- e.relay.Run(rctx) }()
	received := make(chan time.Time, 1)
	subDone := make(chan error, 1)
	go func() {
		subDone <- e.sub.Subscribe(rctx, "ticks.made", "bench", func(context.Context, *events.Message) error {
			received <- time.Now()
			return nil
		})
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		r, err := chorus.Start(ctx, e.eng, oneTick, i, nil)
		require.NoError(b, err)
		at := <-received
		lat = append(lat, at.Sub(start))
		_, err = r.Result(ctx)
		require.NoError(b, err)
	}
	b.StopTimer()
	cancel()
	require.NoError(b, <-relayDone)
	require.NoError(b, <-subDone)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
