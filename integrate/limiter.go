package integrate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"golang.org/x/time/rate"
)

// LimiterOptions configures a [Limiter].
type LimiterOptions struct {
	// Rate is how many calls per second go out, on average. Required
	// (above zero).
	Rate float64
	// Burst is how many calls may go out at once after a quiet spell.
	// Defaults to 1: calls are spaced evenly.
	Burst int
	// MaxWait is the longest a call waits for its turn; a call that would
	// wait longer is refused at once with [ErrRateLimited] (retryable), as
	// is one whose context ends before its turn. Defaults to 0: a call
	// waits as long as its context allows.
	MaxWait time.Duration
	// Clock measures the waits. Defaults to the real clock.
	Clock clock.Clock
	// Observer hears of waits and refusals, besides [Snapshot]. Defaults
	// to none.
	Observer Observer
}

func (o LimiterOptions) validate() error {
	switch {
	case !(o.Rate > 0) || math.IsInf(o.Rate, 0):
		return fmt.Errorf("integrate: LimiterOptions.Rate must be a finite number of calls per second above zero (got %v)", o.Rate)
	case o.Burst < 0:
		return fmt.Errorf("integrate: LimiterOptions.Burst is negative (%d)", o.Burst)
	case o.MaxWait < 0:
		return fmt.Errorf("integrate: LimiterOptions.MaxWait is negative (%v)", o.MaxWait)
	}
	return nil
}

// Limiter spaces calls on the client side so that a service's rate limit is
// never passed (a token bucket: Rate per second, Burst at once). Share one
// Limiter between every call that counts against the same quota. It is safe
// for concurrent use and usable on its own through [Limiter.Wait].
type Limiter struct {
	name    string
	mu      sync.Mutex
	lim     *rate.Limiter
	maxWait time.Duration
	clock   clock.Clock
	obs     Observer
}

// NewLimiter returns a limiter named name (the name shown in [Snapshot]).
// It fails with an error naming the bad field of opts.
func NewLimiter(name string, opts LimiterOptions) (*Limiter, error) {
	if name == "" {
		return nil, errors.New("integrate: NewLimiter: empty name")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Burst == 0 {
		opts.Burst = 1
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	l := &Limiter{name: name, lim: rate.NewLimiter(rate.Limit(opts.Rate), opts.Burst), maxWait: opts.MaxWait, clock: opts.Clock, obs: observe(opts.Observer)}
	stats.with(name, "limiter", nil)
	return l, nil
}

// Name returns the limiter's name.
func (l *Limiter) Name() string { return l.name }

// Wait blocks until the call may go out. It returns a [*RateLimitedError]
// (matching [ErrRateLimited]) without waiting when the turn is further than
// MaxWait or than ctx's deadline, and ctx's error if ctx ends first.
func (l *Limiter) Wait(ctx context.Context) error {
	// Times handed to the bucket must not go backwards, or it hands out
	// tokens twice: read the clock and reserve as one step.
	l.mu.Lock()
	now := l.clock.Now()
	r := l.lim.ReserveN(now, 1)
	l.mu.Unlock()
	delay := r.DelayFrom(now)
	deny := l.maxWait > 0 && delay > l.maxWait
	if dl, ok := ctx.Deadline(); ok && now.Add(delay).After(dl) {
		deny = true
	}
	if deny {
		r.CancelAt(now)
		stats.with(l.name, "limiter", func(e *entry) { e.LimiterDenials++ })
		l.obs.LimiterDenied(l.name, delay)
		return &RateLimitedError{Endpoint: l.name, Limiter: l.name, Wait: delay}
	}
	if delay <= 0 {
		return nil
	}
	stats.with(l.name, "limiter", func(e *entry) { e.LimiterWaits++; e.WaitTime += delay })
	l.obs.LimiterWaited(l.name, delay)
	t := l.clock.Timer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.CancelAt(l.clock.Now())
		return ctx.Err()
	}
}
