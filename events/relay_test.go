package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/events/eventstest"
)

func TestRelayDeliversCloudEventsInOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	runOrders(t, e, "batch-1", "o-1", "o-2", "o-3")

	b := eventstest.New()
	r, err := events.NewRelay(e.st, b, nil)
	require.NoError(t, err)
	n, err := r.Flush(context.Background())
	require.NoError(t, err)
	require.Equal(t, 3, n)

	msgs := b.Messages("orders.placed")
	require.Len(t, msgs, 3)
	for i, m := range msgs {
		ev, err := events.DecodeMessage(m.Body)
		require.NoError(t, err)
		require.Equal(t, m.ID, ev.ID())
		require.Equal(t, "/orders", ev.Source())
		require.Equal(t, "com.example.order.placed", ev.Type())
		require.Equal(t, m.Key, ev.Subject())
		require.Equal(t, "application/json", ev.DataContentType())
		require.False(t, ev.Time().IsZero())
		require.Equal(t, "batch-1", ev.Extensions()[events.ExtRun])
		var p OrderPlaced
		require.NoError(t, json.Unmarshal(ev.Data(), &p))
		require.Equal(t, OrderPlaced{Order: []string{"o-1", "o-2", "o-3"}[i], Cents: 100 * (i + 1)}, p)
	}
	require.NotEqual(t, msgs[0].ID, msgs[1].ID)

	// Nothing is left to send.
	n, err = r.Flush(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	pending, err := e.st.Outbox(context.Background(), false)
	require.NoError(t, err)
	require.Empty(t, pending)
}

func TestReplayDoesNotPublishAgain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	runOrders(t, e, "batch-1", "o-1", "o-2")
	path := e.path
	e.close(t)

	// A new engine on the same file replays the run (a Lookup and Result
	// rebuild nothing live): the outbox keeps its two rows.
	e = open(t, path)
	runOrders(t, e, "batch-2", "o-3")
	rows, err := e.st.Outbox(context.Background(), true)
	require.NoError(t, err)
	require.Len(t, rows, 3)
}

func TestRelayRetriesWithBackoffAndKeepsKeyOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Two events of key "a" around one of key "b".
	runOrders(t, e, "batch-1", "a", "b", "a")

	b := eventstest.New()
	clk := clock.NewMock()
	clk.Set(time.Now())
	st2, err := events.Open(context.Background(), e.path, &events.Options{Clock: clk})
	require.NoError(t, err)
	defer st2.Close()
	r, err := events.NewRelay(st2, b, &events.RelayOptions{MinBackoff: time.Second, MaxBackoff: 4 * time.Second})
	require.NoError(t, err)

	// The broker refuses the first "a": the second "a" waits, "b" goes.
	b.FailWhen(func(m *events.Message) error {
		if m.Key == "a" {
			return errors.New("broker down for a")
		}
		return nil
	})
	n, err := r.Flush(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, b.Messages("orders.placed"), 1)

	rows, err := st2.Outbox(context.Background(), false)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, 1, rows[0].Attempts)
	require.Contains(t, rows[0].LastError, "broker down for a")
	require.Zero(t, rows[1].Attempts)

	// Fixed, but not yet due: nothing is sent.
	b.FailWhen(nil)
	n, err = r.Flush(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)

	clk.Add(time.Second)
	n, err = r.Flush(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	msgs := b.Messages("orders.placed")
	require.Len(t, msgs, 3)
	var keys []string
	var cents []int
	for _, m := range msgs {
		keys = append(keys, m.Key)
		ev, err := events.DecodeMessage(m.Body)
		require.NoError(t, err)
		var p OrderPlaced
		require.NoError(t, json.Unmarshal(ev.Data(), &p))
		cents = append(cents, p.Cents)
	}
	require.Equal(t, []string{"b", "a", "a"}, keys)
	require.Equal(t, []int{200, 100, 300}, cents)
}

func TestOpenRefusesAFileWithoutEngine(t *testing.T) {
	t.Parallel()
	_, err := events.Open(context.Background(), t.TempDir()+"/none.db", nil)
	require.ErrorIs(t, err, events.ErrNotChorusDatabase)
}

// TestRelayFailingKeyDoesNotStarveOthers: a full batch of one refused key
// does not keep the relay from the events of other keys behind it.
func TestRelayFailingKeyDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	runOrders(t, e, "batch-1", "a", "a", "a", "a", "b")
	b := eventstest.New()
	b.FailWhen(func(m *events.Message) error {
		if m.Key == "a" {
			return errors.New("refused")
		}
		return nil
	})
	r, err := events.NewRelay(e.st, b, &events.RelayOptions{BatchSize: 2})
	require.NoError(t, err)
	n, err := r.Flush(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	msgs := b.Messages("orders.placed")
	require.Len(t, msgs, 1)
	require.Equal(t, "b", msgs[0].Key)
	require.Equal(t, 2, b.Attempts(), "the first a, then b; the a's behind the first wait")
}

// TestOpenTwiceKeepsOneOutboxRowPerEvent: opening the events tables again
// (another process, a restart) neither loses nor copies an event twice.
func TestOpenTwiceKeepsOneOutboxRowPerEvent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	runOrders(t, e, "batch-1", "o-1", "o-2")
	st2, err := events.Open(context.Background(), e.path, nil)
	require.NoError(t, err)
	require.NoError(t, st2.Close())
	runOrders(t, e, "batch-2", "o-3")
	rows, err := e.st.Outbox(context.Background(), true)
	require.NoError(t, err)
	require.Len(t, rows, 3)
}
