package nats_test

import (
	"context"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/events/nats/embedded"
	"github.com/chorusdev/chorus/workflow"
)

// startServer starts an in-process NATS server with JetStream for the
// test and returns its URL.
func startServer(t testing.TB) string {
	t.Helper()
	s, err := embedded.Start(&embedded.Options{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s.URL()
}

// connect returns a JetStream context on the server at url, closed at the
// end of the test.
func connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := natsgo.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

type Tick struct {
	N int `json:"n"`
}

var tick = events.Define[Tick]("ticks.made", "com.example.tick", nil)

// ticker publishes n ticks, keyed by n modulo 4.
var ticker = workflow.New("ticker", func(ctx workflow.Context, n int) (int, error) {
	for i := range n {
		if err := events.Publish(ctx, tick, string(rune('a'+i%4)), Tick{N: i}); err != nil {
			return 0, err
		}
	}
	return n, nil
})
