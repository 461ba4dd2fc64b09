package grpccall

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// TypeGRPCStatus is the failure type recorded for a call that ended with a
// gRPC status other than OK ([*StatusError]).
const TypeGRPCStatus = "integrate.GRPCStatus"

// StatusError is a call that ended with a gRPC status other than OK. It
// unwraps to an [*activity.Error] of type [TypeGRPCStatus], non-retryable
// for the codes that are the caller's fault (see [Retryable]), and its
// GRPCStatus method makes status.FromError and status.Code work on it.
type StatusError struct {
	// Method is the full method name, such as "/shop.Inventory/Reserve".
	Method string
	// Code and Message are the status's.
	Code    codes.Code
	Message string
	// AttemptTimeout is set when the attempt's own timeout passed
	// (Options.Timeout), not the caller's deadline.
	AttemptTimeout bool
	// RetryAfter is the wait the server asked for, or zero.
	RetryAfter time.Duration

	status  *status.Status
	asked   bool // the server asked for RetryAfter (which may be zero)
	refused bool // the server's pushback said not to retry
}

// Error starts with "gRPC <code>" so that [CodeOf] can read the code back
// from a journaled failure.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("gRPC %s from %s", e.Code, e.Method)
	if e.AttemptTimeout {
		s += " (the attempt's timeout passed)"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// GRPCStatus returns the status, for status.FromError.
func (e *StatusError) GRPCStatus() *status.Status {
	if e.status == nil {
		return status.New(e.Code, e.Message)
	}
	return e.status
}

// Unwrap returns the [*activity.Error] the engine records.
func (e *StatusError) Unwrap() error {
	return &activity.Error{Type: TypeGRPCStatus, Message: e.Error(), NonRetryable: !Retryable(e.Code)}
}

// retryable says whether the interceptor retries the error itself.
func (e *StatusError) retryable() bool {
	if e.refused {
		return false
	}
	switch e.Code {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		return true
	case codes.DeadlineExceeded:
		return e.AttemptTimeout
	}
	return false
}

// Retryable reports whether a code is worth trying again later, which is
// how the engine records it: every code but those that say the request
// itself is wrong (InvalidArgument, NotFound, AlreadyExists,
// PermissionDenied, FailedPrecondition, OutOfRange, Unimplemented,
// Unauthenticated) and Canceled.
func Retryable(c codes.Code) bool {
	switch c {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented, codes.Unauthenticated, codes.Canceled:
		return false
	}
	return true
}

// CodeOf returns the gRPC code of a failed call: from the [*StatusError]
// inside the activity, or, in workflow code, from the activity's journaled
// failure. It reports false for an error that is neither.
func CodeOf(err error) (codes.Code, bool) {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code, true
	}
	msg, ok := failureMessage(err)
	if !ok {
		return 0, false
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(msg, "gRPC "), " ")
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c, true
		}
	}
	return 0, false
}

// failureMessage finds a recorded failure of type TypeGRPCStatus in err's
// chain.
func failureMessage(err error) (string, bool) {
	var fr interface{ Failure() *history.Failure }
	if errors.As(err, &fr) {
		for f := fr.Failure(); f != nil; f = f.Cause {
			if f.Type == TypeGRPCStatus {
				return f.Message, true
			}
		}
	}
	var ae *activity.Error
	if errors.As(err, &ae) && ae.Type == TypeGRPCStatus {
		return ae.Message, true
	}
	return "", false
}
