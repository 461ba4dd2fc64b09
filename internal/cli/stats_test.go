package cli_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// stats selects runs by workflow, creation time and limit, and refuses bad
// flag values with a usage error.
func TestStatsFilters(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name string
		code int
		args []string
	}{
		{"stats-workflow", 0, []string{"stats", "@", "--workflow", "trip"}},
		// order-2, order-3, broken-1, pay-1 and trip-1.
		{"stats-created", 0, []string{"stats", "@", "--created-after", "2026-03-02T09:00:02Z", "--created-before", "2026-03-02T09:01:08Z"}},
		{"stats-created-json", 0, []string{"stats", "@", "--workflow", "order", "--created-after", "2026-03-02T09:00:02Z", "--json"}},
		// approval-1, then parent-1-child and parent-1 (created at the same
		// time as broken-1, pay-1 and trip-1, which sort before them).
		{"stats-limit", 0, []string{"stats", "@", "--limit", "3"}},
		{"stats-limit-json", 0, []string{"stats", "@", "--limit", "3", "--json"}},
		{"stats-none", 0, []string{"stats", "@", "--workflow", "no-such-workflow"}},
		{"err-stats-limit", 2, []string{"stats", "@", "--limit", "-5"}},
		{"err-stats-created", 2, []string{"stats", "@", "--created-before", "noon"}},
		{"err-stats-range", 2, []string{"stats", "@", "--created-after", "2026-03-02T10:00:00Z", "--created-before", "2026-03-02T09:00:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "@", f.path)
			}
			code, out := f.run(args...)
			require.Equal(t, c.code, code, out)
			golden(t, c.name, out)
		})
	}
}

// stats counts a damaged run row and skips it, and counts a run whose
// journal is damaged while leaving its steps out; the other runs are
// measured.
func TestStatsDamage(t *testing.T) {
	f := newFixture(t)
	f.close(t)
	db, err := sql.Open("sqlite", f.path)
	require.NoError(t, err)
	for _, q := range []string{
		`UPDATE events SET payload = CAST('99' AS BLOB) WHERE run_id = 'trip-1' AND seq = 3`,
		`UPDATE runs SET workflow = 'forged' WHERE id = 'pay-1'`,
	} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())
	code, out := f.run("stats", f.path)
	require.Equal(t, 0, code, out)
	golden(t, "stats-damaged", out)
	code, out = f.run("stats", f.path, "--json", "--workflow", "trip")
	require.Equal(t, 0, code, out)
	golden(t, "stats-damaged-json", out)
}

// stats shows the step KPIs of real runs: a step that succeeded on its
// third attempt (twice), one that failed for good after three and was
// followed by a 5 s cleanup before the run failed, and one the workflow
// scheduled again after it failed, which then succeeded. The fake clock
// moves only in the activities, a second per attempt, so every figure is
// exact.
func TestStatsKPIs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mock := clock.NewMock()
	mock.Set(t0)
	path := filepath.Join(t.TempDir(), "chorus.db")
	// A backoff of 1ns loses its jitter: retries follow at once.
	retry := func(ctx workflow.Context, attempts int) workflow.Context {
		return workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: &activity.RetryPolicy{
			InitialInterval: time.Nanosecond, BackoffCoefficient: 1, MaximumAttempts: attempts}})
	}
	type call struct {
		Key   string
		Fails int
	}
	calls := map[string]int{}
	// call takes a second and fails the first Fails calls of its Key.
	do := activity.New("call", func(ctx context.Context, c call) (string, error) {
		mock.Add(time.Second)
		if calls[c.Key]++; calls[c.Key] <= c.Fails {
			return "", errors.New("service unavailable")
		}
		return "done", nil
	})
	pause := activity.New("pause", func(ctx context.Context, s int) (int, error) {
		mock.Add(time.Duration(s) * time.Second)
		return s, nil
	})
	flaky := workflow.New("flaky", func(ctx workflow.Context, key string) (string, error) {
		return workflow.ExecuteActivity(retry(ctx, 0), do, call{key, 2}).Get(ctx)
	})
	doomed := workflow.New("doomed", func(ctx workflow.Context, key string) (string, error) {
		_, err := workflow.ExecuteActivity(retry(ctx, 3), do, call{key, 100}).Get(ctx)
		if _, perr := workflow.ExecuteActivity(ctx, pause, 5).Get(ctx); perr != nil {
			return "", perr
		}
		return "", err
	})
	again := workflow.New("again", func(ctx workflow.Context, key string) (string, error) {
		if _, err := workflow.ExecuteActivity(retry(ctx, 1), do, call{key, 1}).Get(ctx); err == nil {
			return "", errors.New("the first call was to fail")
		}
		return workflow.ExecuteActivity(retry(ctx, 1), do, call{key, 1}).Get(ctx)
	})
	eng, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close(ctx)) }()
	require.NoError(t, eng.Register(flaky, doomed, again, do, pause))
	// One run at a time: each moves the shared clock alone.
	for _, id := range []string{"flaky-1", "flaky-2", "again-1", "doomed-1"} {
		wf := map[string]*workflow.Definition[string, string]{"flaky": flaky, "again": again, "doomed": doomed}[strings.Split(id, "-")[0]]
		run, err := chorus.Start(ctx, eng, wf, id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		_, err = run.Result(ctx)
		if id == "doomed-1" {
			require.ErrorContains(t, err, "service unavailable")
		} else {
			require.NoError(t, err)
		}
	}
	f := &fixture{path: path}
	code, out := f.run("stats", path)
	require.Equal(t, 0, code, out)
	golden(t, "stats-kpis", out)
	code, out = f.run("stats", path, "--json")
	require.Equal(t, 0, code, out)
	golden(t, "stats-kpis-json", out)
}
