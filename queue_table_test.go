package chorus_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/ui"
)

// TestQueuesTableInTheDashboard mounts Engine.QueuesTable as a page of the
// dashboard: a queue's depth, running runs, oldest wait and wait
// percentiles, on the engine's clock.
func TestQueuesTableInTheDashboard(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
	g := newGateRecorder()
	wf, act := queueDefs(g, "q-table")
	eng, _ := setup(t, &chorus.Options{Clock: mock, Queues: []chorus.Queue{{Name: "one", Concurrency: 1}, {Name: "idle"}}}, wf, act)
	first, err := chorus.Start(ctx, eng, wf, "first", &chorus.StartOptions{Queue: "one"})
	require.NoError(t, err)
	recv(t, g.entered, "the first run")
	mock.Add(3 * time.Second)
	_, err = chorus.Start(ctx, eng, wf, "second", &chorus.StartOptions{Queue: "one"})
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, wf, "third", &chorus.StartOptions{Queue: "one"})
	require.NoError(t, err)

	h, err := ui.Handler(eng, &ui.Options{Tables: []ui.Table{{Name: "Queues", Rows: eng.QueuesTable}}})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/tables/queues", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var got struct {
		Header []string   `json:"header"`
		Rows   [][]string `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, []string{"Queue", "Waiting", "Running", "Oldest waiting since", "Wait p50", "Wait p95", "Wait max", "Activities running", "Activities waiting"}, got.Header)
	require.Equal(t, [][]string{
		{"idle", "0", "0", "", "", "", "", "0", "0"},
		{"one", "2", "1", "2026-05-01T08:00:03Z", "0s", "0s", "0s", "0", "0"},
	}, got.Rows)

	// The first run ends; the second starts after waiting 4 s.
	mock.Add(4 * time.Second)
	g.release <- struct{}{}
	_, err = first.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "second", recv(t, g.entered, "the second run"))
	_, rows, err := eng.QueuesTable(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"one", "1", "1", "2026-05-01T08:00:03Z", "4s", "4s", "4s", "0", "0"}, rows[1])
	g.release <- struct{}{}
	recv(t, g.entered, "the third run")
	g.release <- struct{}{}
}
