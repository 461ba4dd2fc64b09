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

// TestScheduleBackfillAndDeleteCommands backfills a range through the file
// while no process holds it (the signal waits in the journal), then
// deletes the schedule the same way.
func TestScheduleBackfillAndDeleteCommands(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	mock := clock.NewMock()
	mock.Set(t0)
	eng := openScheduleEngine(t, ctx, path, mock)
	require.NoError(t, schedule.Create(ctx, eng, "hourly", schedule.Spec{Every: time.Hour}, nightly, "x"))
	require.NoError(t, testutil.Await(ctx, eng, "the schedule's memo", func() (bool, error) {
		info, err := eng.Describe(ctx, schedule.RunID("hourly"))
		return err == nil && info.Memo[schedule.MemoKey] != nil, nil
	}))
	require.NoError(t, eng.Close(ctx))

	f := &fixture{path: path}
	for _, bad := range [][]string{
		{"--from", "2026-03-01T00:00:00Z"},
		{"--from", "yesterday", "--to", "2026-03-01T00:00:00Z"},
		{"--from", "2026-03-01T05:00:00Z", "--to", "2026-03-01T01:00:00Z"},
		{"--from", "2026-03-01T00:00:00Z", "--to", "2026-03-01T01:00:00Z", "--overlap", "sometimes"},
	} {
		code, out := f.run(append([]string{"schedule", "backfill", path, "hourly"}, bad...)...)
		require.Equal(t, cli.ExitUsage, code, "%v: %s", bad, out)
	}
	from, to := time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	code, out := f.run("schedule", "backfill", path, "hourly", "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339))
	require.Equal(t, cli.ExitOK, code, out)

	eng = openScheduleEngine(t, ctx, path, mock)
	defer func() { require.NoError(t, eng.Close(context.Background())) }()
	want := []string{}
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		want = append(want, schedule.ActionRunID("hourly", h))
	}
	for _, id := range want {
		require.NoError(t, testutil.AwaitStatus(ctx, eng, id, chorus.StatusCompleted), id)
	}
	var d schedule.Description
	require.NoError(t, testutil.Await(ctx, eng, "the schedule to count the backfill", func() (bool, error) {
		var err error
		d, err = schedule.Describe(ctx, eng, "hourly")
		return err == nil && len(d.Recent) >= len(want), err
	}))
	require.EqualValues(t, len(want), d.Started, "21:00, 22:00 and 23:00, each once: %+v", d.Recent)
	require.NoError(t, eng.Close(ctx))

	code, out = f.run("schedule", "delete", path, "hourly")
	require.Equal(t, cli.ExitOK, code, out)
	eng = openScheduleEngine(t, ctx, path, mock)
	require.NoError(t, testutil.AwaitStatus(ctx, eng, schedule.RunID("hourly"), chorus.StatusCompleted))
	code, out = f.run("schedule", "list", path)
	require.Equal(t, cli.ExitOK, code, out)
	require.NotContains(t, out, "hourly")
}
