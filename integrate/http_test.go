package integrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/integrate"
)

type stockReq struct {
	SKU string `json:"sku"`
}

type stockResp struct {
	SKU   string `json:"sku"`
	Count int    `json:"count"`
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// server answers with the statuses of script in turn (200 with a stock
// answer once the script is spent), and counts the requests.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	n      int
	keys   []string
	script []func(w http.ResponseWriter, r *http.Request)
}

func newServer(t *testing.T, script ...func(w http.ResponseWriter, r *http.Request)) *server {
	s := &server{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		i := s.n
		s.n++
		s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
		s.mu.Unlock()
		if i < len(s.script) && s.script[i] != nil {
			s.script[i](w, r)
			return
		}
		var in stockReq
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(stockResp{SKU: in.SKU, Count: 7})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func status(code int, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"error":"` + http.StatusText(code) + `"}`))
	}
}

// hang answers nothing until the client gives up. (The server notices that
// only once the request's body has been read.)
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

// waits records retry waits and moves a mock clock past each one.
type waits struct {
	integrate.NopObserver
	mock *clock.Mock
	mu   sync.Mutex
	got  []time.Duration
}

func (w *waits) Retrying(_ string, _ int, d time.Duration, _ error) {
	w.mu.Lock()
	w.got = append(w.got, d)
	w.mu.Unlock()
	if w.mock != nil {
		w.mock.Add(d)
	}
}

func (w *waits) list() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.got...)
}

func newCall(t *testing.T, name, url string, o *integrate.HTTPOptions[stockReq, stockResp]) *integrate.Call[stockReq, stockResp] {
	t.Helper()
	c, err := integrate.NewHTTP(name, url, o)
	require.NoError(t, err)
	return c
}

func TestTimeoutIsRetriedThenFailsRetryable(t *testing.T) {
	t.Parallel()
	srv := newServer(t, hang, hang)
	before := statsOf(t.Name())
	w := &waits{}
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{
		Client: srv.Client(), Timeout: 50 * time.Millisecond, NoBreaker: true, Observer: w,
		Retry: &integrate.RetryOptions{MaxAttempts: 2, InitialInterval: time.Millisecond},
	})
	_, err := c.Do(testContext(t), stockReq{SKU: "a"})
	var te *integrate.TransportError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Timeout, "the per-call timeout passed: %v", err)
	require.False(t, activity.IsNonRetryable(err))
	require.Equal(t, integrate.TypeTransport, activity.TypeOf(err))
	require.Len(t, w.list(), 1)
	// Two requests went out (the server may not have seen the second
	// before it timed out, on a loaded machine).
	after := statsOf(t.Name())
	require.EqualValues(t, 2, after.Calls-before.Calls)
	require.EqualValues(t, 2, after.Failures-before.Failures)
}

func TestRetryAfterSecondsOn429(t *testing.T) {
	t.Parallel()
	srv := newServer(t, status(http.StatusTooManyRequests, "Retry-After", "7"))
	mock := clock.NewMock()
	w := &waits{mock: mock}
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{Client: srv.Client(), Clock: mock, Observer: w})
	out, err := c.Do(testContext(t), stockReq{SKU: "a"})
	require.NoError(t, err)
	require.Equal(t, stockResp{SKU: "a", Count: 7}, out)
	require.Equal(t, []time.Duration{7 * time.Second}, w.list(), "the wait is the server's Retry-After, not the backoff")
	require.Equal(t, 2, srv.requests())
}

func TestRetryAfterHTTPDateOn503(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	date := mock.Now().Add(3 * time.Second).Format(http.TimeFormat)
	srv := newServer(t, status(http.StatusServiceUnavailable, "Retry-After", date))
	w := &waits{mock: mock}
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{Client: srv.Client(), Clock: mock, Observer: w})
	_, err := c.Do(testContext(t), stockReq{SKU: "a"})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{3 * time.Second}, w.list())
}

func TestRetryAfterOverTheMaximumStopsRetrying(t *testing.T) {
	t.Parallel()
	srv := newServer(t, status(http.StatusServiceUnavailable, "Retry-After", "3600"))
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{Client: srv.Client(), NoBreaker: true})
	_, err := c.Do(testContext(t), stockReq{SKU: "a"})
	se, ok := integrate.StatusOf(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, http.StatusServiceUnavailable, se.StatusCode)
	require.Equal(t, time.Hour, se.RetryAfter)
	require.False(t, activity.IsNonRetryable(err), "the engine's policy may retry it later")
	require.Equal(t, 1, srv.requests())
}

func TestRetryAfterZeroRetriesAtOnce(t *testing.T) {
	t.Parallel()
	srv := newServer(t, status(http.StatusTooManyRequests, "Retry-After", "0"))
	w := &waits{}
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{
		Client: srv.Client(), Observer: w, Retry: &integrate.RetryOptions{InitialInterval: time.Hour},
	})
	_, err := c.Do(testContext(t), stockReq{})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{0}, w.list(), "the server's zero wait, not the hour of backoff")
}

func Test503ThenRecovers(t *testing.T) {
	t.Parallel()
	srv := newServer(t, status(503), status(503))
	mock := clock.NewMock()
	w := &waits{mock: mock}
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{
		Client: srv.Client(), Clock: mock, Observer: w,
		Retry: &integrate.RetryOptions{MaxAttempts: 3, InitialInterval: time.Second, MaxInterval: 10 * time.Second},
	})
	ctx := activity.WithInfo(testContext(t), activity.Info{IdempotencyKey: "run-1/4"})
	out, err := c.Do(ctx, stockReq{SKU: "b"})
	require.NoError(t, err)
	require.Equal(t, 7, out.Count)
	got := w.list()
	require.Len(t, got, 2)
	require.InDelta(t, float64(time.Second), float64(got[0]), float64(200*time.Millisecond), "backoff with at most 20%% jitter")
	require.InDelta(t, float64(2*time.Second), float64(got[1]), float64(400*time.Millisecond))
	require.Equal(t, []string{"run-1/4", "run-1/4", "run-1/4"}, srv.keys, "every retry carries the activity's idempotency key")
}

func Test4xxIsNotRetried(t *testing.T) {
	t.Parallel()
	srv := newServer(t, status(http.StatusUnprocessableEntity))
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{Client: srv.Client()})
	_, err := c.Do(testContext(t), stockReq{SKU: "a"})
	var se *integrate.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusUnprocessableEntity, se.StatusCode)
	require.Contains(t, se.Body, "Unprocessable Entity")
	require.True(t, activity.IsNonRetryable(err))
	require.Equal(t, integrate.TypeHTTPStatus, activity.TypeOf(err))
	require.Equal(t, 1, srv.requests())
	require.Equal(t, integrate.BreakerClosed, c.Breaker().State(), "a client error does not count against the service")
}

func TestBodyExcerptIsBounded(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		for range 100 {
			_, _ = w.Write([]byte("0123456789"))
		}
	})
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{Client: srv.Client()})
	_, err := c.Do(testContext(t), stockReq{})
	var se *integrate.StatusError
	require.ErrorAs(t, err, &se)
	require.Len(t, se.Body, integrate.MaxBodyExcerpt)
}

// transitions records a breaker's state changes.
type transitions struct {
	integrate.NopObserver
	mu  sync.Mutex
	got []string
}

func (o *transitions) BreakerStateChanged(_ string, from, to integrate.BreakerState) {
	o.mu.Lock()
	o.got = append(o.got, from.String()+">"+to.String())
	o.mu.Unlock()
}

func (o *transitions) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.got...)
}

func TestBreakerOpensHalfOpensAndCloses(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"count":1}`))
	}))
	t.Cleanup(srv.Close)
	obs := &transitions{}
	before := statsOf(t.Name())
	open := 100 * time.Millisecond
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{
		Client: srv.Client(), Observer: obs,
		Retry:          &integrate.RetryOptions{MaxAttempts: 1},
		BreakerOptions: &integrate.BreakerOptions{FailureThreshold: 2, OpenTimeout: open},
	})
	ctx := testContext(t)
	for range 2 {
		_, err := c.Do(ctx, stockReq{})
		se, ok := integrate.StatusOf(err)
		require.True(t, ok)
		require.Equal(t, 500, se.StatusCode)
	}
	require.Equal(t, integrate.BreakerOpen, c.Breaker().State())
	_, err := c.Do(ctx, stockReq{})
	require.ErrorIs(t, err, integrate.ErrCircuitOpen)
	require.True(t, integrate.IsCircuitOpen(err))
	require.True(t, activity.IsNonRetryable(err), "the workflow routes on it at once")
	require.Equal(t, integrate.TypeCircuitOpen, activity.TypeOf(err))
	require.EqualValues(t, 2, hits.Load(), "an open breaker does not reach the server")

	// Half-open after the timeout; a failing trial opens it again.
	require.Eventually(t, func() bool { return c.Breaker().State() == integrate.BreakerHalfOpen }, 10*time.Second, 5*time.Millisecond)
	_, err = c.Do(ctx, stockReq{})
	require.False(t, integrate.IsCircuitOpen(err), "the trial call goes out")
	require.Equal(t, integrate.BreakerOpen, c.Breaker().State())

	// Half-open again; a successful trial closes it.
	failing.Store(false)
	require.Eventually(t, func() bool { return c.Breaker().State() == integrate.BreakerHalfOpen }, 10*time.Second, 5*time.Millisecond)
	_, err = c.Do(ctx, stockReq{})
	require.NoError(t, err)
	require.Equal(t, integrate.BreakerClosed, c.Breaker().State())
	require.Equal(t, []string{"closed>open", "open>half-open", "half-open>open", "open>half-open", "half-open>closed"}, obs.list())

	st := statsOf(t.Name())
	require.Equal(t, "endpoint+breaker", st.Kind)
	require.Equal(t, "closed", st.BreakerState)
	require.EqualValues(t, 5, st.StateChanges-before.StateChanges)
	require.EqualValues(t, 2, st.Opened-before.Opened)
	require.EqualValues(t, 1, st.Rejected-before.Rejected)
}

func TestFallbackEndpointWhenPrimaryIsDown(t *testing.T) {
	t.Parallel()
	primary := newServer(t, status(503), status(503), status(503), status(503))
	backup := newServer(t)
	c := newCall(t, t.Name(), primary.URL, &integrate.HTTPOptions[stockReq, stockResp]{
		Client: primary.Client(), FallbackEndpoint: backup.URL,
		Retry:          &integrate.RetryOptions{MaxAttempts: 2, InitialInterval: time.Millisecond},
		BreakerOptions: &integrate.BreakerOptions{FailureThreshold: 2},
	})
	ctx := activity.WithInfo(testContext(t), activity.Info{IdempotencyKey: "k"})
	out, err := c.Do(ctx, stockReq{SKU: "z"})
	require.NoError(t, err)
	require.Equal(t, "z", out.SKU)
	require.Equal(t, 2, primary.requests())
	require.Equal(t, []string{"k"}, backup.keys)

	// The breaker is open now: the next call goes straight to the backup.
	_, err = c.Do(ctx, stockReq{SKU: "y"})
	require.NoError(t, err)
	require.Equal(t, 2, primary.requests())
	require.Equal(t, 2, backup.requests())
}

func TestFallbackFunctionGetsTheCause(t *testing.T) {
	t.Parallel()
	c := newCall(t, t.Name(), "http://127.0.0.1:1/unreachable", &integrate.HTTPOptions[stockReq, stockResp]{
		Retry: &integrate.RetryOptions{MaxAttempts: 1},
		Fallback: func(ctx context.Context, r stockReq, cause error) (stockResp, error) {
			var te *integrate.TransportError
			if !errors.As(cause, &te) {
				return stockResp{}, cause
			}
			return stockResp{SKU: r.SKU, Count: -1}, nil
		},
	})
	out, err := c.Do(testContext(t), stockReq{SKU: "q"})
	require.NoError(t, err)
	require.Equal(t, -1, out.Count)
}

func TestNoFallbackOnClientError(t *testing.T) {
	t.Parallel()
	srv := newServer(t, status(http.StatusBadRequest))
	called := false
	c := newCall(t, t.Name(), srv.URL, &integrate.HTTPOptions[stockReq, stockResp]{
		Client: srv.Client(),
		Fallback: func(context.Context, stockReq, error) (stockResp, error) {
			called = true
			return stockResp{}, nil
		},
	})
	_, err := c.Do(testContext(t), stockReq{})
	require.Error(t, err)
	require.False(t, called, "another provider would refuse the same bad request")
}

func TestBadOptionsAreNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		endpoint string
		opts     *integrate.HTTPOptions[stockReq, stockResp]
		want     string
	}{
		{"", nil, "endpoint"},
		{"/relative", nil, "absolute"},
		{"http://x", &integrate.HTTPOptions[stockReq, stockResp]{Timeout: -1}, "Timeout"},
		{"http://x", &integrate.HTTPOptions[stockReq, stockResp]{FallbackEndpoint: "ftp://x"}, "FallbackEndpoint"},
		{"http://x", &integrate.HTTPOptions[stockReq, stockResp]{Retry: &integrate.RetryOptions{MaxAttempts: -1}}, "MaxAttempts"},
		{"http://x", &integrate.HTTPOptions[stockReq, stockResp]{Retry: &integrate.RetryOptions{BackoffCoefficient: 0.5}}, "BackoffCoefficient"},
		{"http://x", &integrate.HTTPOptions[stockReq, stockResp]{BreakerOptions: &integrate.BreakerOptions{FailureThreshold: -2}}, "FailureThreshold"},
		{"http://x", &integrate.HTTPOptions[stockReq, stockResp]{Activity: &activity.Options{StartToCloseTimeout: -1}}, "Activity"},
	} {
		_, err := integrate.NewHTTP(t.Name(), tc.endpoint, tc.opts)
		require.ErrorContains(t, err, tc.want)
	}
	require.Panics(t, func() { integrate.HTTP[stockReq, stockResp]("x", "nope", nil) })
	_, err := integrate.NewLimiter("l", integrate.LimiterOptions{})
	require.ErrorContains(t, err, "Rate")
	_, err = integrate.NewBreaker("", nil)
	require.ErrorContains(t, err, "empty name")
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{" 12 ", 12 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	} {
		got, ok := integrate.ParseRetryAfter(tc.in, now)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

// statsOf returns the counters of name (they add up across -count runs).
func statsOf(name string) integrate.Stats {
	for _, s := range integrate.Snapshot() {
		if s.Name == name {
			return s
		}
	}
	return integrate.Stats{}
}

// TestFallbackEndpointWhenLimiterRefuses checks that a call the limiter
// refuses goes to the fallback endpoint, which is another service: the
// primary's quota does not apply to it.
func TestFallbackEndpointWhenLimiterRefuses(t *testing.T) {
	t.Parallel()
	primary := newServer(t)
	backup := newServer(t)
	mock := clock.NewMock()
	lim, err := integrate.NewLimiter(t.Name(), integrate.LimiterOptions{Rate: 1.0 / 3600, Burst: 1, MaxWait: time.Second, Clock: mock})
	require.NoError(t, err)
	c := newCall(t, t.Name(), primary.URL, &integrate.HTTPOptions[stockReq, stockResp]{
		Client: primary.Client(), Limiter: lim, FallbackEndpoint: backup.URL,
	})
	ctx := testContext(t)
	for _, sku := range []string{"first", "second", "third"} {
		out, err := c.Do(ctx, stockReq{SKU: sku})
		require.NoError(t, err, sku)
		require.Equal(t, sku, out.SKU)
	}
	require.Equal(t, 1, primary.requests(), "the limiter lets one request an hour through")
	require.Equal(t, 2, backup.requests(), "the refused calls went to the fallback endpoint")
	require.EqualValues(t, 2, statsOf(t.Name()).LimiterDenials)
}
