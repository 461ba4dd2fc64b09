package events_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/workflow"
)

type OrderPlaced struct {
	Order string `json:"order"`
	Cents int    `json:"cents"`
}

var orderPlaced = events.Define[OrderPlaced]("orders.placed", "com.example.order.placed", &events.DefineOptions{
	Source: "/orders", Summary: "An order was placed."})

// placeOrders publishes one OrderPlaced per order of its input, keyed by
// order, and then waits for a signal before it ends, so a test can stop the
// engine while the run is still open.
var placeOrders = workflow.New("place-orders", func(ctx workflow.Context, orders []string) (int, error) {
	for i, o := range orders {
		if err := events.Publish(ctx, orderPlaced, o, OrderPlaced{Order: o, Cents: 100 * (i + 1)}); err != nil {
			return 0, err
		}
	}
	return len(orders), nil
})

type env struct {
	path string
	eng  *chorus.Engine
	st   *events.Store
}

// setup opens an engine with placeOrders registered, and its events
// Store, on a new database file.
func setup(t *testing.T) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chorus.db")
	return open(t, path)
}

func open(t *testing.T, path string) *env {
	t.Helper()
	ctx := context.Background()
	eng, err := chorus.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, eng.Register(placeOrders))
	st, err := events.Open(ctx, path, nil)
	require.NoError(t, err)
	e := &env{path: path, eng: eng, st: st}
	t.Cleanup(func() { e.close(t) })
	return e
}

func (e *env) close(t *testing.T) {
	if e.st != nil {
		require.NoError(t, e.st.Close())
		e.st = nil
	}
	if e.eng != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, e.eng.Close(ctx))
		e.eng = nil
	}
}

func runOrders(t *testing.T, e *env, id string, orders ...string) {
	t.Helper()
	ctx := context.Background()
	r, err := chorus.Start(ctx, e.eng, placeOrders, orders, &chorus.StartOptions{ID: id})
	require.NoError(t, err)
	n, err := r.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, len(orders), n)
}
