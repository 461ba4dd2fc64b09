//go:build browser

package ui_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/ui"
	"github.com/chorusdev/chorus/workflow"
)

// refusingBroker refuses every event, as a broker that is down does.
type refusingBroker struct{}

func (refusingBroker) Publish(context.Context, *events.Message) error {
	return errors.New("nats: no responders available for request")
}

type shipped struct {
	Order string `json:"order"`
}

var shippedEvent = events.Define[shipped]("shipping.shipped", "com.example.order.shipped",
	&events.DefineOptions{Source: "/shipping", Summary: "An order left the warehouse."})

// TestBrowserMorePages opens the pages that packages around the engine
// fill, in headless Chromium, over one database: the models of package
// decide, the breakers and limiters of package integrate, and the outbox
// and parked messages of package events (ui.Options.Tables), checking
// what each shows and taking its screenshot for the README.
func TestBrowserMorePages(t *testing.T) {
	ctx := newBrowser(t) // first: it skips without Chromium
	f := newModelsFixture(t)

	// Two orders shipped while the broker is down: their events wait in
	// the outbox after a refused attempt. A payment notice the inbox could
	// not process is parked.
	ship := workflow.New("ship-order", func(ctx workflow.Context, order string) (string, error) {
		return "TRK-" + order, events.Publish(ctx, shippedEvent, order, shipped{Order: order})
	})
	require.NoError(t, f.eng.Register(ship))
	st, err := events.Open(context.Background(), f.path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	for _, id := range []string{"ship-A-1001", "ship-A-1002"} {
		r, err := chorus.Start(context.Background(), f.eng, ship, id[5:], &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		_, err = r.Result(context.Background())
		require.NoError(t, err)
	}
	relay, err := events.NewRelay(st, refusingBroker{}, &events.RelayOptions{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	require.NoError(t, err)
	sent, err := relay.Flush(context.Background())
	require.NoError(t, err)
	require.Zero(t, sent)
	in, err := events.NewInbox(st, &events.InboxOptions{MaxAttempts: 1})
	require.NoError(t, err)
	notice := event.New()
	notice.SetID("pay-9001")
	notice.SetSource("/payments")
	notice.SetType("com.example.payment.received")
	require.NoError(t, notice.SetData("application/json", map[string]any{"customer": "C-77", "cents": 4900}))
	body, err := notice.MarshalJSON()
	require.NoError(t, err)
	require.NoError(t, in.Handle(context.Background(), &events.Message{Topic: "payments.received", Body: body},
		func(context.Context, event.Event) error { return errors.New("billing: no customer C-77") }))

	h, err := ui.Handler(f.eng, &ui.Options{
		Integrations: func() []integrate.Stats {
			return []integrate.Stats{
				{Name: "shipping-api", Kind: "breaker+endpoint", BreakerState: "open", Opened: 2, Rejected: 14, Calls: 120, Failures: 9, Retries: 11, Fallbacks: 14},
				{Name: "payments-api", Kind: "breaker+limiter+endpoint", BreakerState: "closed", Calls: 480, Failures: 1, Retries: 1, LimiterWaits: 37, WaitTime: 3100 * time.Millisecond},
			}
		},
		Tables: []ui.Table{
			{Name: "Outbox", Intro: events.OutboxIntro, Empty: events.OutboxEmpty, RunColumn: "Run", Rows: st.OutboxTable},
			{Name: "Parked messages", Intro: events.ParkedIntro, Empty: events.ParkedEmpty, Rows: st.ParkedTable},
		},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &tab{ctx: ctx, base: srv.URL, shots: screenshotDir(t)}

	t.Run("Models", func(t *testing.T) {
		b.open(t, "/models/", http.StatusOK, "#models")
		require.Contains(t, b.text(t, "#models"), "credit-score")
		require.Contains(t, b.text(t, "#models"), "fraud-check")
		b.screenshot(t, "dashboard-models.png")
		b.open(t, "/models/credit-score", http.StatusOK, "#model")
		require.Contains(t, b.text(t, "#model-last-switch"), "agreement 0.333 below 0.800")
		b.screenshot(t, "dashboard-model.png")
	})
	t.Run("Integrations", func(t *testing.T) {
		b.open(t, "/integrations/", http.StatusOK, "#integrations")
		require.Equal(t, []string{"open", "closed"}, b.attrs(t, "#integrations tr[data-integration]", "data-breaker"))
		b.screenshot(t, "dashboard-integrations.png")
	})
	t.Run("Outbox", func(t *testing.T) {
		b.open(t, "/", http.StatusOK, "#runs")
		b.submit(t, `nav a[data-table="outbox"]`, "#table")
		require.Equal(t, []string{"2"}, b.attrs(t, "#table", "data-rows"))
		require.Contains(t, b.text(t, "#table"), "no responders available")
		b.screenshot(t, "dashboard-outbox.png")
		// A run ID leads to its run.
		b.submit(t, `#table a[href$="/runs/ship-A-1001"]`, "#timeline")
	})
	t.Run("Parked", func(t *testing.T) {
		b.submit(t, `nav a[data-table="parked-messages"]`, "#table")
		require.Equal(t, []string{"1"}, b.attrs(t, "#table", "data-rows"))
		require.Contains(t, b.text(t, "#table"), "billing: no customer C-77")
		require.Contains(t, b.text(t, "#table"), "pay-9001")
		b.screenshot(t, "dashboard-parked.png")
	})
}
