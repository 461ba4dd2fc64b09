package activity

import (
	"errors"
	"fmt"
	"reflect"
)

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

// TypeOf returns the type name that retry policies match err on: the Type of
// the first [*Error] in its chain, or else the Go type of err itself, such as
// "*net.OpError".
func TypeOf(err error) string {
	if err == nil {
		return ""
	}
	var ae *Error
	if errors.As(err, &ae) && ae.Type != "" {
		return ae.Type
	}
	return reflect.TypeOf(err).String()
}
