//go:build browser

package ui_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/cli"
	"github.com/chorusdev/chorus/workflow"
)

// TestBrowserQueues opens the Queues and Queued runs pages of `chorus
// serve` in headless Chromium, over a file whose queue has one run
// running and two waiting, checks what they show, follows a run's link,
// and takes their screenshots.
func TestBrowserQueues(t *testing.T) {
	ctx := newBrowser(t) // first: it skips without Chromium
	mock := clock.NewMock()
	mock.Set(browserStart)
	path := filepath.Join(t.TempDir(), "queues.db")
	entered := make(chan struct{}, 1)
	export := activity.New("export-ledger", func(ctx context.Context, month string) (string, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return "", ctx.Err()
	})
	wf := workflow.New("month-end", func(ctx workflow.Context, month string) (string, error) {
		return workflow.ExecuteActivity(ctx, export, month).Get(ctx)
	})
	eng, err := chorus.Open(context.Background(), path, &chorus.Options{Clock: mock, Definitions: []chorus.Definition{wf, export},
		Queues: []chorus.Queue{{Name: "ledger-exports", Concurrency: 1}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = eng.Close(cctx) // the running export is interrupted
	})
	_, err = chorus.Start(context.Background(), eng, wf, "2026-09", &chorus.StartOptions{ID: "month-end-2026-09", Queue: "ledger-exports"})
	require.NoError(t, err)
	select {
	case <-entered:
	case <-time.After(stepTimeout):
		t.Fatal("the first export did not start")
	}
	mock.Add(90 * time.Second)
	for _, s := range []struct {
		id   string
		prio int
	}{{"month-end-2026-10", 5}, {"month-end-2026-11", 1}} {
		_, err = chorus.Start(context.Background(), eng, wf, s.id[10:], &chorus.StartOptions{ID: s.id, Queue: "ledger-exports", Priority: s.prio})
		require.NoError(t, err)
	}

	// chorus serve over the file, while the engine owns it.
	sctx, stop := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := cli.Run(sctx, []string{"serve", path, "--addr", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
		done <- code
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(stepTimeout):
			t.Error("serve did not stop")
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "serve printed nothing")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`at (http://\S+)/`).FindStringSubmatch(line)
	require.NotNil(t, m, line)
	b := &tab{ctx: ctx, base: m[1], shots: screenshotDir(t)}

	t.Run("Queues", func(t *testing.T) {
		b.open(t, "/", http.StatusOK, "#runs")
		b.submit(t, `nav a[data-table="queues"]`, "#table")
		require.Equal(t, []string{"1"}, b.attrs(t, "#table", "data-rows"))
		row := strings.Fields(b.text(t, "#table tbody tr"))
		require.Equal(t, []string{"ledger-exports", "2", "1", browserStart.Add(90 * time.Second).Format(time.RFC3339), "0s", "0s", "0s"}, row)
		b.screenshot(t, "dashboard-queues.png")
	})
	t.Run("QueuedRuns", func(t *testing.T) {
		b.submit(t, `nav a[data-table="queued-runs"]`, "#table")
		require.Equal(t, []string{"3"}, b.attrs(t, "#table", "data-rows"))
		require.Equal(t, []string{"/runs/month-end-2026-09", "/runs/month-end-2026-11", "/runs/month-end-2026-10"},
			b.attrs(t, "#table tbody a", "href"), "running first, then waiting by priority")
		b.screenshot(t, "dashboard-queued-runs.png")
		// A run ID leads to its run, which shows it queued.
		b.submit(t, `#table a[href$="/runs/month-end-2026-10"]`, "#timeline")
		require.Contains(t, b.text(t, "body"), "queued")
	})
}
