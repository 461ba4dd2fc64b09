package integrate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/workflow"
)

func openEngine(t *testing.T, opts *chorus.Options, defs ...chorus.Definition) *chorus.Engine {
	t.Helper()
	eng, err := chorus.Open(context.Background(), filepath.Join(t.TempDir(), "chorus.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, eng.Close(ctx))
	})
	require.NoError(t, eng.Register(defs...))
	return eng
}

// TestWorkflowRoutesOnTypedFailures checks that the failures a workflow
// gets from a call keep what it needs to route: the HTTP status of a 4xx,
// and the open breaker.
func TestWorkflowRoutesOnTypedFailures(t *testing.T) {
	t.Parallel()
	srv := newServer(t, status(http.StatusNotFound), status(500))
	ship := newCall(t, t.Name()+"/ship", srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{
		Client: srv.Client(), Retry: &integrate.RetryOptions{MaxAttempts: 1},
		BreakerOptions: &integrate.BreakerOptions{FailureThreshold: 1, OpenTimeout: time.Hour},
	})
	wf := workflow.New(t.Name(), func(ctx workflow.Context, sku string) (string, error) {
		_, err := workflow.ExecuteActivity(ctx, ship.Activity(), stockReq{SKU: sku}).Get(ctx)
		var ae *activity.Error
		switch {
		case err == nil:
			return "shipped", nil
		case integrate.IsCircuitOpen(err):
			return "circuit open: use the backup", nil
		case !errors.As(err, &ae):
			return "", err
		}
		if se, ok := integrate.StatusOf(err); ok {
			return fmt.Sprintf("HTTP %d (%s, non-retryable %v)", se.StatusCode, ae.Type, ae.NonRetryable), nil
		}
		return ae.Type, nil
	})
	eng := openEngine(t, nil, wf, ship.Activity())
	ctx := testContext(t)
	result := func(id string) string {
		run, err := chorus.Start(ctx, eng, wf, "a", &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		out, err := run.Result(ctx)
		require.NoError(t, err)
		return out
	}
	require.Equal(t, "HTTP 404 (integrate.HTTPStatus, non-retryable true)", result("r1"))
	require.Equal(t, "HTTP 500 (integrate.HTTPStatus, non-retryable false)", result("r2"), "the engine made one attempt, as the default options say")
	require.Equal(t, "circuit open: use the backup", result("r3"))
	require.Equal(t, 2, srv.requests())
	require.Equal(t, []string{"r1/2", "r2/2"}, srv.keys, "the activity's idempotency key is sent")
}

// TestRateLimitUnder1000ConcurrentRuns starts 1,000 runs at once, each
// calling an API through one shared limiter, and checks the arrival times
// at the server: no window holds more requests than the limit allows.
func TestRateLimitUnder1000ConcurrentRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 runs: skipped with -short")
	}
	t.Parallel()
	const (
		runs  = 1000
		rate  = 250.0 // requests per second
		burst = 10
	)
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		_, _ = w.Write([]byte(`{"count":1}`))
	}))
	t.Cleanup(srv.Close)
	before := statsOf(t.Name())
	lim, err := integrate.NewLimiter(t.Name(), integrate.LimiterOptions{Rate: rate, Burst: burst})
	require.NoError(t, err)
	call := newCall(t, t.Name()+"/pay", srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{Client: srv.Client(), Limiter: lim})
	wf := workflow.New(t.Name(), func(ctx workflow.Context, sku string) (int, error) {
		// Every run waits here until all have started, so the calls go
		// out together.
		if err := workflow.Sleep(ctx, time.Hour); err != nil {
			return 0, err
		}
		r, err := workflow.ExecuteActivity(ctx, call.Activity(), stockReq{SKU: sku}).Get(ctx)
		return r.Count, err
	})
	mock := clock.NewMock()
	eng := openEngine(t, &chorus.Options{MaxConcurrentActivities: runs, Clock: mock}, wf, call.Activity())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	handles := make([]*chorus.Run[int], runs)
	for i := range handles {
		handles[i], err = chorus.Start(ctx, eng, wf, fmt.Sprint(i), nil)
		require.NoError(t, err)
	}
	mock.Add(time.Hour)
	for _, h := range handles {
		n, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, arrivals, runs)
	sort.Slice(arrivals, func(i, j int) bool { return arrivals[i].Before(arrivals[j]) })
	// In any window of length w, the token bucket lets out at most
	// burst + rate*w requests. A request can only arrive after its
	// release, so the requests arriving in a window were released in it or
	// up to the delay on the way (d: timers wake late and requests queue on a loaded machine) before.
	const w, d = time.Second, 250 * time.Millisecond
	allowed := burst + int(rate*(w+d).Seconds())
	worst := 0
	for i := range arrivals {
		j := sort.Search(len(arrivals), func(j int) bool { return !arrivals[j].Before(arrivals[i].Add(w)) })
		worst = max(worst, j-i)
	}
	t.Logf("busiest %v window: %d requests (allowed %d); first to last: %v", w, worst, allowed, arrivals[runs-1].Sub(arrivals[0]))
	require.LessOrEqual(t, worst, allowed)
	// And the requests are spread as the rate says: the last one cannot
	// have been released before (runs-burst)/rate after the first.
	require.GreaterOrEqual(t, arrivals[runs-1].Sub(arrivals[0]), time.Duration(float64(runs-burst)/rate*float64(time.Second))-d)
	waited := statsOf(t.Name()).LimiterWaits - before.LimiterWaits
	require.Greater(t, waited, int64(runs/2), "most calls waited for their turn")
}
