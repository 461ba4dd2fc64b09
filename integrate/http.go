package integrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/activity"
)

// Defaults for [HTTPOptions].
const (
	// DefaultTimeout bounds one request, from sending it to reading the
	// whole answer.
	DefaultTimeout = 10 * time.Second
	// DefaultIdempotencyHeader carries the activity's idempotency key.
	DefaultIdempotencyHeader = "Idempotency-Key"
	// DefaultMaxResponseBytes is the largest response body read.
	DefaultMaxResponseBytes = 16 << 20
)

// HTTPOptions configures an HTTP call made by [HTTP]. A nil *HTTPOptions
// means every default.
type HTTPOptions[Req, Resp any] struct {
	// Method is the HTTP method. For GET, HEAD and DELETE the request value
	// is not sent as a body (use Path to put it in the URL). Defaults to
	// POST.
	Method string
	// Path, when set, returns the path (and query) to append to the
	// endpoint for a request, such as "/items/" + url.PathEscape(r.SKU).
	// Defaults to none: the endpoint as given.
	Path func(Req) string
	// Header is added to every request. Defaults to none.
	Header http.Header
	// Client sends the requests. Defaults to a client with no timeout of
	// its own (Timeout bounds each request).
	Client *http.Client
	// Timeout bounds one request, from sending it to reading its answer.
	// A request that passes it is a retryable [*TransportError]. Defaults
	// to [DefaultTimeout].
	Timeout time.Duration
	// Retry says how the call retries within one activity attempt.
	// Defaults to nil: [RetryOptions]' defaults.
	Retry *RetryOptions
	// Breaker is the circuit breaker to go through; share one between the
	// calls that reach the same service. Defaults to a breaker of the
	// call's own, named after it, configured by BreakerOptions.
	Breaker *Breaker
	// BreakerOptions configures the call's own breaker when Breaker is
	// nil. Defaults to nil: [BreakerOptions]' defaults.
	BreakerOptions *BreakerOptions
	// NoBreaker turns the circuit breaker off. Defaults to false.
	NoBreaker bool
	// Limiter spaces the requests to the endpoint (each request, retries
	// included, takes a turn). Requests to FallbackEndpoint, another
	// service with a quota of its own, do not go through it. Defaults to
	// none.
	Limiter *Limiter
	// FallbackEndpoint, when set, is called (with the same request, path,
	// retries and idempotency key, through a breaker of its own and
	// without the Limiter) when the endpoint fails in a way a second service could fix: its breaker is
	// open, the rate limiter refused, or its retries ran out on a transport
	// error or a retryable status. Defaults to none.
	FallbackEndpoint string
	// Fallback, when set, produces the result instead in those same cases
	// (after FallbackEndpoint, if both are set and it failed too); cause
	// is the error of the last call. Defaults to none.
	Fallback func(ctx context.Context, req Req, cause error) (Resp, error)
	// Codec encodes requests and decodes responses. Defaults to
	// [JSONCodec].
	Codec Codec
	// Validator, when set, checks each request and response (see package
	// integrate/openapi). Defaults to none.
	Validator Validator
	// Activity is the engine's options for the activity. The call retries
	// on its own (Retry), so the default makes the engine run it once:
	// set a RetryPolicy here for durable retries across longer outages.
	// Defaults to activity.Options{RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 1}}.
	Activity *activity.Options
	// IdempotencyHeader is the header that carries the activity's
	// idempotency key (activity.Info.IdempotencyKey, the same for every
	// attempt and retry of one activity); "-" sends none. Defaults to
	// [DefaultIdempotencyHeader].
	IdempotencyHeader string
	// MaxResponseBytes is the largest response body read; a longer one is
	// a non-retryable [TypeInvalid] error. Defaults to
	// [DefaultMaxResponseBytes].
	MaxResponseBytes int64
	// Observer hears of retries, fallbacks and (for the call's own breaker)
	// state changes, besides [Snapshot]. Defaults to none.
	Observer Observer
	// Clock measures retry waits and Retry-After dates. Defaults to the
	// real clock.
	Clock clock.Clock
}

// Call is an HTTP call declared once and run as an activity. Create one
// with [NewHTTP] or [HTTP]; hand [Call.Activity] (or the definition [HTTP]
// returns) to workflow.ExecuteActivity and to the engine's Register.
type Call[Req, Resp any] struct {
	name     string
	opts     HTTPOptions[Req, Resp]
	retry    RetryOptions
	primary  target
	fallback *target
	obs      Observer
	def      *activity.Definition[Req, Resp]
}

type target struct {
	endpoint string
	breaker  *Breaker
	limiter  *Limiter // nil for none
}

// HTTP declares a typed HTTP call named name (the activity's name in the
// journal) to endpoint, and returns it as an activity definition. It panics
// if the options are invalid, as activity.New does, since a call is
// declared once at init; use [NewHTTP] to get the error instead.
func HTTP[Req, Resp any](name, endpoint string, opts *HTTPOptions[Req, Resp]) *activity.Definition[Req, Resp] {
	c, err := NewHTTP(name, endpoint, opts)
	if err != nil {
		panic(err)
	}
	return c.Activity()
}

// NewHTTP declares a typed HTTP call named name to endpoint (an absolute
// http or https URL). It fails with an error naming the bad argument or
// field.
func NewHTTP[Req, Resp any](name, endpoint string, opts *HTTPOptions[Req, Resp]) (*Call[Req, Resp], error) {
	if name == "" {
		return nil, errors.New("integrate: HTTP: empty name")
	}
	if err := checkEndpoint("endpoint", endpoint); err != nil {
		return nil, fmt.Errorf("integrate: HTTP %q: %w", name, err)
	}
	var o HTTPOptions[Req, Resp]
	if opts != nil {
		o = *opts
	}
	if o.Method == "" {
		o.Method = http.MethodPost
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("integrate: HTTP %q: HTTPOptions.Timeout is negative (%v)", name, o.Timeout)
	}
	if o.Codec == nil {
		o.Codec = JSONCodec{}
	}
	if o.IdempotencyHeader == "" {
		o.IdempotencyHeader = DefaultIdempotencyHeader
	}
	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxResponseBytes < 0 {
		return nil, fmt.Errorf("integrate: HTTP %q: HTTPOptions.MaxResponseBytes is negative (%d)", name, o.MaxResponseBytes)
	}
	if o.Clock == nil {
		o.Clock = clock.New()
	}
	if o.FallbackEndpoint != "" {
		if err := checkEndpoint("HTTPOptions.FallbackEndpoint", o.FallbackEndpoint); err != nil {
			return nil, fmt.Errorf("integrate: HTTP %q: %w", name, err)
		}
	}
	c := &Call[Req, Resp]{name: name, opts: o, retry: o.Retry.withDefaults(), obs: observe(o.Observer)}
	if err := c.retry.validate(); err != nil {
		return nil, fmt.Errorf("integrate: HTTP %q: %w", name, err)
	}
	c.primary.endpoint, c.primary.limiter = endpoint, o.Limiter
	if !o.NoBreaker {
		c.primary.breaker = o.Breaker
		if c.primary.breaker == nil {
			b, err := c.newBreaker(name)
			if err != nil {
				return nil, err
			}
			c.primary.breaker = b
		}
	}
	if o.FallbackEndpoint != "" {
		c.fallback = &target{endpoint: o.FallbackEndpoint}
		if !o.NoBreaker {
			b, err := c.newBreaker(name + " (fallback)")
			if err != nil {
				return nil, err
			}
			c.fallback.breaker = b
		}
	}
	act := o.Activity
	if act == nil {
		act = &activity.Options{RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 1}}
	}
	if err := act.Validate(); err != nil {
		return nil, fmt.Errorf("integrate: HTTP %q: HTTPOptions.Activity: %w", name, err)
	}
	c.def = activity.New(name, c.Do).WithOptions(*act)
	stats.with(name, "endpoint", nil)
	return c, nil
}

func (c *Call[Req, Resp]) newBreaker(name string) (*Breaker, error) {
	bo := c.opts.BreakerOptions.withDefaults()
	if bo.Observer == nil {
		bo.Observer = c.opts.Observer
	}
	b, err := NewBreaker(name, &bo)
	if err != nil {
		return nil, fmt.Errorf("integrate: HTTP %q: %w", c.name, err)
	}
	return b, nil
}

func checkEndpoint(field, s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%s %q is not a URL: %w", field, s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute http or https URL", field, s)
	}
	return nil
}

// Activity returns the call as an activity definition.
func (c *Call[Req, Resp]) Activity() *activity.Definition[Req, Resp] { return c.def }

// Name returns the call's name.
func (c *Call[Req, Resp]) Name() string { return c.name }

// Breaker returns the endpoint's circuit breaker, or nil with NoBreaker.
func (c *Call[Req, Resp]) Breaker() *Breaker { return c.primary.breaker }

// Do makes the call: it is the activity's function, and can be called
// directly outside a workflow (without an idempotency key unless ctx
// carries activity.Info).
func (c *Call[Req, Resp]) Do(ctx context.Context, req Req) (Resp, error) {
	key := activity.GetInfo(ctx).IdempotencyKey
	resp, err := c.call(ctx, c.primary, req, key)
	if err == nil || !c.hasFallback() || !worthFallback(err) || ctx.Err() != nil {
		return resp, err
	}
	c.obs.FellBack(c.name, err)
	stats.with(c.name, "endpoint", func(e *entry) { e.Fallbacks++ })
	if c.fallback != nil {
		resp, ferr := c.call(ctx, *c.fallback, req, key)
		if ferr == nil || c.opts.Fallback == nil {
			return resp, ferr
		}
		err = ferr
	}
	return c.opts.Fallback(ctx, req, err)
}

func (c *Call[Req, Resp]) hasFallback() bool { return c.fallback != nil || c.opts.Fallback != nil }

func worthFallback(err error) bool {
	if errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrRateLimited) {
		return true
	}
	var te *TransportError
	var se *StatusError
	return errors.As(err, &te) || (errors.As(err, &se) && se.Retryable())
}

// call makes up to MaxAttempts requests to t.
func (c *Call[Req, Resp]) call(ctx context.Context, t target, req Req, key string) (Resp, error) {
	var zero Resp
	var body []byte
	if hasBody(c.opts.Method) {
		b, err := c.opts.Codec.Marshal(req)
		if err != nil {
			return zero, invalid("%s: encode request: %v", c.name, err)
		}
		body = b
	}
	u := t.endpoint
	if c.opts.Path != nil {
		u += c.opts.Path(req)
	}
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, t, u, body, key)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return zero, err
		}
		wait, asked, retry := c.retryable(err)
		if !retry || attempt >= c.retry.MaxAttempts {
			return zero, err
		}
		if !asked {
			wait = c.retry.backoff(attempt)
		}
		stats.with(c.name, "endpoint", func(e *entry) { e.Retries++ })
		if err := c.sleep(ctx, wait, func() { c.obs.Retrying(c.name, attempt+1, wait, err) }); err != nil {
			return zero, err
		}
	}
}

// retryable says whether err is retried, and the wait the server asked
// for, if it asked.
func (c *Call[Req, Resp]) retryable(err error) (wait time.Duration, asked, retry bool) {
	var se *StatusError
	if errors.As(err, &se) {
		if !se.Retryable() || se.RetryAfter > c.retry.MaxRetryAfter {
			return 0, false, false
		}
		return se.RetryAfter, se.askedWait, true
	}
	var te *TransportError
	return 0, false, errors.As(err, &te)
}

// sleep waits d on the call's clock; started runs once the timer is set.
func (c *Call[Req, Resp]) sleep(ctx context.Context, d time.Duration, started func()) error {
	t := c.opts.Clock.Timer(d)
	defer t.Stop()
	started()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func hasBody(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions:
		return false
	}
	return true
}

// once makes one request to t.
func (c *Call[Req, Resp]) once(ctx context.Context, t target, u string, body []byte, key string) (Resp, error) {
	var zero Resp
	if t.limiter != nil {
		if err := t.limiter.Wait(ctx); err != nil {
			var rl *RateLimitedError
			if errors.As(err, &rl) {
				rl.Endpoint = c.name
			}
			return zero, err
		}
	}
	done := func(bool, bool) {}
	if t.breaker != nil {
		d, err := t.breaker.cb.Allow()
		if err != nil {
			return zero, t.breaker.refusal(c.name, err)
		}
		done = func(ok, excluded bool) {
			switch {
			case excluded:
				d(errExcluded)
			case ok:
				d(nil)
			default:
				d(errFailed)
			}
		}
	}
	stats.with(c.name, "endpoint", func(e *entry) { e.Calls++ })
	resp, err := c.send(ctx, u, body, key)
	if err != nil {
		stats.with(c.name, "endpoint", func(e *entry) { e.Failures++ })
	}
	var te *TransportError
	var se *StatusError
	switch {
	case err == nil:
		done(true, false)
	case ctx.Err() != nil:
		done(false, true) // canceled by the caller: says nothing of the service
	case errors.As(err, &te):
		done(false, false)
	case errors.As(err, &se) && se.StatusCode != http.StatusTooManyRequests && se.Retryable():
		done(false, false)
	default:
		done(true, false) // the service answered: 4xx and 429 are not outages
	}
	return resp, err
}

var errExcluded = errors.New("not counted")

// send makes the HTTP request and decodes its answer.
func (c *Call[Req, Resp]) send(ctx context.Context, u string, body []byte, key string) (Resp, error) {
	var zero Resp
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(rctx, c.opts.Method, u, rd)
	if err != nil {
		return zero, invalid("%s: build request to %s: %v", c.name, u, err)
	}
	for k, vs := range c.opts.Header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	if body != nil {
		hreq.Header.Set("Content-Type", c.opts.Codec.ContentType())
	}
	if hreq.Header.Get("Accept") == "" {
		hreq.Header.Set("Accept", c.opts.Codec.ContentType())
	}
	if key != "" && c.opts.IdempotencyHeader != "-" {
		hreq.Header.Set(c.opts.IdempotencyHeader, key)
	}
	if v := c.opts.Validator; v != nil {
		if err := v.ValidateRequest(ctx, hreq, body); err != nil {
			return zero, invalid("%s: request does not match the API description: %v", c.name, err)
		}
		if body != nil { // the validator may have read it
			hreq.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	res, err := c.opts.Client.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		return zero, &TransportError{Endpoint: c.name, Method: c.opts.Method, URL: u, Timeout: rctx.Err() != nil, Err: err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, c.opts.MaxResponseBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		return zero, &TransportError{Endpoint: c.name, Method: c.opts.Method, URL: u, Timeout: rctx.Err() != nil, Err: fmt.Errorf("read response: %w", err)}
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		se := &StatusError{Endpoint: c.name, Method: c.opts.Method, URL: u, StatusCode: res.StatusCode, Body: excerpt(data)}
		if d, ok := ParseRetryAfter(res.Header.Get("Retry-After"), c.opts.Clock.Now()); ok {
			se.RetryAfter, se.askedWait = d, true
		}
		return zero, se
	}
	if int64(len(data)) > c.opts.MaxResponseBytes {
		return zero, invalid("%s: response body is over %d bytes", c.name, c.opts.MaxResponseBytes)
	}
	if v := c.opts.Validator; v != nil {
		if err := v.ValidateResponse(ctx, hreq, res, data); err != nil {
			return zero, invalid("%s: response does not match the API description: %v", c.name, err)
		}
	}
	var out Resp
	if len(bytes.TrimSpace(data)) == 0 {
		return out, nil
	}
	if err := c.opts.Codec.Unmarshal(data, &out); err != nil {
		return zero, invalid("%s: decode response into %T: %v", c.name, out, err)
	}
	return out, nil
}

func excerpt(b []byte) string {
	if len(b) > MaxBodyExcerpt {
		b = b[:MaxBodyExcerpt]
	}
	return string(bytes.ToValidUTF8(bytes.TrimSpace(b), []byte("?")))
}
