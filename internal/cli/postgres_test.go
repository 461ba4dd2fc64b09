package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/postgres/pgtest"
	"github.com/chorusdev/chorus/internal/cli"
	"github.com/chorusdev/chorus/ui"
	"github.com/chorusdev/chorus/workflow"
)

// newPostgresFixture fills a fresh schema of the database that
// CHORUS_POSTGRES_URL names with the runs of newFixture, through engines on
// PostgreSQL stores; the last engine stays open, holding the database's
// lease. It skips t without CHORUS_POSTGRES_URL.
func newPostgresFixture(t *testing.T) *fixture {
	t.Helper()
	u := pgtest.URL(t)
	return newFixtureOn(t, u, func(ctx context.Context, opts *chorus.Options) (*chorus.Engine, error) {
		st, err := postgres.Open(ctx, u, &postgres.Options{Owner: "fixture-engine", LeaseTTL: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		return chorus.OpenStore(ctx, st, opts)
	})
}

// The read commands give on PostgreSQL, while the engine that owns the
// database runs, exactly what they give on a SQLite file holding the same
// runs: the same golden files.
func TestPostgresCommands(t *testing.T) {
	f := newPostgresFixture(t)
	for _, c := range []struct {
		name, golden string
		code         int
		args         []string
	}{
		{"runs-list", "runs-list", 0, []string{"runs", "list", "@"}},
		{"runs-list-json", "runs-list-json", 0, []string{"runs", "list", "@", "--json"}},
		{"runs-list-failed", "runs-list-failed", 0, []string{"runs", "list", "@", "--status", "failed"}},
		{"runs-list-workflow-limit", "runs-list-workflow-limit", 0, []string{"runs", "list", "@", "--workflow", "order", "--limit", "2"}},
		{"runs-show-completed", "runs-show-completed", 0, []string{"runs", "show", "@", "order-1"}},
		{"runs-show-failed", "runs-show-failed", 0, []string{"runs", "show", "@", "pay-1"}},
		{"runs-show-blocked", "runs-show-blocked", 0, []string{"runs", "show", "@", "broken-1"}},
		{"runs-show-diverged-json", "runs-show-diverged-json", 0, []string{"runs", "show", "@", "upgrade-1", "--json"}},
		{"runs-show-saga", "runs-show-saga", 0, []string{"runs", "show", "@", "trip-1"}},
		{"runs-show-parent", "runs-show-parent", 0, []string{"runs", "show", "@", "parent-1"}},
		{"runs-show-waiting", "runs-show-waiting", 0, []string{"runs", "show", "@", "approval-1"}},
		{"runs-show-waiting-json", "runs-show-waiting-json", 0, []string{"runs", "show", "@", "approval-1", "--json"}},
		{"history", "history", 0, []string{"history", "@", "trip-1"}},
		{"history-json", "history-json", 0, []string{"history", "@", "order-1", "--json"}},
		{"history-export", "history-export", 0, []string{"history", "@", "order-1", "--export"}},
		{"stats", "stats", 0, []string{"stats", "@"}},
		{"stats-json", "stats-json", 0, []string{"stats", "@", "--json"}},
		// What differs from a file.
		{"verify", "pg-verify", 0, []string{"verify", "@"}},
		{"verify-json", "pg-verify-json", 0, []string{"verify", "@", "--json"}},
		{"err-unknown-run", "pg-err-unknown-run", 1, []string{"runs", "show", "@", "no-such-run"}},
		{"err-unknown-run-history", "pg-err-unknown-run-history", 1, []string{"history", "@", "no-such-run"}},
		{"err-audit", "pg-err-audit", 1, []string{"audit", "export", "@", "--run", "order-1"}},
		{"err-events", "pg-err-events", 1, []string{"events", "outbox", "@"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "@", f.path)
			}
			code, out := f.run(args...)
			require.Equal(t, c.code, code, out)
			golden(t, c.golden, out)
		})
	}
	// queues and schedule list read PostgreSQL too (the fixture has
	// neither).
	code, out := f.run("queues", f.path, "--json")
	require.Equal(t, 0, code, out)
	require.JSONEq(t, `[]`, out)
	code, out = f.run("schedule", "list", f.path)
	require.Equal(t, 0, code, out)

	// A password in the URL (the test server trusts every connection and
	// ignores it) is masked where the command names the database.
	u, err := url.Parse(f.path)
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "Sup3r-secret")
	code, out = (&fixture{}).run("verify", u.String(), "--json")
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "Sup3r-secret")
	require.Contains(t, out, u.Redacted())
}

// A schema without Chorus tables is refused and left as it was; an
// unreachable server is an error; neither error shows the password.
func TestPostgresBadTarget(t *testing.T) {
	empty := pgtest.URL(t)
	withPW := strings.Replace(empty, "://", "://chorus:Sup3r-secret@", 1)
	if strings.Contains(empty, "@") { // the URL has a user already
		u, err := url.Parse(empty)
		require.NoError(t, err)
		u.User = url.UserPassword(u.User.Username(), "Sup3r-secret")
		withPW = u.String()
	}
	f := &fixture{path: withPW}
	for _, args := range [][]string{
		{"runs", "list", withPW},
		{"stats", withPW},
		{"verify", withPW},
		{"serve", withPW, "--addr", "127.0.0.1:0"},
		{"purge", withPW, "--finished-before", "2030-01-01T00:00:00Z"},
		{"cancel", withPW, "some-run"},
	} {
		code, out := f.run(args...)
		require.Equal(t, cli.ExitError, code, "%v: %s", args, out)
		require.Contains(t, out, "holds no Chorus tables", args)
		require.NotContains(t, out, "Sup3r-secret", args)
	}
	// Nothing was created: the schema is still empty.
	_, err := postgres.OpenReader(t.Context(), empty, nil)
	require.ErrorIs(t, err, history.ErrNotChorusDatabase)

	unreachable := "postgres://chorus:Sup3r-secret@127.0.0.1:1/chorus?connect_timeout=5"
	code, out := (&fixture{}).run("runs", "list", unreachable)
	require.Equal(t, cli.ExitError, code, out)
	require.NotContains(t, out, "Sup3r-secret")
	require.Contains(t, out, "postgres://chorus:xxxxx@127.0.0.1:1/chorus")
	code, out = (&fixture{}).run("runs", "list", "postgres://chorus:Sup3r-secret@127.0.0.1:notaport/chorus")
	require.Equal(t, cli.ExitError, code, out)
	require.NotContains(t, out, "Sup3r-secret")
}

// chorus serve over PostgreSQL serves the dashboard of the runs an engine
// on the same database started, while that engine owns it: the runs list,
// a run's page and timeline, the KPIs and the JSON API, fetched over HTTP.
func TestPostgresServe(t *testing.T) {
	f := newPostgresFixture(t)
	base, stop := serve(t, f.path, "--addr", "127.0.0.1:0")
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)
	get := func(path string) (int, string) {
		resp, err := http.Get(base + strings.TrimPrefix(path, "/"))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/")
	require.Equal(t, http.StatusOK, code, body)
	for _, id := range []string{"order-1", "pay-1", "broken-1", "trip-1", "parent-1", "approval-1", "upgrade-1"} {
		require.Contains(t, body, id)
	}
	code, body = get("/runs/trip-1")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "trip")
	require.Contains(t, body, "card 4242 declined")
	require.Contains(t, body, "flight to Lisbon", "the saga's compensations")
	code, body = get("/runs/approval-1")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "inventory service unavailable", "the retrying activity's last error")
	require.Contains(t, body, `id="actions-disabled"`)
	code, body = get("/runs/broken-1")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "index out of range in pricing rules")
	code, body = get("/api/runs?workflow=order")
	require.Equal(t, http.StatusOK, code, body)
	var page struct {
		Runs []struct{ ID, Status string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	require.Len(t, page.Runs, 3)
	require.Equal(t, "order-1", page.Runs[0].ID)
	require.Equal(t, "completed", page.Runs[0].Status)
	code, body = get("/api/runs/parent-1/history")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "parent-1-child")
	code, body = get("/workflows/order")
	require.Equal(t, http.StatusOK, code, body)
	code, body = get("/tables/schedules/")
	require.Equal(t, http.StatusOK, code, body)
	code, body = get("/tables/queues/")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "No run has been queued.")
	code, _ = get("/tables/outbox/")
	require.Equal(t, http.StatusNotFound, code, "no events pages on PostgreSQL")
	code, _ = get("/runs/no-such-run")
	require.Equal(t, http.StatusNotFound, code)
	// The engine goes on: a run started now shows at once.
	f.startOrder(t, "order-4", 1)
	code, body = get("/api/runs/order-4")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "completed")
	require.Equal(t, 0, stop())
}

// signal, cancel, terminate and purge on PostgreSQL: while an engine owns
// the database they are refused, naming it, and go through its
// application's dashboard (--addr); once no engine holds the lease they
// take it and act on the database themselves.
func TestPostgresActs(t *testing.T) {
	f := newPostgresFixture(t)
	code, out := f.run("cancel", f.path, "approval-1")
	require.Equal(t, cli.ExitError, code, out)
	require.Contains(t, out, "FILE is owned by a running engine: pass --addr")
	require.Contains(t, out, `"fixture-engine"`)
	code, out = f.run("purge", f.path, "--finished-before", "2030-01-01T00:00:00Z")
	require.Equal(t, cli.ExitError, code, out)
	require.Contains(t, out, "FILE is owned by a running engine: purge from inside it")

	// Through the application's dashboard.
	h, err := ui.Handler(f.eng, &ui.Options{Auth: ui.LabeledBearerToken("ops:erin", "tok")})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	code, out = f.run("signal", f.path+"", "approval-1", "approve", `{"by":"carl"}`, "--addr", srv.URL, "--token", "tok")
	require.Equal(t, cli.ExitUsage, code, "FILE goes with --addr only as -: %s", out)
	code, out = f.run("signal", "-", "approval-1", "approve", `{"by":"carl"}`, "--addr", srv.URL, "--token", "tok")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "ops:erin")
	f.close(t)

	// No engine holds the lease now: the command takes it.
	code, out = f.run("terminate", f.path, "approval-1", "--reason", "closing the quarter", "--identity", "cli:test", "--json")
	require.Equal(t, 0, code, out)
	var a struct{ Via, File, Outcome, Status, Identity string }
	require.NoError(t, json.Unmarshal([]byte(out), &a))
	require.Equal(t, "database", a.Via)
	require.Equal(t, "FILE", a.File)
	require.Equal(t, "done", a.Outcome)
	require.Equal(t, "terminated", a.Status)
	code, out = f.run("cancel", f.path, "approval-1")
	require.Equal(t, cli.ExitError, code, out)
	require.Contains(t, out, "has ended (terminated)")
	code, out = f.run("signal", f.path, "upgrade-1", "approve", `{"by":"dan"}`, "--identity", "cli:test")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "this command took the database's lease: no engine held it")
	require.Contains(t, out, "queued: the run sees it when the application next opens FILE")
	code, out = f.run("runs", "show", f.path, "approval-1", "--json")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"status": "terminated"`)

	// purge deletes the runs that ended before the cutoff.
	before, err := postgres.OpenReader(t.Context(), f.path, nil)
	require.NoError(t, err)
	runs, err := before.ListRuns(t.Context(), history.ListFilter{})
	require.NoError(t, err)
	require.NoError(t, before.Close())
	code, out = f.run("purge", f.path, "--finished-before", "2099-01-01T00:00:00Z", "--workflow", "order", "--json")
	require.Equal(t, 0, code, out)
	require.JSONEq(t, `{"purged": 3, "finished_before": "2099-01-01T00:00:00Z", "opened": "database"}`, out)
	code, out = f.run("runs", "list", f.path, "--json")
	require.Equal(t, 0, code, out)
	var left struct{ Runs []struct{ ID string } }
	require.NoError(t, json.Unmarshal([]byte(out), &left))
	require.Len(t, left.Runs, len(runs)-3)
	for _, r := range left.Runs {
		require.False(t, strings.HasPrefix(r.ID, "order-"), r.ID)
	}
	// The lease the commands took is released: an engine opens at once.
	st, err := postgres.Open(t.Context(), f.path, nil)
	require.NoError(t, err)
	require.NoError(t, st.Close())

	// verify finds rows a run cannot hold and journals with a gap.
	code, out = f.run("verify", f.path)
	require.Equal(t, 0, code, out)
	pgtest.Exec(t, f.path, `DELETE FROM chorus_events WHERE run_id = 'trip-1' AND seq = 3`)
	pgtest.Exec(t, f.path, `UPDATE chorus_runs SET status = 99 WHERE id = 'parent-1'`)
	code, out = f.run("verify", f.path, "--json")
	require.Equal(t, cli.ExitError, code, out)
	var v struct {
		Damage []struct{ Run, Table string }
		OK     bool
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.False(t, v.OK)
	require.ElementsMatch(t, []struct{ Run, Table string }{{"parent-1", "runs"}, {"trip-1", "events"}}, v.Damage)
}

// runs list's filters (search attributes, statuses, times, pages) and runs
// show's attributes and memo give on PostgreSQL what they give on a file:
// the same golden files.
func TestPostgresListFilters(t *testing.T) {
	u := pgtest.URL(t)
	f := newAttrFixtureOn(t, u, func(ctx context.Context, opts *chorus.Options) (*chorus.Engine, error) {
		st, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		return chorus.OpenStore(ctx, st, opts)
	})
	for _, c := range listFilterCases {
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

// queues, and serve's Queues and Queued runs pages, read a PostgreSQL
// database's queues while the engine that owns it runs them.
func TestPostgresQueues(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)
	entered := make(chan struct{}, 1)
	hold := activity.New("pg-cli-hold", func(ctx context.Context, s string) (string, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return "", ctx.Err()
	})
	wf := workflow.New("pg-cli-queued", func(ctx workflow.Context, s string) (string, error) {
		return workflow.ExecuteActivity(ctx, hold, s).Get(ctx)
	})
	st, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: 5 * time.Second})
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: []chorus.Definition{wf, hold},
		Queues: []chorus.Queue{{Name: "jobs", Concurrency: 1}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = eng.Close(cctx) // the held activity is interrupted
	})
	_, err = chorus.Start(ctx, eng, wf, "a", &chorus.StartOptions{ID: "job-a", Queue: "jobs"})
	require.NoError(t, err)
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("job-a did not start")
	}
	for _, s := range []struct {
		id   string
		prio int
	}{{"job-b", 5}, {"job-c", 1}} {
		_, err = chorus.Start(ctx, eng, wf, s.id, &chorus.StartOptions{ID: s.id, Queue: "jobs", Priority: s.prio})
		require.NoError(t, err)
	}

	f := &fixture{path: u}
	code, out := f.run("queues", u, "--json")
	require.Equal(t, 0, code, out)
	var qs []struct {
		Queue            string
		Waiting, Running int
	}
	require.NoError(t, json.Unmarshal([]byte(out), &qs))
	require.Equal(t, []struct {
		Queue            string
		Waiting, Running int
	}{{"jobs", 2, 1}}, qs)
	code, out = f.run("queues", u, "--queue", "jobs")
	require.Equal(t, 0, code, out)
	require.Regexp(t, `(?s)job-a\s+pg-cli-queued\s+started.*job-c\s+pg-cli-queued\s+queued.*job-b`, out)

	base, stop := serve(t, u, "--addr", "127.0.0.1:0")
	resp, err := http.Get(base + "api/tables/queued-runs")
	require.NoError(t, err)
	var table struct{ Rows [][]string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&table))
	resp.Body.Close()
	var order []string
	for _, r := range table.Rows {
		order = append(order, r[1]+":"+r[3])
	}
	require.Equal(t, []string{"job-a:started", "job-c:queued", "job-b:queued"}, order)
	require.Equal(t, 0, stop())
}
