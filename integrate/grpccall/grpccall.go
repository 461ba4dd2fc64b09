// Package grpccall gives gRPC clients the resilience that package integrate
// gives HTTP calls, as a unary client interceptor:
//
//	icpt, err := grpccall.UnaryClientInterceptor(&grpccall.Options{Timeout: 2 * time.Second})
//	conn, err := grpc.NewClient(target, grpc.WithUnaryInterceptor(icpt), ...)
//
// Every call made through conn from an activity then has a per-attempt
// timeout; retries with backoff on Unavailable, ResourceExhausted, Aborted
// and the attempt's own deadline, waiting what the server asked for (a
// grpc-retry-pushback-ms trailer, or a google.rpc.RetryInfo detail) when it
// asked; fails at once on the codes that are the caller's fault
// (InvalidArgument, NotFound, PermissionDenied...) with an error the engine
// records as non-retryable; carries the activity's idempotency key
// (activity.Info.IdempotencyKey, the same across retries and crashes) in
// the idempotency-key metadata entry; and goes through a circuit breaker
// per target ([integrate.Breaker], failing fast with
// [integrate.ErrCircuitOpen]) and, when given, a client-side rate limiter
// ([integrate.Limiter]). The breakers and limiters show in
// [integrate.Snapshot] and the dashboard's Integrations page, as HTTP
// calls' do.
//
// In workflow code, [CodeOf] reads the gRPC code back from an activity's
// failure, and integrate.IsCircuitOpen and integrate.IsRateLimited work as
// for HTTP calls.
//
// The package is a module of its own, so that gRPC reaches only the
// programs that import it.
package grpccall

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/integrate"
)

// Defaults for [Options].
const (
	// DefaultIdempotencyKey is the metadata entry that carries the
	// activity's idempotency key.
	DefaultIdempotencyKey = "idempotency-key"
	// PushbackTrailer is the trailer in which a server asks the client to
	// wait a number of milliseconds before retrying (gRPC's retry
	// pushback); a negative or malformed value means do not retry.
	PushbackTrailer = "grpc-retry-pushback-ms"
)

// Options configures the interceptor. A nil *Options means every default.
type Options struct {
	// Name names the breakers the interceptor creates, in
	// [integrate.Snapshot] and in errors: the breaker of a connection is
	// "Name target". Defaults to "grpc".
	Name string
	// Timeout bounds one attempt of a call (the caller's deadline, when
	// shorter, still applies). An attempt that passes it is retried.
	// Defaults to [integrate.DefaultTimeout].
	Timeout time.Duration
	// Retry says how a call retries within one activity attempt, as for
	// HTTP calls. Defaults to nil: [integrate.RetryOptions]' defaults.
	Retry *integrate.RetryOptions
	// Breaker is the circuit breaker every call goes through; share one
	// between the connections that reach the same service. Defaults to a
	// breaker per connection target, configured by BreakerOptions.
	Breaker *integrate.Breaker
	// BreakerOptions configures the breakers the interceptor creates when
	// Breaker is nil. Defaults to nil: [integrate.BreakerOptions]'
	// defaults.
	BreakerOptions *integrate.BreakerOptions
	// NoBreaker turns the circuit breaker off. Defaults to false.
	NoBreaker bool
	// Limiter spaces the attempts (each attempt takes a turn). Defaults to
	// none.
	Limiter *integrate.Limiter
	// IdempotencyKey is the metadata entry that carries the activity's
	// idempotency key; "-" sends none. Defaults to
	// [DefaultIdempotencyKey].
	IdempotencyKey string
	// Observer hears of retries and, for the breakers the interceptor
	// creates, of state changes. Defaults to none.
	Observer integrate.Observer
	// Clock measures retry waits. Defaults to the real clock.
	Clock clock.Clock
}

// interceptor is one configured interceptor.
type interceptor struct {
	o        Options
	retry    integrate.RetryOptions
	obs      integrate.Observer
	mu       sync.Mutex
	breakers map[string]*integrate.Breaker // by target
}

// UnaryClientInterceptor returns the interceptor, or an error naming the
// bad field of opts.
func UnaryClientInterceptor(opts *Options) (grpc.UnaryClientInterceptor, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "grpc"
	}
	if o.Timeout == 0 {
		o.Timeout = integrate.DefaultTimeout
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("grpccall: Options.Timeout is negative (%v)", o.Timeout)
	}
	if o.IdempotencyKey == "" {
		o.IdempotencyKey = DefaultIdempotencyKey
	}
	if o.Clock == nil {
		o.Clock = clock.New()
	}
	r, err := retryDefaults(o.Retry)
	if err != nil {
		return nil, err
	}
	if bo := o.BreakerOptions; bo != nil {
		// Checked now rather than when the first call creates a breaker.
		switch {
		case bo.FailureThreshold < 0:
			return nil, fmt.Errorf("grpccall: Options.BreakerOptions.FailureThreshold is negative (%d)", bo.FailureThreshold)
		case bo.OpenTimeout < 0:
			return nil, fmt.Errorf("grpccall: Options.BreakerOptions.OpenTimeout is negative (%v)", bo.OpenTimeout)
		case bo.HalfOpenCalls < 0:
			return nil, fmt.Errorf("grpccall: Options.BreakerOptions.HalfOpenCalls is negative (%d)", bo.HalfOpenCalls)
		}
	}
	ic := &interceptor{o: o, retry: r, obs: o.Observer, breakers: map[string]*integrate.Breaker{}}
	if ic.obs == nil {
		ic.obs = integrate.NopObserver{}
	}
	return ic.intercept, nil
}

func retryDefaults(o *integrate.RetryOptions) (integrate.RetryOptions, error) {
	var r integrate.RetryOptions
	if o != nil {
		r = *o
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = integrate.DefaultMaxAttempts
	}
	if r.InitialInterval == 0 {
		r.InitialInterval = integrate.DefaultInitialInterval
	}
	if r.BackoffCoefficient == 0 {
		r.BackoffCoefficient = integrate.DefaultBackoffCoefficient
	}
	if r.MaxInterval == 0 {
		r.MaxInterval = max(integrate.DefaultMaxInterval, r.InitialInterval)
	}
	if r.MaxRetryAfter == 0 {
		r.MaxRetryAfter = integrate.DefaultMaxRetryAfter
	}
	switch {
	case r.MaxAttempts < 0:
		return r, fmt.Errorf("grpccall: Options.Retry.MaxAttempts is negative (%d)", r.MaxAttempts)
	case r.InitialInterval < 0:
		return r, fmt.Errorf("grpccall: Options.Retry.InitialInterval is negative (%v)", r.InitialInterval)
	case r.BackoffCoefficient < 1:
		return r, fmt.Errorf("grpccall: Options.Retry.BackoffCoefficient must be at least 1 (got %v)", r.BackoffCoefficient)
	case r.MaxInterval < r.InitialInterval:
		return r, fmt.Errorf("grpccall: Options.Retry.MaxInterval (%v) is below InitialInterval (%v)", r.MaxInterval, r.InitialInterval)
	case r.MaxRetryAfter < 0:
		return r, fmt.Errorf("grpccall: Options.Retry.MaxRetryAfter is negative (%v)", r.MaxRetryAfter)
	}
	return r, nil
}

// backoff returns the wait after failed attempt n (from 1): exponential,
// capped, with up to 20% jitter subtracted.
func (ic *interceptor) backoff(n int) time.Duration {
	d := float64(ic.retry.InitialInterval)
	for i := 1; i < n && d < float64(ic.retry.MaxInterval); i++ {
		d *= ic.retry.BackoffCoefficient
	}
	d = min(d, float64(ic.retry.MaxInterval))
	d -= d * 0.2 * rand.Float64()
	return time.Duration(d)
}

// breaker returns the breaker of target, creating it on first use.
func (ic *interceptor) breaker(target string) (*integrate.Breaker, error) {
	if ic.o.NoBreaker {
		return nil, nil
	}
	if ic.o.Breaker != nil {
		return ic.o.Breaker, nil
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if b := ic.breakers[target]; b != nil {
		return b, nil
	}
	var bo integrate.BreakerOptions
	if ic.o.BreakerOptions != nil {
		bo = *ic.o.BreakerOptions
	}
	if bo.Observer == nil {
		bo.Observer = ic.o.Observer
	}
	b, err := integrate.NewBreaker(ic.o.Name+" "+target, &bo)
	if err != nil {
		return nil, err
	}
	ic.breakers[target] = b
	return b, nil
}

func (ic *interceptor) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	br, err := ic.breaker(cc.Target())
	if err != nil {
		return err
	}
	if key := activity.GetInfo(ctx).IdempotencyKey; key != "" && ic.o.IdempotencyKey != "-" {
		ctx = metadata.AppendToOutgoingContext(ctx, ic.o.IdempotencyKey, key)
	}
	for attempt := 1; ; attempt++ {
		err := ic.once(ctx, br, method, req, reply, cc, invoker, opts)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		var se *StatusError
		if !errors.As(err, &se) || !se.retryable() || attempt >= ic.retry.MaxAttempts || se.RetryAfter > ic.retry.MaxRetryAfter {
			return err
		}
		wait := se.RetryAfter
		if !se.asked {
			wait = ic.backoff(attempt)
		}
		t := ic.o.Clock.Timer(wait)
		ic.obs.Retrying(method, attempt+1, wait, err)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// once makes one attempt.
func (ic *interceptor) once(ctx context.Context, br *integrate.Breaker, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	if ic.o.Limiter != nil {
		if err := ic.o.Limiter.Wait(ctx); err != nil {
			return err
		}
	}
	done := func(bool) {}
	if br != nil {
		d, err := br.Allow()
		if err != nil {
			var co *integrate.CircuitOpenError
			if errors.As(err, &co) {
				co.Endpoint = method
			}
			return err
		}
		done = d
	}
	actx, cancel := context.WithTimeout(ctx, ic.o.Timeout)
	defer cancel()
	var trailer metadata.MD
	err := invoker(actx, method, req, reply, cc, append(opts[:len(opts):len(opts)], grpc.Trailer(&trailer))...)
	if err == nil {
		done(true)
		return nil
	}
	st, _ := status.FromError(err)
	if ctx.Err() != nil {
		done(true) // ended by the caller: says nothing of the service
		return err
	}
	// DeadlineExceeded may come from the server, which saw the deadline
	// sent along, before actx ends here: it is the attempt's when the
	// attempt's deadline is the one that was sent.
	adl, _ := actx.Deadline()
	cdl, capped := ctx.Deadline()
	se := &StatusError{Method: method, Code: st.Code(), Message: st.Message(), status: st,
		AttemptTimeout: st.Code() == codes.DeadlineExceeded && (!capped || cdl.After(adl))}
	se.RetryAfter, se.asked, se.refused = retryAfter(st, trailer)
	done(!countsAgainst(st.Code()))
	return se
}

// countsAgainst says whether a code is a failure of the service, which the
// breaker counts.
func countsAgainst(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.DataLoss:
		return true
	}
	return false
}

// retryAfter reads the wait the server asked for: the pushback trailer
// first, then a RetryInfo detail. refused is set when the pushback says
// not to retry.
func retryAfter(st *status.Status, trailer metadata.MD) (wait time.Duration, asked, refused bool) {
	if v := trailer.Get(PushbackTrailer); len(v) > 0 {
		ms, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || ms < 0 {
			return 0, false, true
		}
		return time.Duration(min(ms, int64(365*24*time.Hour/time.Millisecond))) * time.Millisecond, true, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			if err := ri.GetRetryDelay().CheckValid(); err == nil {
				return max(ri.GetRetryDelay().AsDuration(), 0), true, false
			}
		}
	}
	return 0, false, false
}
