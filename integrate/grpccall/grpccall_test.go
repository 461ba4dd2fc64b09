package grpccall_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/integrate/grpccall"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// step is what the server does with one call: nil answers normally.
type step func(ctx context.Context) error

// server is an in-memory gRPC server (the standard health service) whose
// calls follow a script, and that records each call's idempotency key.
type server struct {
	lis    *bufconn.Listener
	mu     sync.Mutex
	n      int
	keys   []string
	script []step
	// fail, when set, answers every call past the script.
	fail atomic.Pointer[error]
}

func newServer(t *testing.T, script ...step) *server {
	s := &server{lis: bufconn.Listen(1 << 20), script: script}
	g := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		s.mu.Lock()
		i := s.n
		s.n++
		s.keys = append(s.keys, first(md.Get("idempotency-key")))
		s.mu.Unlock()
		if i < len(s.script) && s.script[i] != nil {
			if err := s.script[i](ctx); err != nil {
				return nil, err
			}
		}
		if p := s.fail.Load(); p != nil {
			return nil, *p
		}
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(g, health.NewServer())
	go func() { _ = g.Serve(s.lis) }()
	t.Cleanup(g.Stop)
	return s
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (s *server) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *server) idempotencyKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// client connects to s through the interceptor configured by o.
func (s *server) client(t *testing.T, o *grpccall.Options) healthpb.HealthClient {
	t.Helper()
	icpt, err := grpccall.UnaryClientInterceptor(o)
	require.NoError(t, err)
	conn, err := grpc.NewClient("passthrough:///"+t.Name(),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(icpt))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func fail(c codes.Code, trailer ...string) step {
	return func(ctx context.Context) error {
		if len(trailer) > 0 {
			_ = grpc.SetTrailer(ctx, metadata.Pairs(trailer...))
		}
		return status.Error(c, c.String()+" (scripted)")
	}
}

// hang answers nothing until the client gives up.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// waits records retry waits and moves a mock clock past each one.
type waits struct {
	integrate.NopObserver
	mock *clock.Mock
	mu   sync.Mutex
	got  []time.Duration
	errs []error
}

func (w *waits) Retrying(_ string, _ int, d time.Duration, err error) {
	w.mu.Lock()
	w.got = append(w.got, d)
	w.errs = append(w.errs, err)
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

var check = &healthpb.HealthCheckRequest{}

func TestUnavailableIsRetriedWithTheIdempotencyKey(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fail(codes.Unavailable), fail(codes.Unavailable))
	mock := clock.NewMock()
	w := &waits{mock: mock}
	c := srv.client(t, &grpccall.Options{Clock: mock, Observer: w,
		Retry: &integrate.RetryOptions{MaxAttempts: 3, InitialInterval: time.Second, MaxInterval: 10 * time.Second}})
	ctx := activity.WithInfo(testContext(t), activity.Info{IdempotencyKey: "run-1/4"})
	resp, err := c.Check(ctx, check)
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
	got := w.list()
	require.Len(t, got, 2)
	require.InDelta(t, float64(time.Second), float64(got[0]), float64(200*time.Millisecond), "backoff with at most 20%% jitter")
	require.InDelta(t, float64(2*time.Second), float64(got[1]), float64(400*time.Millisecond))
	require.Equal(t, []string{"run-1/4", "run-1/4", "run-1/4"}, srv.idempotencyKeys(), "every attempt carries the activity's idempotency key")
}

func TestPushbackTrailerIsTheWait(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fail(codes.ResourceExhausted, grpccall.PushbackTrailer, "7000"))
	mock := clock.NewMock()
	w := &waits{mock: mock}
	c := srv.client(t, &grpccall.Options{Clock: mock, Observer: w})
	_, err := c.Check(testContext(t), check)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{7 * time.Second}, w.list(), "the server's pushback, not the backoff")
	require.Equal(t, 2, srv.requests())
}

func TestRetryInfoDetailIsTheWait(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(context.Context) error {
		st, err := status.New(codes.Unavailable, "overloaded").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
		if err != nil {
			return err
		}
		return st.Err()
	})
	mock := clock.NewMock()
	w := &waits{mock: mock}
	c := srv.client(t, &grpccall.Options{Clock: mock, Observer: w})
	_, err := c.Check(testContext(t), check)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{3 * time.Second}, w.list())
}

func TestNegativePushbackStopsRetrying(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fail(codes.Unavailable, grpccall.PushbackTrailer, "-1"))
	c := srv.client(t, nil)
	_, err := c.Check(testContext(t), check)
	require.Equal(t, codes.Unavailable, status.Code(err))
	require.False(t, activity.IsNonRetryable(err), "the engine's policy may retry it later")
	require.Equal(t, 1, srv.requests())
}

func TestClientErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fail(codes.InvalidArgument))
	var c healthpb.HealthClient
	obs := &waits{}
	c = srv.client(t, &grpccall.Options{Observer: obs})
	_, err := c.Check(testContext(t), check)
	require.Error(t, err)
	require.Equal(t, codes.InvalidArgument, status.Code(err), "status.Code reads it")
	code, ok := grpccall.CodeOf(err)
	require.True(t, ok)
	require.Equal(t, codes.InvalidArgument, code)
	require.True(t, activity.IsNonRetryable(err))
	require.Equal(t, grpccall.TypeGRPCStatus, activity.TypeOf(err))
	require.Equal(t, 1, srv.requests())
	require.Empty(t, obs.list())
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	srv := newServer(t, hang)
	w := &waits{}
	c := srv.client(t, &grpccall.Options{Timeout: 50 * time.Millisecond, Observer: w, NoBreaker: true,
		Retry: &integrate.RetryOptions{InitialInterval: time.Millisecond}})
	_, err := c.Check(testContext(t), check)
	require.NoError(t, err)
	require.Len(t, w.list(), 1)
	var se *grpccall.StatusError
	require.ErrorAs(t, w.errs[0], &se)
	require.True(t, se.AttemptTimeout)
	require.Equal(t, codes.DeadlineExceeded, se.Code)
}

// transitions records breaker state changes.
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
	srv := newServer(t)
	down := status.Error(codes.Unavailable, "down")
	srv.fail.Store(&down)
	obs := &transitions{}
	br, err := integrate.NewBreaker(t.Name(), &integrate.BreakerOptions{FailureThreshold: 2, OpenTimeout: 100 * time.Millisecond, Observer: obs})
	require.NoError(t, err)
	c := srv.client(t, &grpccall.Options{Breaker: br, Retry: &integrate.RetryOptions{MaxAttempts: 1}})
	ctx := testContext(t)
	for range 2 {
		_, err := c.Check(ctx, check)
		require.Equal(t, codes.Unavailable, status.Code(err))
	}
	require.Equal(t, integrate.BreakerOpen, br.State())
	_, err = c.Check(ctx, check)
	require.ErrorIs(t, err, integrate.ErrCircuitOpen)
	require.True(t, integrate.IsCircuitOpen(err))
	require.True(t, activity.IsNonRetryable(err))
	require.Equal(t, 2, srv.requests(), "an open breaker does not reach the server")

	require.Eventually(t, func() bool { return br.State() == integrate.BreakerHalfOpen }, 10*time.Second, 5*time.Millisecond)
	_, err = c.Check(ctx, check)
	require.False(t, integrate.IsCircuitOpen(err), "the trial call goes out")
	require.Equal(t, integrate.BreakerOpen, br.State())

	srv.fail.Store(nil)
	require.Eventually(t, func() bool { return br.State() == integrate.BreakerHalfOpen }, 10*time.Second, 5*time.Millisecond)
	_, err = c.Check(ctx, check)
	require.NoError(t, err)
	require.Equal(t, integrate.BreakerClosed, br.State())
	require.Equal(t, []string{"closed>open", "open>half-open", "half-open>open", "open>half-open", "half-open>closed"}, obs.list())
}

func TestClientErrorsDoNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	notFound := status.Error(codes.NotFound, "no such service")
	srv.fail.Store(&notFound)
	br, err := integrate.NewBreaker(t.Name(), &integrate.BreakerOptions{FailureThreshold: 1})
	require.NoError(t, err)
	c := srv.client(t, &grpccall.Options{Breaker: br})
	for range 3 {
		_, err := c.Check(testContext(t), check)
		require.Equal(t, codes.NotFound, status.Code(err))
	}
	require.Equal(t, integrate.BreakerClosed, br.State())
}

func TestLimiterRefusal(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	lim, err := integrate.NewLimiter(t.Name(), integrate.LimiterOptions{Rate: 1.0 / 3600, MaxWait: time.Second})
	require.NoError(t, err)
	c := srv.client(t, &grpccall.Options{Limiter: lim})
	_, err = c.Check(testContext(t), check)
	require.NoError(t, err)
	_, err = c.Check(testContext(t), check)
	require.ErrorIs(t, err, integrate.ErrRateLimited)
	require.True(t, integrate.IsRateLimited(err))
	require.False(t, activity.IsNonRetryable(err))
	require.Equal(t, 1, srv.requests())
}

func TestBadOptionsAreNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    grpccall.Options
		want string
	}{
		{grpccall.Options{Timeout: -1}, "Timeout"},
		{grpccall.Options{Retry: &integrate.RetryOptions{MaxAttempts: -1}}, "MaxAttempts"},
		{grpccall.Options{Retry: &integrate.RetryOptions{BackoffCoefficient: 0.5}}, "BackoffCoefficient"},
		{grpccall.Options{BreakerOptions: &integrate.BreakerOptions{FailureThreshold: -1}}, "FailureThreshold"},
	} {
		_, err := grpccall.UnaryClientInterceptor(&tc.o)
		require.ErrorContains(t, err, tc.want)
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	for c, want := range map[codes.Code]bool{
		codes.Unavailable: true, codes.ResourceExhausted: true, codes.Internal: true, codes.DeadlineExceeded: true,
		codes.InvalidArgument: false, codes.NotFound: false, codes.PermissionDenied: false, codes.Unauthenticated: false,
		codes.FailedPrecondition: false, codes.Unimplemented: false,
	} {
		require.Equal(t, want, grpccall.Retryable(c), c.String())
	}
}
