package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
)

func init() {
	childModes["relay-to-file"] = relayToFileChild
}

// filePublisher is a broker that outlives the relay's process: it appends
// "id key cents" to a file, a line per confirmed publish.
type filePublisher struct {
	path string
	n    atomic.Int64
	// after is called after each confirmed publish with the count so far.
	after func(n int64)
}

func (p *filePublisher) Publish(_ context.Context, m *events.Message) error {
	ev, err := events.DecodeMessage(m.Body)
	if err != nil {
		return err
	}
	var o OrderPlaced
	if err := json.Unmarshal(ev.Data(), &o); err != nil {
		return err
	}
	if err := childproc.AppendLine(p.path, fmt.Sprintf("%s %s %d", m.ID, m.Key, o.Cents)); err != nil {
		return err
	}
	if p.after != nil {
		p.after(p.n.Add(1))
	}
	return nil
}

// relayToFileChild relays the outbox of CHORUS_DB to the file CHORUS_SINK
// in batches of 16 and, after the broker confirmed the 40th event (in the
// middle of the third batch, before the relay marks it sent), says so and
// blocks until the parent kills it.
func relayToFileChild() {
	p := childproc.New("relay-to-file")
	p.Require("CHORUS_DB", "CHORUS_SINK")
	ctx := context.Background()
	st, err := events.Open(ctx, os.Getenv("CHORUS_DB"), nil)
	if err != nil {
		p.Fail("open: %v", err)
	}
	pub := &filePublisher{path: os.Getenv("CHORUS_SINK"), after: func(n int64) {
		if n == 40 {
			p.Say("published 40")
			select {}
		}
	}}
	r, err := events.NewRelay(st, pub, &events.RelayOptions{BatchSize: 16})
	if err != nil {
		p.Fail("relay: %v", err)
	}
	if err := r.Run(ctx); err != nil {
		p.Fail("run: %v", err)
	}
	os.Exit(0)
}

// TestRelaySIGKILLResendsUnconfirmed kills a relay after the broker
// confirmed events it had not yet marked sent; a new relay sends those
// again and the rest, so every event reaches the broker at least once, and
// per key the first deliveries are in publish order.
func TestRelaySIGKILLResendsUnconfirmed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const total = 100
	keys := []string{"k0", "k1", "k2", "k3", "k4"}
	var orders []string
	for i := range total {
		orders = append(orders, keys[i%len(keys)])
	}
	runOrders(t, e, "batch-1", orders...)
	sink := filepath.Join(t.TempDir(), "sink")

	child := testutil.StartChild(t, "relay-to-file", "CHORUS_DB="+e.path, "CHORUS_SINK="+sink)
	killed := child.KillWhen(time.Now().Add(2*time.Minute), func(line string) bool { return line == "published 40" })
	require.True(t, killed, child.Report())

	lines, err := testutil.ReadLines(sink)
	require.NoError(t, err)
	require.Len(t, lines, 40)
	pending, err := e.st.Outbox(context.Background(), false)
	require.NoError(t, err)
	require.Len(t, pending, total-32, "the two batches the relay marked are sent, the third is not")

	r, err := events.NewRelay(e.st, &filePublisher{path: sink}, nil)
	require.NoError(t, err)
	n, err := r.Flush(context.Background())
	require.NoError(t, err)
	require.Equal(t, total-32, n)

	lines, err = testutil.ReadLines(sink)
	require.NoError(t, err)
	require.Len(t, lines, 40+total-32, "8 events were sent twice")
	seen := map[string]bool{}
	perKey := map[string][]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		require.Len(t, f, 3, l)
		if seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		var cents int
		_, err := fmt.Sscan(f[2], &cents)
		require.NoError(t, err)
		perKey[f[1]] = append(perKey[f[1]], cents)
	}
	require.Len(t, seen, total, "every event was delivered")
	for i, k := range keys {
		var want []int
		for j := i; j < total; j += len(keys) {
			want = append(want, 100*(j+1))
		}
		require.Equal(t, want, perKey[k], "key %s in order", k)
	}
	rows, err := e.st.Outbox(context.Background(), false)
	require.NoError(t, err)
	require.Empty(t, rows)
}
