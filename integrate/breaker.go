package integrate

import (
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Defaults for [BreakerOptions].
const (
	// DefaultFailureThreshold is how many failures in a row open a breaker.
	DefaultFailureThreshold = 5
	// DefaultOpenTimeout is how long a breaker stays open before letting a
	// trial call through (half-open).
	DefaultOpenTimeout = 30 * time.Second
	// DefaultHalfOpenCalls is how many trial calls a half-open breaker
	// lets through; that many successes close it, one failure opens it.
	DefaultHalfOpenCalls = 1
)

// BreakerState is the state of a circuit breaker.
type BreakerState int

// The breaker states.
const (
	// BreakerClosed lets every call through and counts failures.
	BreakerClosed BreakerState = iota
	// BreakerHalfOpen lets a few trial calls through after the open
	// timeout: their success closes the breaker, a failure opens it again.
	BreakerHalfOpen
	// BreakerOpen refuses every call at once with [ErrCircuitOpen].
	BreakerOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

func stateOf(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	case gobreaker.StateOpen:
		return BreakerOpen
	}
	return BreakerClosed
}

// BreakerOptions configures a [Breaker]. A nil *BreakerOptions means every
// default.
type BreakerOptions struct {
	// FailureThreshold is how many failed calls in a row open the breaker.
	// Defaults to [DefaultFailureThreshold].
	FailureThreshold int
	// OpenTimeout is how long the breaker stays open before it lets trial
	// calls through. Defaults to [DefaultOpenTimeout].
	OpenTimeout time.Duration
	// HalfOpenCalls is how many trial calls the half-open breaker lets
	// through at once; that many successes close it. Defaults to
	// [DefaultHalfOpenCalls].
	HalfOpenCalls int
	// Observer hears of state changes, besides [Snapshot]. Defaults to
	// none.
	Observer Observer
}

func (o *BreakerOptions) withDefaults() BreakerOptions {
	var c BreakerOptions
	if o != nil {
		c = *o
	}
	if c.FailureThreshold == 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = DefaultOpenTimeout
	}
	if c.HalfOpenCalls == 0 {
		c.HalfOpenCalls = DefaultHalfOpenCalls
	}
	return c
}

func (o BreakerOptions) validate() error {
	switch {
	case o.FailureThreshold < 0:
		return fmt.Errorf("integrate: BreakerOptions.FailureThreshold is negative (%d)", o.FailureThreshold)
	case o.OpenTimeout < 0:
		return fmt.Errorf("integrate: BreakerOptions.OpenTimeout is negative (%v)", o.OpenTimeout)
	case o.HalfOpenCalls < 0:
		return fmt.Errorf("integrate: BreakerOptions.HalfOpenCalls is negative (%d)", o.HalfOpenCalls)
	}
	return nil
}

// Breaker is a circuit breaker for one endpoint: after FailureThreshold
// failures in a row it opens and refuses calls at once, for OpenTimeout;
// then it lets HalfOpenCalls trial calls through, which close it if they
// succeed. Share one Breaker between calls that reach the same service.
// It is safe for concurrent use, and usable on its own (around a gRPC call
// or any function) through [Breaker.Allow].
type Breaker struct {
	name string
	cb   *gobreaker.TwoStepCircuitBreaker[struct{}]
	obs  Observer
}

// NewBreaker returns a closed breaker named name (the name shown in
// [Snapshot] and passed to observers). It fails with an error naming the
// bad field of opts.
func NewBreaker(name string, opts *BreakerOptions) (*Breaker, error) {
	if name == "" {
		return nil, errors.New("integrate: NewBreaker: empty name")
	}
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	b := &Breaker{name: name, obs: observe(o.Observer)}
	threshold := uint32(o.FailureThreshold)
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(o.HalfOpenCalls),
		Timeout:     o.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		IsExcluded:  func(err error) bool { return err == errExcluded },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			f, t := stateOf(from), stateOf(to)
			stats.with(name, "breaker", func(e *entry) {
				e.StateChanges++
				if t == BreakerOpen {
					e.Opened++
				}
				e.LastChange = time.Now()
			})
			b.obs.BreakerStateChanged(name, f, t)
		},
	})
	stats.with(name, "breaker", func(e *entry) { e.breaker = b })
	return b, nil
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// State returns the breaker's state now.
func (b *Breaker) State() BreakerState { return stateOf(b.cb.State()) }

// Allow asks to make one call. If the breaker refuses, it returns a
// [*CircuitOpenError] (matching [ErrCircuitOpen]). Otherwise the caller
// makes the call and then reports its outcome with done: true for a
// success, false for a failure that counts against the service (a 5xx, a
// timeout), and done must be called exactly once. Errors that are the
// caller's fault (a 4xx) should be reported as successes.
func (b *Breaker) Allow() (done func(success bool), err error) {
	d, err := b.cb.Allow()
	if err != nil {
		return nil, b.refusal(b.name, err)
	}
	return func(ok bool) {
		if ok {
			d(nil)
		} else {
			d(errFailed)
		}
	}, nil
}

var errFailed = errors.New("failed")

// refusal counts a refused call and returns its error.
func (b *Breaker) refusal(endpoint string, err error) *CircuitOpenError {
	st := BreakerOpen
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		st = BreakerHalfOpen
	}
	stats.with(b.name, "breaker", func(e *entry) { e.Rejected++ })
	return &CircuitOpenError{Endpoint: endpoint, Breaker: b.name, State: st}
}
