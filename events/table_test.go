package events_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/events/eventstest"
	"github.com/chorusdev/chorus/ui"
)

// The outbox's undelivered events and the parked messages on the
// dashboard's pages, as an application mounts them.
func TestDashboardTables(t *testing.T) {
	t.Parallel()
	e := setup(t)
	runOrders(t, e, "orders-1", "o-1", "o-2") // no relay runs: both stay in the outbox
	in, err := events.NewInbox(e.st, nil)
	require.NoError(t, err)
	bad := &events.Message{Topic: "orders.placed", Body: []byte(`{"not":"a cloudevent"}`)}
	require.NoError(t, in.Handle(context.Background(), bad, func(context.Context, event.Event) error { return nil }))

	h, err := ui.Handler(e.eng, &ui.Options{Tables: []ui.Table{
		{Name: "Outbox", Intro: events.OutboxIntro, Empty: events.OutboxEmpty, RunColumn: "Run", Rows: e.st.OutboxTable},
		{Name: "Parked messages", Intro: events.ParkedIntro, Empty: events.ParkedEmpty, Rows: e.st.ParkedTable},
	}})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(path string) string {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", path, b)
		return string(b)
	}

	page := get("/tables/outbox/")
	require.Contains(t, page, `data-rows="2"`)
	require.Contains(t, page, `<a href="/runs/orders-1">orders-1</a>`, "run IDs link to their run")
	require.Contains(t, page, `href="/tables/parked-messages/"`, "the other table is in the navigation")

	var parked struct {
		Header []string   `json:"header"`
		Rows   [][]string `json:"rows"`
	}
	require.NoError(t, json.Unmarshal([]byte(get("/api/tables/parked-messages")), &parked))
	require.Len(t, parked.Rows, 1)
	cell := func(col string) string {
		for i, h := range parked.Header {
			if h == col {
				return parked.Rows[0][i]
			}
		}
		t.Fatalf("no column %q in %v", col, parked.Header)
		return ""
	}
	require.Equal(t, "orders.placed", cell("Topic"))
	require.Contains(t, cell("Error"), "malformed")
	require.Equal(t, `{"not":"a cloudevent"}`, cell("Body"))

	// Delivered: the outbox page says so.
	relay, err := events.NewRelay(e.st, eventstest.New(), nil)
	require.NoError(t, err)
	n, err := relay.Flush(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	page = get("/tables/outbox/")
	require.Contains(t, page, `data-rows="0"`)
	require.Contains(t, page, strings.ReplaceAll(events.OutboxEmpty, "'", "&#39;"))
}
