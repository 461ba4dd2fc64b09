package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/internal/cli"
	"github.com/chorusdev/chorus/workflow"
)

type cliShipped struct {
	Order string `json:"order"`
}

var cliShippedDef = events.Define[cliShipped]("shipping.shipped", "com.example.shipped", &events.DefineOptions{Summary: "An order left the warehouse."})

// events outbox lists what the relay has not sent; events asyncapi
// documents what the application declared; events parked lists what the
// inbox gave up on.
func TestEventsCommands(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chorus.db")
	wf := workflow.New("ship", func(ctx workflow.Context, order string) (string, error) {
		return order, events.Publish(ctx, cliShippedDef, order, cliShipped{Order: order})
	})
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: []chorus.Definition{wf}})
	require.NoError(t, err)
	st, err := events.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, st.Declare(ctx, cliShippedDef))
	for _, id := range []string{"o-1", "o-2"} {
		r, err := chorus.Start(ctx, eng, wf, id, &chorus.StartOptions{ID: "ship-" + id})
		require.NoError(t, err)
		_, err = r.Result(ctx)
		require.NoError(t, err)
	}
	in, err := events.NewInbox(st, nil)
	require.NoError(t, err)
	require.NoError(t, in.Handle(ctx, &events.Message{Topic: "payments.received", Body: []byte("not an event")}, nil))
	require.NoError(t, st.Close())
	require.NoError(t, eng.Close(ctx))

	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		require.Equal(t, 0, cli.Run(ctx, args, &out, &errOut), errOut.String())
		return out.String()
	}
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("events", "outbox", path, "--json")), &rows))
	require.Len(t, rows, 2)
	require.Equal(t, "ship-o-1", rows[0]["run"])
	require.Equal(t, "ship-o-2", rows[1]["run"])
	table := run("events", "outbox", path)
	require.Contains(t, table, "SEQ")
	require.Equal(t, 3, strings.Count(table, "\n"), table)

	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("events", "asyncapi", path, "--title", "Shop")), &doc))
	require.Equal(t, "Shop", doc["info"].(map[string]any)["title"])
	require.Contains(t, doc["channels"], "shipping.shipped")

	var parked []map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("events", "parked", path, "--json")), &parked))
	require.Len(t, parked, 1)
	require.Equal(t, "payments.received", parked[0]["topic"])
	require.Equal(t, "not an event", parked[0]["body"])
	require.Contains(t, parked[0]["error"], "malformed")
	require.Contains(t, run("events", "parked", path), "payments.received")

	// chorus serve shows the outbox and the parked messages of such a
	// file on pages of their own.
	url, stop := serve(t, path, "--addr", "127.0.0.1:0")
	get := func(p string) string {
		resp, err := http.Get(url + p)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", p, b)
		return string(b)
	}
	require.Contains(t, get("tables/outbox/"), `data-rows="2"`)
	require.Contains(t, get("tables/outbox/"), `<a href="/runs/ship-o-1">ship-o-1</a>`)
	require.Contains(t, get("tables/parked-messages/"), "payments.received")
	require.Contains(t, get(""), `href="/tables/parked-messages/"`, "in the navigation")
	require.Equal(t, 0, stop())

	var out, errOut bytes.Buffer
	require.Equal(t, 2, cli.Run(ctx, []string{"events"}, &out, &errOut))
	require.Equal(t, 1, cli.Run(ctx, []string{"events", "outbox", filepath.Join(t.TempDir(), "none.db")}, &out, &errOut))
}
