package activity

import (
	"errors"
	"fmt"
	"reflect"
)

// ErrResultPending, returned by an activity (with any result, which is
// ignored), says that the attempt has handed its work to someone else (a
// webhook, a callback, a person) who completes the activity later, from
// outside the engine, by its [Info.IdempotencyKey] with
// chorus.CompleteActivity or chorus.FailActivity. The engine records that
// the attempt is pending: it neither retries it nor runs it again after a
// restart. Options.StartToCloseTimeout, when set, still bounds the attempt,
// counted from its start; when it passes, the attempt fails with a
// start-to-close timeout and is retried by the retry policy.
// Options.HeartbeatTimeout does not apply once the attempt is pending.
var ErrResultPending = errors.New("activity: result pending (the activity is completed from outside the engine)")

// Error is an application error with a type that retry policies and workflow
// code can match on. Return one from an activity with [NewError].
type Error struct {
	// Type names the kind of failure, such as "card-declined".
	Type string
	// Message describes it.
	Message string
	// NonRetryable ends the activity at once instead of retrying.
	NonRetryable bool
	cause        error
}

// NewError returns an [*Error] of the given type with a formatted message.
func NewError(typ, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// Unwrap returns the error [NonRetryable] wrapped, if any.
func (e *Error) Unwrap() error { return e.cause }

// NonRetryable marks err as final: the engine records the failure without
// retrying. It returns nil for a nil err.
func NonRetryable(err error) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) && ae.cause == nil && ae == err {
		c := *ae
		c.NonRetryable = true
		return &c
	}
	return &Error{Type: TypeOf(err), Message: err.Error(), NonRetryable: true, cause: err}
}

// IsNonRetryable reports whether err was marked with [NonRetryable] or is an
// [*Error] whose NonRetryable field is set.
func IsNonRetryable(err error) bool {
	var ae *Error
	return errors.As(err, &ae) && ae.NonRetryable
}

// Failure types that the engine records for failures it detects itself.
// [Error.Type] holds one of them when workflow code gets such a failure,
// and [RetryPolicy.NonRetryableErrorTypes] can name them. Every type the
// engine records is one of these names or a name the application chose;
// it is never a Go type name, except that a plain Go error returned by an
// activity or a workflow is recorded under its Go type (see [TypeOf]).
const (
	// TypeCanceled: the activity (or child run) was canceled.
	TypeCanceled = "Canceled"
	// TypeStartToCloseTimeout: the attempt outlived its
	// Options.StartToCloseTimeout.
	TypeStartToCloseTimeout = "StartToCloseTimeout"
	// TypeHeartbeatTimeout: the attempt sent no heartbeat within its
	// Options.HeartbeatTimeout.
	TypeHeartbeatTimeout = "HeartbeatTimeout"
	// TypePanic: the activity panicked. It is retried like any error.
	TypePanic = "Panic"
	// TypeInvalidPayload: the activity's input does not decode into its
	// input type, or its result does not encode. Never retried.
	TypeInvalidPayload = "InvalidPayload"
	// TypeLimitExceeded: the activity's result is over the engine's
	// Limits.MaxPayloadBytes. Never retried: the same result would be
	// refused again. The error unwraps to the engine's limit error.
	TypeLimitExceeded = "LimitExceeded"
	// TypeTerminated: a child run was terminated.
	TypeTerminated = "Terminated"
	// TypeRunNotFound and TypeRunEnded: a signal sent by workflow code
	// found no run with the target ID, or a run that had ended.
	TypeRunNotFound = "RunNotFound"
	TypeRunEnded    = "RunEnded"
)

// typedError is an error that names its own failure type.
type typedError interface {
	error
	FailureType() string
}

// TypeOf returns the type name that retry policies match err on and that
// the engine records: the Type of the first [*Error] in its chain; else the
// name returned by the FailureType method of the first error in the chain
// that has one (the engine's own errors have one, returning the Type
// constants above; an application error may have one too); or else the Go
// type of err itself, such as "*net.OpError".
func TypeOf(err error) string {
	if err == nil {
		return ""
	}
	var ae *Error
	if errors.As(err, &ae) && ae.Type != "" {
		return ae.Type
	}
	var te typedError
	if errors.As(err, &te) {
		if t := te.FailureType(); t != "" {
			return t
		}
	}
	return reflect.TypeOf(err).String()
}
