package nats_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/events"
	natsevents "github.com/chorusdev/chorus/events/nats"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
)

// sayingPublisher reports each publish the broker confirmed on the
// child's standard output, so the parent can kill it mid-relay.
type sayingPublisher struct {
	p   *childproc.Proc
	pub events.Publisher
	n   int
}

func (s *sayingPublisher) Publish(ctx context.Context, m *events.Message) error {
	if err := s.pub.Publish(ctx, m); err != nil {
		return err
	}
	s.n++
	s.p.Say("sent %d", s.n)
	return nil
}

// relayChild relays the outbox of CHORUS_DB to the NATS server at
// CHORUS_NATS in small batches until it is killed.
func relayChild() {
	p := childproc.New("relay-to-nats")
	p.Require("CHORUS_DB", "CHORUS_NATS")
	ctx := context.Background()
	eng, err := chorus.Open(ctx, os.Getenv("CHORUS_DB"), nil)
	if err != nil {
		p.Fail("open engine: %v", err)
	}
	st, err := events.Open(ctx, os.Getenv("CHORUS_DB"), nil)
	if err != nil {
		p.Fail("open events: %v", err)
	}
	nc, err := natsgo.Connect(os.Getenv("CHORUS_NATS"))
	if err != nil {
		p.Fail("connect: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		p.Fail("jetstream: %v", err)
	}
	r, err := events.NewRelay(st, &sayingPublisher{p: p, pub: natsevents.NewPublisher(js)}, &events.RelayOptions{BatchSize: 7})
	if err != nil {
		p.Fail("relay: %v", err)
	}
	_ = eng
	for {
		if _, err := r.Flush(ctx); err != nil {
			p.Fail("flush: %v", err)
		}
	}
}

// A relay SIGKILLed in the middle of its work loses nothing: the next
// relay sends every event it had not marked sent, and the stream, which
// drops a second publish of an ID, holds each event exactly once.
func TestRelayKilledMidwayLosesNoEvent(t *testing.T) {
	t.Parallel()
	const n = 120
	ctx := testContext(t)
	url := startServer(t)
	js := connect(t, url)
	_, err := natsevents.EnsureStream(ctx, js, nil, "ticks.>")
	require.NoError(t, err)

	path := filepath.Join(t.TempDir(), "chorus.db")
	eng, err := chorus.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, eng.Register(ticker))
	st, err := events.Open(ctx, path, nil)
	require.NoError(t, err)
	run, err := chorus.Start(ctx, eng, ticker, n, &chorus.StartOptions{ID: "ticker-1"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	require.NoError(t, eng.Close(ctx))

	child := testutil.StartChild(t, "relay-to-nats", "CHORUS_DB="+path, "CHORUS_NATS="+url)
	killed := child.KillWhen(time.Now().Add(2*time.Minute), func(line string) bool { return line == "sent 50" })
	require.True(t, killed, "the child ended before the kill point:\n%s", child.Report())

	// Some events were sent but not marked, and none after the kill.
	eng, err = chorus.Open(ctx, path, nil)
	require.NoError(t, err)
	defer eng.Close(ctx)
	st, err = events.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	pending, err := st.Outbox(ctx, false)
	require.NoError(t, err)
	require.Greater(t, len(pending), n-50, "rows marked sent beyond what the broker confirmed")
	require.Less(t, len(pending), n)

	r, err := events.NewRelay(st, natsevents.NewPublisher(js), nil)
	require.NoError(t, err)
	for {
		sent, err := r.Flush(ctx)
		require.NoError(t, err)
		if sent == 0 {
			break
		}
	}
	pending, err = st.Outbox(ctx, false)
	require.NoError(t, err)
	require.Empty(t, pending)

	// Read the stream: every tick once, and each key's ticks in order.
	stream, err := js.Stream(ctx, natsevents.DefaultStream)
	require.NoError(t, err)
	c, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	seen := map[int]bool{}
	last := map[string]int{}
	for len(seen) < n {
		m, err := c.Next(jetstream.FetchMaxWait(30 * time.Second))
		require.NoError(t, err)
		ev, err := events.DecodeMessage(m.Data())
		require.NoError(t, err)
		var tk Tick
		require.NoError(t, json.Unmarshal(ev.Data(), &tk))
		require.False(t, seen[tk.N], "tick %d stored twice", tk.N)
		seen[tk.N] = true
		key := ev.Subject()
		if prev, ok := last[key]; ok {
			require.Greater(t, tk.N, prev, "key %s out of order", key)
		}
		last[key] = tk.N
	}
	si, err := stream.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, n, si.State.Msgs, strconv.Itoa(len(seen)))
}
