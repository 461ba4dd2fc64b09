package integrate

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults for [RetryOptions].
const (
	// DefaultMaxAttempts is how many requests one call makes at most.
	DefaultMaxAttempts = 3
	// DefaultInitialInterval is the wait before the first retry.
	DefaultInitialInterval = 200 * time.Millisecond
	// DefaultBackoffCoefficient multiplies the wait after each retry.
	DefaultBackoffCoefficient = 2.0
	// DefaultMaxInterval caps the wait between retries.
	DefaultMaxInterval = 10 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After a call waits out.
	DefaultMaxRetryAfter = time.Minute
)

// RetryOptions says how one call retries inside its activity attempt. A
// transport error (no answer, the per-call timeout), 408, 429 and 5xx are
// retried; other 4xx, validation errors and an open breaker are not. The
// wait is the server's Retry-After when it sent one (seconds or an
// HTTP-date), else exponential backoff with up to 20% jitter subtracted. A
// nil *RetryOptions means every default.
type RetryOptions struct {
	// MaxAttempts is how many requests the call makes at most; 1 means no
	// retry. When they are spent, the activity attempt fails with the last
	// error, retryable or not as that error is, and the engine's retry
	// policy (activity.Options) takes over. Defaults to
	// [DefaultMaxAttempts].
	MaxAttempts int
	// InitialInterval is the wait before the first retry. Defaults to
	// [DefaultInitialInterval].
	InitialInterval time.Duration
	// BackoffCoefficient multiplies the wait after each retry; at least 1.
	// Defaults to [DefaultBackoffCoefficient].
	BackoffCoefficient float64
	// MaxInterval caps the backoff. Defaults to [DefaultMaxInterval].
	MaxInterval time.Duration
	// MaxRetryAfter is the longest Retry-After the call waits out; when a
	// server asks for more, the call stops retrying and fails with the
	// server's answer (the engine's retry policy then decides). Defaults
	// to [DefaultMaxRetryAfter].
	MaxRetryAfter time.Duration
}

func (o *RetryOptions) withDefaults() RetryOptions {
	var c RetryOptions
	if o != nil {
		c = *o
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.InitialInterval == 0 {
		c.InitialInterval = DefaultInitialInterval
	}
	if c.BackoffCoefficient == 0 {
		c.BackoffCoefficient = DefaultBackoffCoefficient
	}
	if c.MaxInterval == 0 {
		c.MaxInterval = max(DefaultMaxInterval, c.InitialInterval)
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	return c
}

func (o RetryOptions) validate() error {
	switch {
	case o.MaxAttempts < 0:
		return fmt.Errorf("integrate: RetryOptions.MaxAttempts is negative (%d)", o.MaxAttempts)
	case o.InitialInterval < 0:
		return fmt.Errorf("integrate: RetryOptions.InitialInterval is negative (%v)", o.InitialInterval)
	case o.BackoffCoefficient < 1:
		return fmt.Errorf("integrate: RetryOptions.BackoffCoefficient must be at least 1 (got %v)", o.BackoffCoefficient)
	case o.MaxInterval < o.InitialInterval:
		return fmt.Errorf("integrate: RetryOptions.MaxInterval (%v) is below InitialInterval (%v)", o.MaxInterval, o.InitialInterval)
	case o.MaxRetryAfter < 0:
		return fmt.Errorf("integrate: RetryOptions.MaxRetryAfter is negative (%v)", o.MaxRetryAfter)
	}
	return nil
}

// backoff returns the wait after failed attempt n (from 1).
func (o RetryOptions) backoff(n int) time.Duration {
	d := float64(o.InitialInterval)
	for i := 1; i < n && d < float64(o.MaxInterval); i++ {
		d *= o.BackoffCoefficient
	}
	d = min(d, float64(o.MaxInterval))
	d -= d * 0.2 * rand.Float64()
	return time.Duration(d)
}

// ParseRetryAfter reads a Retry-After header value: a number of seconds or
// an HTTP-date, relative to now. It reports false for an empty or
// malformed value; a date in the past is a zero wait.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second)*365 {
			secs = int64(24*time.Hour/time.Second) * 365
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
