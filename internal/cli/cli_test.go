package cli_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/cli"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// t0 is the fake clock's start: every timestamp of the fixture follows
// from it.
var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

// fixture is a database filled by real runs, and the engine that owns it,
// still open.
type fixture struct {
	path string
	eng  *chorus.Engine
	// startOrder starts an order run and waits for its end.
	startOrder func(t *testing.T, id string, secs int)
	// masks are strings of the outputs that vary between test runs (a
	// retry's jittered time), replaced by a placeholder.
	masks map[string]string
}

// Approve is the signal the waiting run gets and does not consume yet.
var Approve = workflow.NewSignal[map[string]string]("approve")

// newFixture fills a database with: two completed orders of different
// durations, a failed order, a run blocked by a panic, a trip whose saga
// compensated, a parent with a child, and a run waiting on a timer with a
// retrying activity and an unconsumed signal.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chorus.db")
	return newFixtureOn(t, path, func(ctx context.Context, opts *chorus.Options) (*chorus.Engine, error) {
		return chorus.Open(ctx, path, opts)
	})
}

// newFixtureOn fills the database at path (a file, or a PostgreSQL URL)
// with the runs newFixture describes, through engines that openEngine
// opens on it.
func newFixtureOn(t *testing.T, path string, openEngine func(context.Context, *chorus.Options) (*chorus.Engine, error)) *fixture {
	t.Helper()
	ctx := context.Background()
	mock := clock.NewMock()
	mock.Set(t0)

	// work takes s seconds of fake time.
	work := activity.New("work", func(ctx context.Context, s int) (int, error) {
		mock.Add(time.Duration(s) * time.Second)
		return s * 2, nil
	})
	decline := activity.New("decline", func(ctx context.Context, card string) (string, error) {
		return "", activity.NonRetryable(activity.NewError("card-declined", "card %s declined", card))
	})
	flaky := activity.New("flaky", func(ctx context.Context, s string) (string, error) {
		return "", errors.New("inventory service unavailable")
	})
	undo := activity.New("undo", func(ctx context.Context, what string) (string, error) {
		return "undone " + what, nil
	})
	order := workflow.New("order", func(ctx workflow.Context, secs int) (int, error) {
		return workflow.ExecuteActivity(ctx, work, secs).Get(ctx)
	})
	pay := workflow.New("pay", func(ctx workflow.Context, card string) (string, error) {
		return workflow.ExecuteActivity(ctx, decline, card).Get(ctx)
	})
	broken := workflow.New("broken", func(ctx workflow.Context, n int) (int, error) {
		if _, err := workflow.ExecuteActivity(ctx, work, 0).Get(ctx); err != nil {
			return 0, err
		}
		if n > 0 {
			panic("index out of range in pricing rules")
		}
		return n, nil
	})
	trip := workflow.New("trip", func(ctx workflow.Context, dest string) (_ string, err error) {
		s := saga.New(ctx, &saga.Options{Name: "trip"})
		defer s.CompensateOnError(&err)
		if _, err := workflow.ExecuteActivity(ctx, work, 1).Get(ctx); err != nil {
			return "", err
		}
		if err := saga.Add(s, undo, "flight to "+dest); err != nil {
			return "", err
		}
		if err := saga.Add(s, undo, "hotel in "+dest); err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, decline, "4242").Get(ctx)
	})
	child := workflow.New("child", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, work, n).Get(ctx)
	})
	parent := workflow.New("parent", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteChildWorkflow(ctx, child, n, &workflow.ChildOptions{ID: "parent-1-child"}).Get(ctx)
	})
	approval := workflow.New("approval", func(ctx workflow.Context, item string) (string, error) {
		actx := workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: &activity.RetryPolicy{InitialInterval: time.Minute}})
		f := workflow.ExecuteActivity(actx, flaky, item)
		if err := workflow.Sleep(ctx, 24*time.Hour); err != nil {
			return "", err
		}
		return f.Get(ctx)
	})

	// A run started by older code, which the code below no longer matches:
	// it sleeps first, the new code calls an activity first.
	oldCode := workflow.New("upgrade", func(ctx workflow.Context, n int) (int, error) {
		return n, workflow.Sleep(ctx, time.Hour)
	})
	newCode := workflow.New("upgrade", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, work, n).Get(ctx)
	})
	quiet := slog.New(slog.DiscardHandler) // blocked runs are expected
	old, err := openEngine(ctx, &chorus.Options{Clock: mock, Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, old.Register(oldCode))
	_, err = chorus.Start(ctx, old, oldCode, 1, &chorus.StartOptions{ID: "upgrade-1"})
	require.NoError(t, err)
	require.NoError(t, old.Close(ctx))

	eng, err := openEngine(ctx, &chorus.Options{Clock: mock, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, eng.Close(cctx))
	})
	require.NoError(t, eng.Register(order, pay, broken, trip, child, parent, approval, newCode, work, decline, flaky, undo))

	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancel)
	finish := func(err error) {
		t.Helper()
		require.NoError(t, err)
	}
	for _, o := range []struct {
		id   string
		secs int
	}{{"order-1", 2}, {"order-2", 5}, {"order-3", 60}} {
		r, err := chorus.Start(tctx, eng, order, o.secs, &chorus.StartOptions{ID: o.id})
		finish(err)
		_, err = r.Result(tctx)
		finish(err)
	}
	rp, err := chorus.Start(tctx, eng, pay, "4242", &chorus.StartOptions{ID: "pay-1"})
	finish(err)
	_, err = rp.Result(tctx)
	require.Error(t, err)
	rb, err := chorus.Start(tctx, eng, broken, 1, &chorus.StartOptions{ID: "broken-1"})
	finish(err)
	_, err = rb.Result(tctx)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
	rt, err := chorus.Start(tctx, eng, trip, "Lisbon", &chorus.StartOptions{ID: "trip-1"})
	finish(err)
	_, err = rt.Result(tctx)
	require.Error(t, err)
	// The diverged run is blocked once the new code replays it, which a
	// signal makes it do.
	if err := chorus.Signal(tctx, eng, "upgrade-1", Approve, map[string]string{"by": "bob"}); err != nil {
		require.ErrorIs(t, err, chorus.ErrRunBlocked)
	}
	finish(testutil.AwaitStatus(tctx, eng, "upgrade-1", chorus.StatusBlocked))
	rc, err := chorus.Start(tctx, eng, parent, 3, &chorus.StartOptions{ID: "parent-1"})
	finish(err)
	_, err = rc.Result(tctx)
	finish(err)

	_, err = chorus.Start(tctx, eng, approval, "chair", &chorus.StartOptions{ID: "approval-1"})
	finish(err)
	// Wait, reading the file as the CLI does, until the activity's first
	// attempt failed and its retry is scheduled, and the timer is set.
	f := &fixture{path: path, eng: eng, masks: map[string]string{}}
	f.startOrder = func(t *testing.T, id string, secs int) {
		t.Helper()
		r, err := chorus.Start(tctx, eng, order, secs, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		_, err = r.Result(tctx)
		require.NoError(t, err)
	}
	ro, err := openReadOnly(tctx, path)
	finish(err)
	defer ro.Close()
	var retry history.Task
	finish(testutil.Await(tctx, eng, "the flaky activity's retry", func() (bool, error) {
		tasks, err := ro.Tasks(tctx)
		for _, tk := range tasks {
			if tk.RunID == "approval-1" && tk.Kind == history.TaskActivity {
				retry = tk
			}
		}
		return retry.Attempt >= 2, err
	}))
	// JSON shows the time to the nanosecond, without trailing zeros, so its
	// length varies with the jitter: it is replaced as it is. Tables show it
	// to the millisecond, a fixed width: padded, to keep columns aligned.
	f.masks[retry.NotBefore.UTC().Format(time.RFC3339Nano)] = "<retry-time>"
	millis := retry.NotBefore.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	f.masks[millis] = "<retry-time>" + strings.Repeat(" ", len(millis)-len("<retry-time>"))
	finish(chorus.Signal(tctx, eng, "approval-1", Approve, map[string]string{"by": "ann"}))
	finish(testutil.Await(tctx, eng, "the signal to be journaled", func() (bool, error) {
		evs, err := ro.Events(tctx, "approval-1", 0)
		return err == nil && evs[len(evs)-1].Type == history.EventSignalReceived, err
	}))
	return f
}

// openReadOnly opens the database at path read-only, as the CLI does.
func openReadOnly(ctx context.Context, path string) (history.Store, error) {
	if strings.HasPrefix(path, "postgres://") {
		return postgres.OpenReader(ctx, path, nil)
	}
	return sqlite.OpenReadOnly(ctx, path, nil)
}

// close closes the engine, which then no longer holds the file.
func (f *fixture) close(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, f.eng.Close(ctx))
}

// run runs the command and returns its exit status and its output, stdout
// then stderr, with the database path and the masked strings replaced.
func (f *fixture) run(args ...string) (int, string) {
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, &out, &errOut)
	s := out.String() + errOut.String()
	if f.path != "" {
		s = strings.ReplaceAll(s, f.path, "FILE")
	}
	for k, v := range f.masks {
		s = strings.ReplaceAll(s, k, v)
	}
	return code, s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run the test with -update to create %s", path)
	require.Equal(t, string(want), got, "output differs from %s (run with -update after checking the change)", path)
}

// TestCommands runs every command against the fixture, while the engine
// that owns the file has it open, and compares the outputs with the golden
// files.
func TestCommands(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name string
		code int
		args []string
	}{
		{"runs-list", 0, []string{"runs", "list", "@"}},
		{"runs-list-json", 0, []string{"runs", "list", "@", "--json"}},
		{"runs-list-failed", 0, []string{"runs", "list", "@", "--status", "failed"}},
		{"runs-list-workflow-limit", 0, []string{"runs", "list", "@", "--workflow", "order", "--limit", "2"}},
		{"runs-show-completed", 0, []string{"runs", "show", "@", "order-1"}},
		{"runs-show-failed", 0, []string{"runs", "show", "@", "pay-1"}},
		{"runs-show-blocked", 0, []string{"runs", "show", "@", "broken-1"}},
		{"runs-show-diverged", 0, []string{"runs", "show", "@", "upgrade-1"}},
		{"runs-show-diverged-json", 0, []string{"runs", "show", "@", "upgrade-1", "--json"}},
		{"runs-show-saga", 0, []string{"runs", "show", "@", "trip-1"}},
		{"runs-show-saga-json", 0, []string{"runs", "show", "@", "trip-1", "--json"}},
		{"runs-show-parent", 0, []string{"runs", "show", "@", "parent-1"}},
		{"runs-show-waiting", 0, []string{"runs", "show", "@", "approval-1"}},
		{"runs-show-waiting-json", 0, []string{"runs", "show", "@", "approval-1", "--json"}},
		{"history", 0, []string{"history", "@", "trip-1"}},
		{"history-json", 0, []string{"history", "@", "order-1", "--json"}},
		{"history-export", 0, []string{"history", "@", "order-1", "--export"}},
		{"stats", 0, []string{"stats", "@"}},
		{"stats-json", 0, []string{"stats", "@", "--json"}},
		{"verify", 0, []string{"verify", "@"}},
		{"verify-json", 0, []string{"verify", "@", "--json"}},
		// Bad input.
		{"err-unknown-run", 1, []string{"runs", "show", "@", "no-such-run"}},
		{"err-unknown-run-history", 1, []string{"history", "@", "no-such-run"}},
		{"err-bad-status", 2, []string{"runs", "list", "@", "--status", "sleeping"}},
		{"err-bad-limit", 2, []string{"runs", "list", "@", "--limit", "-1"}},
		{"err-args", 2, []string{"runs", "show", "@"}},
		{"err-unknown-flag", 2, []string{"stats", "@", "--colour"}},
		{"err-unknown-command", 2, []string{"purgatory"}},
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
