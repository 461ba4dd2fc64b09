package events_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/events/eventstest"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

// relayed runs placeOrders for orders on a new database and returns the
// messages its relay delivered.
func relayed(t *testing.T, orders ...string) []*events.Message {
	t.Helper()
	e := setup(t)
	runOrders(t, e, "batch-1", orders...)
	b := eventstest.New()
	r, err := events.NewRelay(e.st, b, nil)
	require.NoError(t, err)
	n, err := r.Flush(context.Background())
	require.NoError(t, err)
	require.Equal(t, len(orders), n)
	return b.Messages(orderPlaced.Topic())
}

func newInbox(t *testing.T, opts *events.InboxOptions) (*events.Inbox, *events.Store) {
	t.Helper()
	e := setup(t)
	in, err := events.NewInbox(e.st, opts)
	require.NoError(t, err)
	return in, e.st
}

func TestInboxIgnoresDuplicates(t *testing.T) {
	t.Parallel()
	msgs := relayed(t, "o-1", "o-2")
	in, _ := newInbox(t, nil)
	var mu sync.Mutex
	var got []string
	p := func(ctx context.Context, ev event.Event) error {
		r, err := events.DecodeEvent(orderPlaced, ev)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Data.Order)
		return nil
	}
	ctx := context.Background()
	// Out of order and repeated, as brokers redeliver.
	for _, m := range []*events.Message{msgs[1], msgs[0], msgs[1], msgs[0], msgs[1]} {
		require.NoError(t, in.Handle(ctx, m, p))
	}
	require.Equal(t, []string{"o-2", "o-1"}, got)
}

func TestInboxParksPoisonAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	msgs := relayed(t, "bad", "good")
	in, st := newInbox(t, &events.InboxOptions{MaxAttempts: 3})
	b := eventstest.New()
	for _, m := range msgs {
		require.NoError(t, b.Publish(context.Background(), m))
	}
	var mu sync.Mutex
	attempts := map[string]int{}
	done := make(chan struct{})
	p := func(ctx context.Context, ev event.Event) error {
		r, err := events.DecodeEvent(orderPlaced, ev)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		attempts[r.Data.Order]++
		if r.Data.Order == "bad" {
			return errors.New("no such customer")
		}
		close(done)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub := make(chan error, 1)
	go func() { sub <- b.Subscribe(ctx, orderPlaced.Topic(), "billing", in.Handler(p)) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the message after the poison one was not processed")
	}
	cancel()
	require.NoError(t, <-sub)
	require.Equal(t, map[string]int{"bad": 3, "good": 1}, attempts)

	parked, err := st.Parked(context.Background())
	require.NoError(t, err)
	require.Len(t, parked, 1)
	require.Equal(t, "/orders", parked[0].Source)
	require.Equal(t, msgs[0].ID, parked[0].ID)
	require.Equal(t, 3, parked[0].Attempts)
	require.Contains(t, parked[0].Error, "no such customer")
	require.Equal(t, msgs[0].Body, parked[0].Body)

	// Delivered again, a parked message stays parked and is not processed.
	require.NoError(t, in.Handle(context.Background(), msgs[0], p))
	require.Equal(t, 3, attempts["bad"])
}

func TestInboxParksMalformedAtOnce(t *testing.T) {
	t.Parallel()
	in, st := newInbox(t, nil)
	called := false
	m := &events.Message{Topic: "orders.placed", Body: []byte(`{"not":"a cloudevent"}`)}
	require.NoError(t, in.Handle(context.Background(), m, func(context.Context, event.Event) error { called = true; return nil }))
	require.False(t, called)
	parked, err := st.Parked(context.Background())
	require.NoError(t, err)
	require.Len(t, parked, 1)
	require.Equal(t, "", parked[0].Source)
	require.Contains(t, parked[0].ID, "sha256:")
	require.ErrorContains(t, errors.New(parked[0].Error), "malformed")
}

func TestInboxForgetsAfterRetention(t *testing.T) {
	t.Parallel()
	msgs := relayed(t, "o-1")
	e := setup(t)
	clk := clock.NewMock()
	clk.Set(time.Now())
	st, err := events.Open(context.Background(), e.path, &events.Options{Clock: clk})
	require.NoError(t, err)
	defer st.Close()
	in, err := events.NewInbox(st, &events.InboxOptions{Retention: time.Hour})
	require.NoError(t, err)
	n := 0
	p := func(context.Context, event.Event) error { n++; return nil }
	ctx := context.Background()
	require.NoError(t, in.Handle(ctx, msgs[0], p))
	clk.Add(59 * time.Minute)
	require.NoError(t, in.Handle(ctx, msgs[0], p))
	require.Equal(t, 1, n, "remembered within the retention")
	clk.Add(2 * time.Hour)
	require.NoError(t, in.Handle(ctx, msgs[0], p))
	require.Equal(t, 2, n, "forgotten after it")
}

func TestInboxPassesTraceContext(t *testing.T) {
	t.Parallel()
	in, _ := newInbox(t, nil)
	ev := event.New()
	ev.SetID("e-1")
	ev.SetSource("/test")
	ev.SetType("com.example.traced")
	ev.SetExtension(events.ExtTraceParent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	body, err := ev.MarshalJSON()
	require.NoError(t, err)
	var sc trace.SpanContext
	require.NoError(t, in.Handle(context.Background(), &events.Message{Topic: "t", Body: body}, func(ctx context.Context, _ event.Event) error {
		sc = trace.SpanContextFromContext(ctx)
		return nil
	}))
	require.True(t, sc.IsRemote())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sc.TraceID().String())
}

type billing struct {
	Order string
	Paid  bool
}

var awaitPayment = activity.New("await-payment", func(ctx context.Context, order string) (bool, error) {
	return false, activity.ErrResultPending
})

var billOrder = workflow.New("bill-order", func(ctx workflow.Context, order string) (billing, error) {
	paid, err := workflow.ExecuteActivity(ctx, awaitPayment, order).Get(ctx)
	return billing{Order: order, Paid: paid}, err
})

type PaymentReceived struct {
	Order string `json:"order"`
}

var paymentReceived = events.Define[PaymentReceived]("payments.received", "com.example.payment.received", nil)

// StartOn starts one run per event, whatever the repeats; CompleteOn
// completes the run's pending activity, and a repeat is harmless.
func TestStartOnAndCompleteOn(t *testing.T) {
	t.Parallel()
	msgs := relayed(t, "o-1", "o-2")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "billing.db")
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: []chorus.Definition{billOrder, awaitPayment}})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close(ctx)) }()
	st, err := events.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	in, err := events.NewInbox(st, nil)
	require.NoError(t, err)

	start := events.StartOn(eng, orderPlaced, billOrder, func(r events.Received[OrderPlaced]) (string, *chorus.StartOptions) {
		return r.Data.Order, &chorus.StartOptions{ID: "bill-" + r.Data.Order}
	})
	for _, m := range []*events.Message{msgs[0], msgs[1], msgs[0]} {
		require.NoError(t, in.Handle(ctx, m, start))
	}
	// Even bypassing the inbox's memory, a repeat attaches to the run.
	ev0, err := events.DecodeMessage(msgs[0].Body)
	require.NoError(t, err)
	require.NoError(t, start(ctx, ev0))
	for _, id := range []string{"bill-o-1", "bill-o-2"} {
		_, err := eng.Describe(ctx, id)
		require.NoError(t, err)
	}

	complete := events.CompleteOn(eng, paymentReceived, awaitPayment, func(r events.Received[PaymentReceived]) (string, bool) {
		return "bill-" + r.Data.Order + "/2", true
	})
	pay := func(id, order string) event.Event {
		ev := event.New()
		ev.SetID(id)
		ev.SetSource("/payments")
		ev.SetType(paymentReceived.Type())
		require.NoError(t, ev.SetData(event.ApplicationJSON, PaymentReceived{Order: order}))
		return ev
	}
	// The pending attempt must be journaled before it can be completed.
	require.NoError(t, testutil.Await(ctx, eng, "the pending attempt", func() (bool, error) {
		err := complete(ctx, pay("p-1", "o-1"))
		if errors.Is(err, chorus.ErrActivityNotFound) {
			return false, nil
		}
		return err == nil, err
	}))
	require.NoError(t, complete(ctx, pay("p-1", "o-1")), "a repeat is harmless")
	r, err := chorus.Lookup(ctx, eng, billOrder, "bill-o-1")
	require.NoError(t, err)
	res, err := r.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, billing{Order: "o-1", Paid: true}, res)
}
