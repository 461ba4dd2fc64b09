package remote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"io"
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
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/remote"
	"github.com/chorusdev/chorus/workflow"
)

// quiet drops the logs of hubs and workers (expected warnings: expired
// leases, a closed hub).
var quiet = slog.New(slog.DiscardHandler)

// testTimeout bounds every wait, so a bug is a failure saying what it
// waited for instead of a hung binary.
const testTimeout = 30 * time.Second

const (
	queue  = "onprem"
	tokenA = "agent-a-token-0123456789abcdef"
	tokenB = "agent-b-token-0123456789abcdef"
	tokenC = "agent-c-token-0123456789abcdef" // may serve a queue no activity is bound to
)

var workers = []remote.WorkerToken{
	{Name: "agent-a", Token: tokenA, Queues: []string{queue}},
	{Name: "agent-b", Token: tokenB, Queues: []string{queue}},
	{Name: "agent-c", Token: tokenC, Queues: []string{"ghost"}},
}

// ledger returns the definition of the remote activity, running fn (on a
// worker; the hub never runs it).
func ledger(fn func(context.Context, string) (string, error)) *activity.Definition[string, string] {
	return activity.New("read-ledger", fn).WithOptions(activity.Options{Queue: queue, RetryPolicy: &activity.RetryPolicy{
		InitialInterval: time.Millisecond, MaximumInterval: time.Millisecond, MaximumAttempts: 3}})
}

// onHub is the definition the hub is given: its function must never run.
var onHub = ledger(func(context.Context, string) (string, error) {
	return "", activity.NonRetryable(errors.New("the hub ran a remote activity"))
})

var ledgerWF = workflow.New("ledger-wf", func(ctx workflow.Context, account string) (string, error) {
	return workflow.ExecuteActivity(ctx, onHub, account).Get(ctx)
})

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// hubEnv is a hub process: an engine, its hub, and an HTTP server whose
// handler can be swapped, so that a new hub answers at the same URL (a
// restarted process).
type hubEnv struct {
	eng     *chorus.Engine
	hub     *remote.Hub
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
}

func engineOptions() *chorus.Options {
	return &chorus.Options{Queues: []chorus.Queue{{Name: queue, Concurrency: 16}}}
}

// openSQLite opens an engine on the database file at path.
func openSQLite(t testing.TB, path string) *chorus.Engine {
	t.Helper()
	eng, err := chorus.Open(context.Background(), path, engineOptions())
	require.NoError(t, err)
	return eng
}

// newHubEnv starts a hub on eng, with ho (nil: test defaults) and serves
// it. The hub, the server and the engine close when the test ends.
func newHubEnv(t testing.TB, eng *chorus.Engine, ho *remote.HubOptions) *hubEnv {
	t.Helper()
	env := &hubEnv{}
	env.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*env.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		closeEngine(t, env.eng)
		env.hub.Close()
		env.srv.Close()
	})
	env.install(t, eng, ho)
	return env
}

// install makes a new hub on eng answer at the env's URL.
func (env *hubEnv) install(t testing.TB, eng *chorus.Engine, ho *remote.HubOptions) {
	t.Helper()
	o := remote.HubOptions{Activities: []remote.Activity{onHub}, Workers: workers, LeaseTimeout: 3 * time.Second}
	if ho != nil {
		o = *ho
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	require.NoError(t, eng.Register(ledgerWF))
	hub, err := remote.NewHub(eng, &o)
	require.NoError(t, err)
	env.eng, env.hub = eng, hub
	var h http.Handler = hub
	env.handler.Store(&h)
}

// closeEngine closes eng, giving the attempts running (tasks outstanding at
// workers) a short grace before they are interrupted.
func closeEngine(t testing.TB, eng *chorus.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.NoError(t, eng.Close(ctx))
}

// worker is a running remote.Worker.
type worker struct {
	cancel context.CancelFunc
	done   chan error
	net    *cutTransport
}

// cutTransport fails every request once cut: the worker's network (or
// process) is gone.
type cutTransport struct {
	base http.RoundTripper
	cut  atomic.Bool
}

func (c *cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.cut.Load() {
		return nil, errors.New("network cut")
	}
	return c.base.RoundTrip(r)
}

// kill cuts the worker's network and stops it: it can neither answer nor
// give its tasks back, as if its process had died.
func (wk *worker) kill(t testing.TB) {
	wk.net.cut.Store(true)
	wk.stop(t)
}

// startWorker runs a worker with token and act until stop (or the test's
// end).
func (env *hubEnv) startWorker(t testing.TB, token string, act remote.Activity) *worker {
	t.Helper()
	return env.startWorkerN(t, token, 2, act)
}

// startWorkerN is startWorker with n tasks at once.
func (env *hubEnv) startWorkerN(t testing.TB, token string, n int, act remote.Activity) *worker {
	t.Helper()
	return env.startWorkerWith(t, token, &remote.WorkerOptions{Concurrency: n}, act)
}

// startWorkerWith is startWorker with options o (its Client, RetryDelay
// and Logger are the test's).
func (env *hubEnv) startWorkerWith(t testing.TB, token string, o *remote.WorkerOptions, act remote.Activity) *worker {
	t.Helper()
	net := &cutTransport{base: env.srv.Client().Transport}
	wo := *o
	wo.Client, wo.RetryDelay, wo.Logger = &http.Client{Transport: net}, 20*time.Millisecond, quiet
	w, err := remote.NewWorker(env.srv.URL, token, []string{queue}, &wo, act)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	wk := &worker{cancel: cancel, done: make(chan error, 1), net: net}
	go func() { wk.done <- w.Run(ctx) }()
	t.Cleanup(func() { wk.stop(t) })
	return wk
}

// stop cancels the worker and waits for Run to return.
func (wk *worker) stop(t testing.TB) {
	t.Helper()
	wk.cancel()
	select {
	case err, ok := <-wk.done:
		if ok {
			require.NoError(t, err)
			close(wk.done)
		}
	case <-time.After(testTimeout):
		t.Fatal("timed out waiting for the worker to stop")
	}
}

// recv waits for a value on ch or fails the test.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// post sends one raw protocol request and returns the status and body.
func (env *hubEnv) post(t testing.TB, token, path string, body any) (int, map[string]any) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		b, err = json.Marshal(v)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(http.MethodPost, env.srv.URL+path, bytes.NewReader(b))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := env.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	if len(rb) > 0 {
		require.NoError(t, json.Unmarshal(rb, &m), "body %q", rb)
	}
	return resp.StatusCode, m
}

// encoded is v as the engine's codec encodes it.
func encoded(t testing.TB, v any) []byte {
	t.Helper()
	b, err := history.JSONCodec{}.Marshal(v)
	require.NoError(t, err)
	return b
}

func tempDB(t testing.TB) string { return filepath.Join(t.TempDir(), "hub.db") }
