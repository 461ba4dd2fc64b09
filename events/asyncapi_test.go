package events_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/events/eventstest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

type StockReserved struct {
	Order string         `json:"order"`
	Lines []StockLine    `json:"lines"`
	At    time.Time      `json:"at"`
	Note  string         `json:"note,omitempty"`
	Tags  map[string]int `json:"tags,omitempty"`
}

type StockLine struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

var stockReserved = events.Define[StockReserved]("inventory.reserved", "com.example.stock.reserved", &events.DefineOptions{
	Source: "/inventory", Summary: "Stock was reserved for an order."})

func TestAsyncAPIGolden(t *testing.T) {
	t.Parallel()
	got, err := events.AsyncAPI(stockReserved, orderPlaced)
	require.NoError(t, err)
	golden := filepath.Join("testdata", "asyncapi.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))

	var doc struct {
		AsyncAPI string `json:"asyncapi"`
		Channels map[string]struct {
			Address string `json:"address"`
		} `json:"channels"`
		Operations map[string]struct {
			Action string `json:"action"`
		} `json:"operations"`
	}
	require.NoError(t, json.Unmarshal(got, &doc))
	require.Equal(t, "3.0.0", doc.AsyncAPI)
	require.Equal(t, "orders.placed", doc.Channels["orders.placed"].Address)
	require.Equal(t, "send", doc.Operations["send.com.example.order.placed"].Action)
}

func TestAsyncAPIRefusesDuplicates(t *testing.T) {
	t.Parallel()
	again := events.Define[int]("orders.placed", "com.example.order.placed", nil)
	_, err := events.AsyncAPI(orderPlaced, again)
	require.ErrorIs(t, err, events.ErrInvalidDefinition)
}

// TestAsyncAPIDescribesWhatTheRelaySends checks a relayed CloudEvent
// against the payload schema of its message: every required attribute is
// there, and the constants match.
func TestAsyncAPIDescribesWhatTheRelaySends(t *testing.T) {
	t.Parallel()
	e := setup(t)
	runOrders(t, e, "batch-1", "o-1")
	b := eventstest.New()
	r, err := events.NewRelay(e.st, b, nil)
	require.NoError(t, err)
	_, err = r.Flush(context.Background())
	require.NoError(t, err)
	msgs := b.Messages("orders.placed")
	require.Len(t, msgs, 1)
	var body map[string]any
	require.NoError(t, json.Unmarshal(msgs[0].Body, &body))

	doc, err := events.AsyncAPI(orderPlaced)
	require.NoError(t, err)
	var d struct {
		Components struct {
			Messages map[string]struct {
				Payload struct {
					Required   []string                  `json:"required"`
					Properties map[string]map[string]any `json:"properties"`
				} `json:"payload"`
			} `json:"messages"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(doc, &d))
	p := d.Components.Messages["com.example.order.placed"].Payload
	require.NotEmpty(t, p.Required)
	for _, f := range p.Required {
		require.Contains(t, body, f)
	}
	for name, prop := range p.Properties {
		if c, ok := prop["const"]; ok {
			require.Equal(t, c, body[name], name)
		}
	}
	data := body["data"].(map[string]any)
	for _, f := range p.Properties["data"]["required"].([]any) {
		require.Contains(t, data, f)
	}
}

func TestDeclareAndCatalog(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	require.NoError(t, e.st.Declare(ctx, orderPlaced, stockReserved))
	defs, err := e.st.Catalog(ctx)
	require.NoError(t, err)
	require.Len(t, defs, 2)
	fromDB, err := events.AsyncAPI(defs...)
	require.NoError(t, err)
	fromCode, err := events.AsyncAPI(orderPlaced, stockReserved)
	require.NoError(t, err)
	require.JSONEq(t, string(fromCode), string(fromDB))
}
