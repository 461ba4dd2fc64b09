package activity

import (
	"fmt"
	"time"
)

// Defaults for [Options] and [RetryPolicy].
const (
	// DefaultInitialInterval is the wait before the first retry.
	DefaultInitialInterval = time.Second
	// DefaultBackoffCoefficient multiplies the wait after each retry.
	DefaultBackoffCoefficient = 2.0
	// DefaultMaximumInterval caps the wait between retries.
	DefaultMaximumInterval = 100 * DefaultInitialInterval
)

// Options say how the engine runs an activity.
type Options struct {
	// StartToCloseTimeout bounds one attempt. When it passes, the attempt's
	// context is canceled and the attempt counts as failed with a timeout
	// (retryable); an activity that ignores its context is abandoned.
	// Defaults to 0: no limit.
	StartToCloseTimeout time.Duration `json:"start_to_close_timeout,omitempty"`
	// HeartbeatTimeout, when set, stops an attempt that has not called
	// [Heartbeat] for that long (its context is canceled, and it is
	// abandoned if it ignores that); the attempt counts as failed with a
	// heartbeat timeout (retryable). Defaults to 0: no heartbeat required.
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout,omitempty"`
	// RetryPolicy says how failed attempts are retried. Defaults to nil: the
	// engine's policy, which itself defaults to retrying forever with the
	// default intervals.
	RetryPolicy *RetryPolicy `json:"retry_policy,omitempty"`
	// WaitForCancellation, when set, makes a canceled activity settle only
	// once its running attempt has returned: when the workflow cancels the
	// activity's scope, the attempt's context is canceled and the
	// activity's future waits for the attempt's outcome (recorded as usual:
	// its result if it completed anyway, else a failure of type
	// [TypeCanceled]), so the workflow code after it runs after the
	// activity's cleanup. An activity that has no attempt running (waiting
	// out a retry backoff, or pending completion from outside) settles at
	// once. The cancellation is journaled before the attempt learns of it:
	// if the process dies during the cleanup, the activity is not run
	// again after the restart and settles as canceled. Defaults to false:
	// the future settles as canceled at once and the attempt is abandoned.
	WaitForCancellation bool `json:"wait_for_cancellation,omitempty"`
	// Queue names a queue declared in the engine's options (chorus.Queue)
	// whose concurrency and rate limits bound this activity's attempts,
	// across every run of the engine: an attempt waits, without holding
	// a worker, until the queue lets it start. An attempt whose queue is
	// not declared waits until a process that declares it opens the
	// database, and the engine logs why. Defaults to none: attempts start
	// as soon as a worker is free.
	Queue string `json:"queue,omitempty"`
}

// RetryPolicy says how failed attempts are retried: attempt n+1 starts
// InitialInterval * BackoffCoefficient^(n-1) after attempt n failed, capped at
// MaximumInterval, with up to 20% random jitter subtracted so that many
// retries do not fire at once.
type RetryPolicy struct {
	// InitialInterval is the wait before the first retry. Defaults to
	// [DefaultInitialInterval].
	InitialInterval time.Duration `json:"initial_interval,omitempty"`
	// BackoffCoefficient multiplies the wait after each retry; it must be at
	// least 1. Defaults to [DefaultBackoffCoefficient].
	BackoffCoefficient float64 `json:"backoff_coefficient,omitempty"`
	// MaximumInterval caps the wait between retries. Defaults to
	// [DefaultMaximumInterval].
	MaximumInterval time.Duration `json:"maximum_interval,omitempty"`
	// MaximumAttempts is how many attempts are made in all; 1 means no
	// retry. Defaults to 0: no limit.
	MaximumAttempts int `json:"maximum_attempts,omitempty"`
	// NonRetryableErrorTypes lists error types (see [TypeOf]) that end the
	// activity at once. Defaults to none.
	NonRetryableErrorTypes []string `json:"non_retryable_error_types,omitempty"`
}

// WithDefaults returns a copy of p with zero fields set to their defaults.
func (p *RetryPolicy) WithDefaults() *RetryPolicy {
	c := RetryPolicy{}
	if p != nil {
		c = *p
	}
	if c.InitialInterval == 0 {
		c.InitialInterval = DefaultInitialInterval
	}
	if c.BackoffCoefficient == 0 {
		c.BackoffCoefficient = DefaultBackoffCoefficient
	}
	if c.MaximumInterval == 0 {
		c.MaximumInterval = max(DefaultMaximumInterval, c.InitialInterval)
	}
	return &c
}

// Validate returns an error naming the first invalid field, or nil.
func (p *RetryPolicy) Validate() error {
	if p == nil {
		return nil
	}
	switch {
	case p.InitialInterval < 0:
		return fmt.Errorf("activity: RetryPolicy.InitialInterval is negative (%v)", p.InitialInterval)
	case p.BackoffCoefficient != 0 && p.BackoffCoefficient < 1:
		return fmt.Errorf("activity: RetryPolicy.BackoffCoefficient must be at least 1 (got %v)", p.BackoffCoefficient)
	case p.MaximumInterval < 0:
		return fmt.Errorf("activity: RetryPolicy.MaximumInterval is negative (%v)", p.MaximumInterval)
	case p.MaximumInterval != 0 && p.MaximumInterval < p.InitialInterval:
		return fmt.Errorf("activity: RetryPolicy.MaximumInterval (%v) is below InitialInterval (%v)", p.MaximumInterval, p.InitialInterval)
	case p.MaximumAttempts < 0:
		return fmt.Errorf("activity: RetryPolicy.MaximumAttempts is negative (%d)", p.MaximumAttempts)
	}
	return nil
}

// Validate returns an error naming the first invalid field, or nil.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	if o.StartToCloseTimeout < 0 {
		return fmt.Errorf("activity: Options.StartToCloseTimeout is negative (%v)", o.StartToCloseTimeout)
	}
	if o.HeartbeatTimeout < 0 {
		return fmt.Errorf("activity: Options.HeartbeatTimeout is negative (%v)", o.HeartbeatTimeout)
	}
	return o.RetryPolicy.Validate()
}

// Merge returns the options in force when o is laid over base: every field
// set in o wins. Either may be nil.
func Merge(base, o *Options) Options {
	var m Options
	if base != nil {
		m = *base
	}
	if o == nil {
		return m
	}
	if o.StartToCloseTimeout != 0 {
		m.StartToCloseTimeout = o.StartToCloseTimeout
	}
	if o.HeartbeatTimeout != 0 {
		m.HeartbeatTimeout = o.HeartbeatTimeout
	}
	if o.RetryPolicy != nil {
		m.RetryPolicy = o.RetryPolicy
	}
	if o.WaitForCancellation {
		m.WaitForCancellation = true
	}
	if o.Queue != "" {
		m.Queue = o.Queue
	}
	return m
}
