package cli_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/internal/cli"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/schedule"
	"github.com/chorusdev/chorus/workflow"
)

var nightly = workflow.New("nightly", func(ctx workflow.Context, in string) (string, error) { return in, nil })

func openScheduleEngine(t *testing.T, ctx context.Context, path string, mock *clock.Mock) *chorus.Engine {
	t.Helper()
	eng, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock})
	require.NoError(t, err)
	require.NoError(t, eng.Register(nightly))
	require.NoError(t, schedule.Register(eng, nightly))
	return eng
}

func TestScheduleCommands(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	mock := clock.NewMock()
	mock.Set(t0)
	eng := openScheduleEngine(t, ctx, path, mock)
	require.NoError(t, schedule.Create(ctx, eng, "recon", schedule.Spec{Cron: "0 2 * * *", TimeZone: "Europe/Paris"}, nightly, "ledger"))
	require.NoError(t, testutil.Await(ctx, eng, "the schedule's memo", func() (bool, error) {
		info, err := eng.Describe(ctx, schedule.RunID("recon"))
		return err == nil && info.Memo[schedule.MemoKey] != nil, nil
	}))
	require.NoError(t, eng.Close(ctx))

	f := &fixture{path: path}
	code, out := f.run("schedule", "list", path)
	require.Equal(t, cli.ExitOK, code, out)
	require.Contains(t, out, "recon")
	require.Contains(t, out, "cron 0 2 * * * (Europe/Paris)")
	require.Contains(t, out, "2026-03-03T01:00:00Z")

	code, out = f.run("schedule", "describe", path, "recon")
	require.Equal(t, cli.ExitOK, code, out)
	require.Contains(t, out, "nightly")
	require.Contains(t, out, "active")

	code, out = f.run("schedule", "describe", path, "nope")
	require.NotEqual(t, cli.ExitOK, code)
	require.Contains(t, out, "no run with ID")

	// Paused through the file: queued until the application opens it.
	code, out = f.run("schedule", "pause", path, "recon", "--note", "audit")
	require.Equal(t, cli.ExitOK, code, out)
	eng = openScheduleEngine(t, ctx, path, mock)
	defer func() { require.NoError(t, eng.Close(context.Background())) }()
	require.NoError(t, testutil.Await(ctx, eng, "the schedule paused", func() (bool, error) {
		d, err := schedule.Describe(ctx, eng, "recon")
		return err == nil && d.Paused && d.Note == "audit", nil
	}))
}
