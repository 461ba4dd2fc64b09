package nats_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/events"
	natsevents "github.com/chorusdev/chorus/events/nats"
)

func TestPublishSubscribeInOrderWithKeys(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	js := connect(t, startServer(t))
	_, err := natsevents.EnsureStream(ctx, js, &natsevents.StreamOptions{Memory: true}, "orders.>")
	require.NoError(t, err)

	pub := natsevents.NewPublisher(js)
	for i := range 5 {
		require.NoError(t, pub.Publish(ctx, &events.Message{Topic: "orders.placed", Key: fmt.Sprintf("k%d", i%2),
			ID: fmt.Sprintf("id-%d", i), Body: []byte(fmt.Sprintf(`{"n":%d}`, i))}))
	}
	// A second publish of an ID is dropped by the stream.
	require.NoError(t, pub.Publish(ctx, &events.Message{Topic: "orders.placed", ID: "id-0", Body: []byte(`{"n":0}`)}))

	sub, err := natsevents.NewSubscriber(js, nil)
	require.NoError(t, err)
	got := make(chan *events.Message, 10)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(sctx, "orders.placed", "billing", func(_ context.Context, m *events.Message) error {
			got <- m
			return nil
		})
	}()
	for i := range 5 {
		m := <-got
		require.Equal(t, fmt.Sprintf(`{"n":%d}`, i), string(m.Body))
		require.Equal(t, fmt.Sprintf("k%d", i%2), m.Key)
		require.Equal(t, "orders.placed", m.Topic)
	}
	cancel()
	require.NoError(t, <-done)
	require.Empty(t, got)

	info, err := js.Stream(ctx, natsevents.DefaultStream)
	require.NoError(t, err)
	si, err := info.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 5, si.State.Msgs)
}

func TestFailedHandlerGetsTheMessageAgainBeforeTheNext(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	js := connect(t, startServer(t))
	_, err := natsevents.EnsureStream(ctx, js, &natsevents.StreamOptions{Memory: true}, "orders.>")
	require.NoError(t, err)
	pub := natsevents.NewPublisher(js)
	for i := range 3 {
		require.NoError(t, pub.Publish(ctx, &events.Message{Topic: "orders.placed", ID: fmt.Sprint(i), Body: []byte(fmt.Sprint(i))}))
	}

	sub, err := natsevents.NewSubscriber(js, nil)
	require.NoError(t, err)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var seen []string
	failed := false
	err = sub.Subscribe(sctx, "orders.placed", "shipping", func(_ context.Context, m *events.Message) error {
		seen = append(seen, string(m.Body))
		if string(m.Body) == "1" && !failed {
			failed = true
			return errors.New("not yet")
		}
		if len(seen) == 4 {
			cancel()
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{"0", "1", "1", "2"}, seen)

	// The group's acknowledgements are durable: a new subscription of the
	// same group starts after them.
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	require.NoError(t, pub.Publish(ctx, &events.Message{Topic: "orders.placed", ID: "3", Body: []byte("3")}))
	var again []string
	require.NoError(t, sub.Subscribe(pctx, "orders.placed", "shipping", func(_ context.Context, m *events.Message) error {
		again = append(again, string(m.Body))
		pcancel()
		return nil
	}))
	require.Equal(t, []string{"3"}, again)
}

func TestSubscriberOptionsAreChecked(t *testing.T) {
	t.Parallel()
	_, err := natsevents.NewSubscriber(nil, &natsevents.SubscriberOptions{MaxAckPending: -1})
	require.ErrorContains(t, err, "MaxAckPending")
}
