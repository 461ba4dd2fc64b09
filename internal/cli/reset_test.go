package cli_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/ui"
	"github.com/chorusdev/chorus/workflow"
)

// chorus reset and chorus batch act through the dashboard of the process
// that runs the engine.
func TestResetAndBatchThroughDashboard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var fixed atomic.Bool
	var firsts atomic.Int32
	first := activity.New("cli-rs-first", func(ctx context.Context, n int) (int, error) {
		firsts.Add(1)
		return n, nil
	})
	second := activity.New("cli-rs-second", func(ctx context.Context, n int) (int, error) {
		if !fixed.Load() {
			return 0, activity.NonRetryable(errors.New("bug"))
		}
		return n + 1, nil
	})
	wf := workflow.New("cli-rs", func(ctx workflow.Context, n int) (int, error) {
		if _, err := workflow.ExecuteActivity(ctx, first, n).Get(ctx); err != nil {
			return 0, err
		}
		return workflow.ExecuteActivity(ctx, second, n).Get(ctx)
	})
	path := filepath.Join(t.TempDir(), "chorus.db")
	eng, err := chorus.Open(ctx, path, &chorus.Options{Logger: slog.New(slog.DiscardHandler), Definitions: []chorus.Definition{wf, first, second}})
	require.NoError(t, err)
	defer closeEng(t, eng)
	for i := range 4 {
		r, err := chorus.Start(ctx, eng, wf, i, &chorus.StartOptions{ID: fmt.Sprintf("cli-rs-%d", i)})
		require.NoError(t, err)
		_, err = r.Result(ctx)
		require.Error(t, err)
	}
	h, err := ui.Handler(eng, &ui.Options{Prefix: "/chorus", Auth: ui.LabeledBearerToken("ops:erin", "s3cret")})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/chorus/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := srv.URL + "/chorus"
	f := &fixture{masks: map[string]string{srv.URL: "URL"}}
	fixed.Store(true)

	code, out := f.run("reset", "cli-rs-0", "--addr", addr, "--token", "s3cret", "--to-first-failure", "--dry-run")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `would reset run "cli-rs-0" to step`)
	code, out = f.run("reset", "cli-rs-0", "--addr", addr, "--token", "s3cret", "--retry")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `reset run "cli-rs-0" to step`)
	require.Contains(t, out, "ops:erin")
	require.NoError(t, testutil.AwaitStatus(ctx, eng, "cli-rs-0", chorus.StatusCompleted))
	code, out = f.run("reset", "cli-rs-0", "--addr", addr, "--token", "s3cret", "--to-step", "1")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "not a step")
	code, out = f.run("reset", "cli-rs-0", "--addr", addr, "--token", "s3cret")
	require.Equal(t, 2, code, out)
	code, out = f.run("reset", path, "cli-rs-0", "--to-first-failure")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--addr is required")

	code, out = f.run("batch", "reset", "--addr", addr, "--token", "s3cret", "--workflow", "cli-rs", "--status", "failed", "--since", "2h", "--to-first-failure", "--dry-run")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "0 done, 0 skipped, 0 failed, 3 would be acted on")
	code, out = f.run("batch", "reset", "--addr", addr, "--token", "s3cret", "--workflow", "cli-rs", "--status", "failed", "--to-first-failure", "--id", "b7", "--rps", "100")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "[3/3] done")
	require.Contains(t, out, "3 done, 0 skipped, 0 failed")
	// Again, over every run of the workflow: the batch's runs are passed
	// over; cli-rs-0, reset before and never failed since, is refused.
	code, out = f.run("batch", "reset", "--addr", addr, "--token", "s3cret", "--workflow", "cli-rs", "--to-first-failure", "--id", "b7")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "0 done, 3 skipped, 1 failed")
	require.Contains(t, out, "no activity or child of its current generation failed")
	for i := range 4 {
		require.NoError(t, testutil.AwaitStatus(ctx, eng, fmt.Sprintf("cli-rs-%d", i), chorus.StatusCompleted))
	}
	require.Equal(t, int32(4), firsts.Load(), "no first step ran twice")

	code, out = f.run("batch", "explode", "--addr", addr)
	require.Equal(t, 2, code, out)
	code, out = f.run("batch", "signal", "--addr", addr, "--token", "s3cret")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--signal")
}
