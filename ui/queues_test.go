package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/ui"
	"github.com/chorusdev/chorus/workflow"
)

// A run waiting in a queue shows as queued in the dashboard's pages and
// API, and its (empty) history reads.
func TestQueuedRunVisible(t *testing.T) {
	ctx := context.Background()
	entered := make(chan struct{}, 1)
	hold := activity.New("ui-hold", func(ctx context.Context, s string) (string, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return "", ctx.Err()
	})
	wf := workflow.New("ui-queued", func(ctx workflow.Context, s string) (string, error) {
		return workflow.ExecuteActivity(ctx, hold, s).Get(ctx)
	})
	eng, err := chorus.Open(ctx, filepath.Join(t.TempDir(), "ui.db"), &chorus.Options{Definitions: []chorus.Definition{wf, hold},
		Queues: []chorus.Queue{{Name: "one", Concurrency: 1}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_ = eng.Close(cctx)
	})
	_, err = chorus.Start(ctx, eng, wf, "a", &chorus.StartOptions{ID: "first", Queue: "one"})
	require.NoError(t, err)
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the first run did not start")
	}
	_, err = chorus.Start(ctx, eng, wf, "b", &chorus.StartOptions{ID: "waiting", Queue: "one"})
	require.NoError(t, err)

	h, err := ui.Handler(eng, nil)
	require.NoError(t, err)
	for _, path := range []string{"/runs/waiting", "/?status=queued", "/api/runs/waiting", "/api/runs/waiting/history", "/api/runs?status=queued"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, w.Code, "%s: %s", path, w.Body.String())
		if path != "/api/runs/waiting/history" {
			require.Contains(t, w.Body.String(), "queued", path)
			require.Contains(t, w.Body.String(), "waiting", path)
		}
	}
}
