package remote_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/postgres/pgtest"
	"github.com/chorusdev/chorus/remote"
)

// runLedger runs ledgerWF with input account and returns its outcome.
func runLedger(t *testing.T, eng *chorus.Engine, id, account string) (string, error) {
	t.Helper()
	ctx := testContext(t)
	run, err := chorus.Start(ctx, eng, ledgerWF, account, &chorus.StartOptions{ID: id})
	require.NoError(t, err)
	return run.Result(ctx)
}

// happyPath: the activity runs on the worker, with the attempt's info,
// and its result reaches the workflow.
func happyPath(t *testing.T, eng *chorus.Engine) {
	env := newHubEnv(t, eng, nil)
	infos := make(chan activity.Info, 4)
	env.startWorker(t, tokenA, ledger(func(ctx context.Context, account string) (string, error) {
		infos <- activity.GetInfo(ctx)
		return "balance of " + account + ": 42", nil
	}))
	out, err := runLedger(t, env.eng, "happy", "acct-7")
	require.NoError(t, err)
	require.Equal(t, "balance of acct-7: 42", out)
	info := recv(t, infos, "the attempt's info")
	require.Equal(t, "happy", info.RunID)
	require.Equal(t, "ledger-wf", info.Workflow)
	require.Equal(t, "read-ledger", info.Activity)
	require.Equal(t, "happy/2", info.IdempotencyKey)
	require.Equal(t, 1, info.Attempt)
	require.False(t, info.ScheduledAt.IsZero())
}

func TestHappyPathSQLite(t *testing.T) {
	t.Parallel()
	happyPath(t, openSQLite(t, tempDB(t)))
}

// TestFailureAndHeartbeats: an attempt's heartbeat details reach the
// hub's engine, the next attempt reads them, and a failure reaches the
// workflow with its type.
func TestFailureAndHeartbeats(t *testing.T) {
	t.Parallel()
	env := newHubEnv(t, openSQLite(t, tempDB(t)), nil)
	var calls atomic.Int32
	env.startWorker(t, tokenA, ledger(func(ctx context.Context, account string) (string, error) {
		switch calls.Add(1) {
		case 1:
			activity.Heartbeat(ctx, "page 3")
			return "", errors.New("connection reset")
		case 2:
			var page string
			if !activity.HeartbeatDetails(ctx, &page) {
				return "", activity.NonRetryable(errors.New("no details from the first attempt"))
			}
			return "", activity.NonRetryable(activity.NewError("ledger-locked", "resumed at %s; locked", page))
		}
		return "", errors.New("a third attempt")
	}))
	_, err := runLedger(t, env.eng, "fail", "acct-1")
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "ledger-locked", ae.Type)
	require.Contains(t, ae.Message, "resumed at page 3; locked")
	require.EqualValues(t, 2, calls.Load())
}

// TestWorkerKilledMidTask: a worker that stops answering loses the task
// when its lease expires, and another worker completes it.
func TestWorkerKilledMidTask(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock()
	lease := 10 * time.Second
	env := newHubEnv(t, openSQLite(t, tempDB(t)), &remote.HubOptions{
		Activities: []remote.Activity{onHub}, Workers: workers, LeaseTimeout: lease, Clock: mock})
	started := make(chan string, 1)
	// One task at a time: A has no poll left open when it dies.
	a := env.startWorkerN(t, tokenA, 1, ledger(func(ctx context.Context, account string) (string, error) {
		started <- activity.GetInfo(ctx).IdempotencyKey
		<-ctx.Done()
		return "", ctx.Err()
	}))
	ctx := testContext(t)
	run, err := chorus.Start(ctx, env.eng, ledgerWF, "acct-9", &chorus.StartOptions{ID: "killed"})
	require.NoError(t, err)
	require.Equal(t, "killed/2", recv(t, started, "the task at worker A"))
	a.kill(t) // it neither answers, nor renews, nor gives the task back

	var keys atomic.Value
	env.startWorker(t, tokenB, ledger(func(ctx context.Context, account string) (string, error) {
		keys.Store(activity.GetInfo(ctx).IdempotencyKey)
		return "B read " + account, nil
	}))
	mock.Add(lease + time.Second) // A's lease expires
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "B read acct-9", out)
	require.Equal(t, "killed/2", keys.Load(), "the idempotency key goes along")
}

// TestWorkerStopGivesTaskBack: a worker that stops gives its task back,
// and another worker gets it at once, without waiting for the lease.
func TestWorkerStopGivesTaskBack(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock() // never advanced: no lease expires
	env := newHubEnv(t, openSQLite(t, tempDB(t)), &remote.HubOptions{
		Activities: []remote.Activity{onHub}, Workers: workers, Clock: mock})
	started := make(chan string, 1)
	a := env.startWorkerN(t, tokenA, 1, ledger(func(ctx context.Context, account string) (string, error) {
		started <- activity.GetInfo(ctx).IdempotencyKey
		<-ctx.Done()
		return "", ctx.Err()
	}))
	ctx := testContext(t)
	run, err := chorus.Start(ctx, env.eng, ledgerWF, "acct-4", &chorus.StartOptions{ID: "stopped"})
	require.NoError(t, err)
	require.Equal(t, "stopped/2", recv(t, started, "the task at worker A"))
	a.stop(t)
	env.startWorker(t, tokenB, ledger(func(ctx context.Context, account string) (string, error) {
		return "B read " + account, nil
	}))
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "B read acct-4", out)
}

// TestWorkerStopDrainsRunningTask: with a drain, a stopping worker lets
// its running task finish and answer, under a context that is not
// canceled, and Run returns once it has.
func TestWorkerStopDrainsRunningTask(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock() // never advanced: no lease expires
	env := newHubEnv(t, openSQLite(t, tempDB(t)), &remote.HubOptions{
		Activities: []remote.Activity{onHub}, Workers: workers, Clock: mock})
	started, release := make(chan struct{}), make(chan struct{})
	var canceled atomic.Bool
	a := env.startWorkerWith(t, tokenA, &remote.WorkerOptions{Concurrency: 1, DrainTimeout: time.Hour},
		ledger(func(ctx context.Context, account string) (string, error) {
			close(started)
			<-release
			canceled.Store(ctx.Err() != nil)
			return "A drained " + account, nil
		}))
	ctx := testContext(t)
	run, err := chorus.Start(ctx, env.eng, ledgerWF, "acct-5", &chorus.StartOptions{ID: "drained"})
	require.NoError(t, err)
	recv(t, started, "the task at worker A")
	a.cancel()
	select {
	case err := <-a.done:
		t.Fatalf("Run returned (%v) while its task was still running", err)
	default:
	}
	close(release)
	a.stop(t)
	require.False(t, canceled.Load(), "the task's context stays live during the drain")
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "A drained acct-5", out, "the answer made during the drain counts")
}

// TestWorkerDrainTimesOut: a task still running when the drain ends is
// canceled and given back, and another worker completes it.
func TestWorkerDrainTimesOut(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock()
	env := newHubEnv(t, openSQLite(t, tempDB(t)), &remote.HubOptions{
		Activities: []remote.Activity{onHub}, Workers: workers, Clock: mock})
	started := make(chan struct{})
	a := env.startWorkerWith(t, tokenA, &remote.WorkerOptions{Concurrency: 1, DrainTimeout: 10 * time.Millisecond},
		ledger(func(ctx context.Context, account string) (string, error) {
			close(started)
			<-ctx.Done()
			return "", ctx.Err()
		}))
	ctx := testContext(t)
	run, err := chorus.Start(ctx, env.eng, ledgerWF, "acct-6", &chorus.StartOptions{ID: "drain-timeout"})
	require.NoError(t, err)
	recv(t, started, "the task at worker A")
	a.stop(t)
	env.startWorker(t, tokenB, ledger(func(ctx context.Context, account string) (string, error) {
		return "B read " + account, nil
	}))
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "B read acct-6", out)
}

// TestAuthAndBadRequests: the hub refuses what it must, with the status
// and code that say why.
func TestAuthAndBadRequests(t *testing.T) {
	t.Parallel()
	env := newHubEnv(t, openSQLite(t, tempDB(t)), nil)
	poll := map[string]any{"queues": []string{queue}, "activities": []string{"read-ledger"}}
	for _, tc := range []struct {
		name, token, path string
		body              any
		status            int
		code              string
	}{
		{"no token", "", "/v1/poll", poll, http.StatusUnauthorized, "unauthorized"},
		{"wrong token", tokenA + "x", "/v1/poll", poll, http.StatusUnauthorized, "unauthorized"},
		{"token prefix", tokenA[:20], "/v1/poll", poll, http.StatusUnauthorized, "unauthorized"},
		{"queue not allowed", tokenC, "/v1/poll", poll, http.StatusForbidden, "forbidden"},
		{"unknown queue", tokenC, "/v1/poll", map[string]any{"queues": []string{"ghost"}, "activities": []string{"x"}}, http.StatusNotFound, "unknown_queue"},
		{"malformed JSON", tokenA, "/v1/poll", `{"queues": [`, http.StatusBadRequest, "bad_request"},
		{"unknown field", tokenA, "/v1/poll", `{"queues": ["onprem"], "activities": ["a"], "x": 1}`, http.StatusBadRequest, "bad_request"},
		{"no queue", tokenA, "/v1/poll", `{"activities": ["a"]}`, http.StatusBadRequest, "bad_request"},
		{"answer with two outcomes", tokenA, "/v1/answer", `{"lease": "l", "result": "Ig==", "pending": true}`, http.StatusBadRequest, "bad_request"},
		{"answer with no outcome", tokenA, "/v1/answer", `{"lease": "l"}`, http.StatusBadRequest, "bad_request"},
		{"failure without message", tokenA, "/v1/answer", `{"lease": "l", "failure": {"type": "x"}}`, http.StatusBadRequest, "bad_request"},
		{"answer to no lease", tokenA, "/v1/answer", `{"lease": "nope", "result": "Ig=="}`, http.StatusConflict, "not_held"},
		{"heartbeat of no lease", tokenA, "/v1/heartbeat", `{"lease": "nope"}`, http.StatusConflict, "not_held"},
		{"release of no lease", tokenA, "/v1/release", `{"lease": "nope"}`, http.StatusConflict, "not_held"},
	} {
		status, body := env.post(t, tc.token, tc.path, tc.body)
		require.Equal(t, tc.status, status, tc.name)
		require.Equal(t, tc.code, body["code"], tc.name)
		require.NotEmpty(t, body["message"], tc.name)
	}

	// A worker with a bad token stops at once with the error.
	w, err := remote.NewWorker(env.srv.URL, "not-a-token-of-this-hub", []string{queue}, &remote.WorkerOptions{Client: env.srv.Client()}, onHub)
	require.NoError(t, err)
	err = w.Run(testContext(t))
	require.ErrorIs(t, err, remote.ErrUnauthorized)
	var he *remote.HubError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusUnauthorized, he.Status)
	w, err = remote.NewWorker(env.srv.URL, tokenC, []string{"ghost"}, &remote.WorkerOptions{Client: env.srv.Client()}, onHub)
	require.NoError(t, err)
	require.ErrorIs(t, w.Run(testContext(t)), remote.ErrUnknownQueue)
}

// TestDuplicateAnswerIgnored: a repeated answer is acknowledged and
// changes nothing; an answer from a worker that does not hold the task is
// refused.
func TestDuplicateAnswerIgnored(t *testing.T) {
	t.Parallel()
	env := newHubEnv(t, openSQLite(t, tempDB(t)), nil)
	ctx := testContext(t)
	run, err := chorus.Start(ctx, env.eng, ledgerWF, "acct-3", &chorus.StartOptions{ID: "dup"})
	require.NoError(t, err)

	status, task := env.post(t, tokenA, "/v1/poll", map[string]any{"queues": []string{queue}, "activities": []string{"read-ledger"}})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "dup/2", task["idempotency_key"])
	lease := task["lease"].(string)

	status, body := env.post(t, tokenB, "/v1/answer", map[string]any{"lease": lease, "result": encoded(t, "from B")})
	require.Equal(t, http.StatusConflict, status, "B does not hold A's task")
	require.Equal(t, "not_held", body["code"])
	status, _ = env.post(t, tokenB, "/v1/heartbeat", map[string]any{"lease": lease})
	require.Equal(t, http.StatusConflict, status)
	status, _ = env.post(t, tokenB, "/v1/release", map[string]any{"lease": lease})
	require.Equal(t, http.StatusConflict, status, "B cannot give back A's task")

	status, _ = env.post(t, tokenA, "/v1/heartbeat", map[string]any{"lease": lease})
	require.Equal(t, http.StatusOK, status)
	status, body = env.post(t, tokenA, "/v1/answer", map[string]any{"lease": lease, "result": encoded(t, "first")})
	require.Equal(t, http.StatusOK, status)
	require.Nil(t, body["duplicate"])
	status, body = env.post(t, tokenA, "/v1/answer", map[string]any{"lease": lease, "result": encoded(t, "second")})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, true, body["duplicate"])
	status, _ = env.post(t, tokenA, "/v1/heartbeat", map[string]any{"lease": lease})
	require.Equal(t, http.StatusConflict, status, "an answered task is no longer held")

	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "first", out)
}

// hubRestart: the hub's engine closes while a worker holds a task; the
// reopened engine (open gives a new one on the same database) runs the
// attempt again, the new hub offers it again, the old lease's answer is
// refused, and the run completes.
func hubRestart(t *testing.T, open func() *chorus.Engine) {
	ho := &remote.HubOptions{Activities: []remote.Activity{onHub}, Workers: workers, LeaseTimeout: 600 * time.Millisecond}
	env := newHubEnv(t, open(), ho)
	var execs atomic.Int32
	started, release := make(chan struct{}, 4), make(chan struct{})
	env.startWorker(t, tokenA, ledger(func(ctx context.Context, account string) (string, error) {
		n := execs.Add(1)
		started <- struct{}{}
		if n == 1 {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return "first execution", nil
		}
		return fmt.Sprint("execution ", n), nil
	}))
	ctx := testContext(t)
	_, err := chorus.Start(ctx, env.eng, ledgerWF, "acct-5", &chorus.StartOptions{ID: "restart"})
	require.NoError(t, err)
	recv(t, started, "the first execution")

	// The hub process restarts: its engine and hub close, new ones open
	// on the same database and answer at the same URL.
	closeEngine(t, env.eng)
	env.hub.Close()
	env.install(t, open(), ho)
	close(release)

	run, err := chorus.Lookup(ctx, env.eng, ledgerWF, "restart")
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "execution 2", out)
	require.EqualValues(t, 2, execs.Load(), "the task outstanding at the restart ran again, once")
}

func TestHubRestartSQLite(t *testing.T) {
	t.Parallel()
	path := tempDB(t)
	hubRestart(t, func() *chorus.Engine { return openSQLite(t, path) })
}

func TestHubRestartPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	hubRestart(t, func() *chorus.Engine { return openPostgres(t, url) })
}

// TestHappyPathPostgres: the hub is an engine; its store may be
// PostgreSQL.
func TestHappyPathPostgres(t *testing.T) {
	t.Parallel()
	happyPath(t, openPostgres(t, pgtest.URL(t)))
}

// openPostgres opens an engine on the PostgreSQL database of url. A
// standby waits for the lease of an engine closing on the same database.
func openPostgres(t testing.TB, url string) *chorus.Engine {
	t.Helper()
	ctx := testContext(t)
	store, err := postgres.Open(ctx, url, &postgres.Options{Standby: true})
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, store, engineOptions())
	require.NoError(t, err)
	return eng
}
