package events_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/chorusotel"
	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/events/eventstest"
	"github.com/chorusdev/chorus/workflow"
)

// traceOf returns the trace ID the run sees.
var traceOf = workflow.New("trace-of", func(ctx workflow.Context, order string) (string, error) {
	return chorusotel.SpanContext(ctx).TraceID().String(), nil
})

// TestTraceCrossesTheBroker: the trace context of the context that
// started the publishing run travels in the event's traceparent, and the
// run the consumer starts from the event belongs to that trace.
func TestTraceCrossesTheBroker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	props := []chorus.ContextPropagator{chorusotel.Propagator()}

	pubPath := filepath.Join(dir, "orders.db")
	pub, err := chorus.Open(ctx, pubPath, &chorus.Options{ContextPropagators: props, Definitions: []chorus.Definition{placeOrders}})
	require.NoError(t, err)
	defer func() { require.NoError(t, pub.Close(ctx)) }()
	pubSt, err := events.Open(ctx, pubPath, nil)
	require.NoError(t, err)
	defer pubSt.Close()

	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sctx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))
	r, err := chorus.Start(sctx, pub, placeOrders, []string{"o-1"}, &chorus.StartOptions{ID: "orders-1"})
	require.NoError(t, err)
	_, err = r.Result(ctx)
	require.NoError(t, err)

	b := eventstest.New()
	relay, err := events.NewRelay(pubSt, b, nil)
	require.NoError(t, err)
	_, err = relay.Flush(ctx)
	require.NoError(t, err)
	msgs := b.Messages(orderPlaced.Topic())
	require.Len(t, msgs, 1)
	ev, err := events.DecodeMessage(msgs[0].Body)
	require.NoError(t, err)
	require.Contains(t, ev.Extensions()[events.ExtTraceParent], traceID.String())

	subPath := filepath.Join(dir, "inventory.db")
	sub, err := chorus.Open(ctx, subPath, &chorus.Options{ContextPropagators: props, Definitions: []chorus.Definition{traceOf}})
	require.NoError(t, err)
	defer func() { require.NoError(t, sub.Close(ctx)) }()
	subSt, err := events.Open(ctx, subPath, nil)
	require.NoError(t, err)
	defer subSt.Close()
	in, err := events.NewInbox(subSt, nil)
	require.NoError(t, err)
	require.NoError(t, in.Handle(ctx, msgs[0], events.StartOn(sub, orderPlaced, traceOf,
		func(r events.Received[OrderPlaced]) (string, *chorus.StartOptions) {
			return r.Data.Order, &chorus.StartOptions{ID: "reserve-" + r.Data.Order}
		})))
	r2, err := chorus.Lookup(ctx, sub, traceOf, "reserve-o-1")
	require.NoError(t, err)
	got, err := r2.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, traceID.String(), got)
}
