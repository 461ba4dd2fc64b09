package integrate

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// Failure types recorded for the errors of this package. Workflow code that
// gets a failed activity can match them with errors.As on an
// [*activity.Error], or more simply with [StatusOf], [IsCircuitOpen] and
// [IsRateLimited]; a retry policy can list them in
// activity.RetryPolicy.NonRetryableErrorTypes.
const (
	// TypeHTTPStatus: the server answered with a status that is an error
	// ([*StatusError]). 4xx other than 408 and 429 is never retried.
	TypeHTTPStatus = "integrate.HTTPStatus"
	// TypeCircuitOpen: the endpoint's circuit breaker is open and the call
	// was refused without reaching the server ([ErrCircuitOpen]). Never
	// retried by the engine: the workflow is meant to route around it.
	TypeCircuitOpen = "integrate.CircuitOpen"
	// TypeRateLimited: the client-side rate limiter would have made the
	// call wait longer than allowed ([ErrRateLimited]). Retried.
	TypeRateLimited = "integrate.RateLimited"
	// TypeTransport: the request did not get an answer (connection refused,
	// reset, per-call timeout). Retried.
	TypeTransport = "integrate.Transport"
	// TypeInvalid: the request or the response does not match the API
	// description, or does not encode or decode. Never retried.
	TypeInvalid = "integrate.Invalid"
)

// ErrCircuitOpen is matched (errors.Is) by a call refused because its
// endpoint's circuit breaker is open (or half-open with its trial requests
// in flight). Inside workflow code use [IsCircuitOpen], which also
// recognizes the failure once it has been journaled.
var ErrCircuitOpen = errors.New("integrate: circuit breaker open")

// ErrRateLimited is matched (errors.Is) by a call that the client-side rate
// limiter refused because it would have had to wait longer than
// [LimiterOptions].MaxWait or the context's deadline.
var ErrRateLimited = errors.New("integrate: rate limited")

// MaxBodyExcerpt is how many bytes of an error response's body a
// [*StatusError] keeps.
const MaxBodyExcerpt = 512

// StatusError is an HTTP answer whose status is an error. It unwraps to an
// [*activity.Error] of type [TypeHTTPStatus], non-retryable for 4xx (other
// than 408 Request Timeout and 429 Too Many Requests), so the engine records
// it as such and does not retry it.
type StatusError struct {
	// Endpoint is the name of the call.
	Endpoint string
	// Method and URL are the request's.
	Method, URL string
	// StatusCode is the HTTP status, such as 404.
	StatusCode int
	// Body is the start of the response's body, at most [MaxBodyExcerpt]
	// bytes.
	Body string
	// RetryAfter is the wait the server asked for with a Retry-After
	// header, or zero.
	RetryAfter time.Duration
	// askedWait is set when the server sent a valid Retry-After (which
	// may be zero: retry at once).
	askedWait bool
}

// Error starts with "HTTP <status>" so that [StatusOf] can read the status
// back from a journaled failure.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("HTTP %d %s from %s (%s %s)", e.StatusCode, http.StatusText(e.StatusCode), e.Endpoint, e.Method, e.URL)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Retryable reports whether the status is worth retrying: 408, 429 and 5xx.
func (e *StatusError) Retryable() bool { return retryableStatus(e.StatusCode) }

// Unwrap returns the [*activity.Error] the engine records.
func (e *StatusError) Unwrap() error {
	return &activity.Error{Type: TypeHTTPStatus, Message: e.Error(), NonRetryable: !e.Retryable()}
}

func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// CircuitOpenError is the error of a call refused by an open circuit
// breaker. It matches [ErrCircuitOpen] and unwraps to a non-retryable
// [*activity.Error] of type [TypeCircuitOpen].
type CircuitOpenError struct {
	// Endpoint is the name of the call; Breaker the name of its breaker.
	Endpoint, Breaker string
	// State is the breaker's state when the call was refused.
	State BreakerState
}

func (e *CircuitOpenError) Error() string {
	return fmt.Sprintf("circuit breaker %q is %s: call to %s refused without reaching the server", e.Breaker, e.State, e.Endpoint)
}

// Is makes errors.Is(err, ErrCircuitOpen) true.
func (e *CircuitOpenError) Is(target error) bool { return target == ErrCircuitOpen }

// Unwrap returns the [*activity.Error] the engine records.
func (e *CircuitOpenError) Unwrap() error {
	return &activity.Error{Type: TypeCircuitOpen, Message: e.Error(), NonRetryable: true}
}

// RateLimitedError is the error of a call the client-side rate limiter
// refused. It matches [ErrRateLimited] and unwraps to a retryable
// [*activity.Error] of type [TypeRateLimited].
type RateLimitedError struct {
	// Endpoint is the name of the call; Limiter the name of its limiter.
	Endpoint, Limiter string
	// Wait is how long the call would have had to wait.
	Wait time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limiter %q: call to %s would wait %v, over the allowed wait", e.Limiter, e.Endpoint, e.Wait)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// Unwrap returns the [*activity.Error] the engine records.
func (e *RateLimitedError) Unwrap() error {
	return &activity.Error{Type: TypeRateLimited, Message: e.Error()}
}

// TransportError is a request that got no HTTP answer: the connection
// failed, or the per-call timeout passed. It is retried.
type TransportError struct {
	// Endpoint is the name of the call; Method and URL the request's.
	Endpoint, Method, URL string
	// Timeout is set when the per-call timeout passed.
	Timeout bool
	// Err is what the HTTP client returned.
	Err error
}

func (e *TransportError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("%s (%s %s): no answer within the call's timeout: %v", e.Endpoint, e.Method, e.URL, e.Err)
	}
	return fmt.Sprintf("%s (%s %s): %v", e.Endpoint, e.Method, e.URL, e.Err)
}

// FailureType names the failure for the engine.
func (e *TransportError) FailureType() string { return TypeTransport }

// Unwrap returns the HTTP client's error.
func (e *TransportError) Unwrap() error { return e.Err }

// invalid returns a non-retryable error of type TypeInvalid.
func invalid(format string, args ...any) error {
	return &activity.Error{Type: TypeInvalid, Message: fmt.Sprintf(format, args...), NonRetryable: true}
}

// failureOf finds the recorded form of a failure in err's chain: an
// *activity.Error, or the journaled failure of a workflow.ActivityError.
func failureOf(err error) (typ, msg string, ok bool) {
	var fr interface{ Failure() *history.Failure }
	if errors.As(err, &fr) {
		if f := fr.Failure(); f != nil {
			for ; f != nil; f = f.Cause {
				if strings.HasPrefix(f.Type, "integrate.") {
					return f.Type, f.Message, true
				}
			}
		}
	}
	var ae *activity.Error
	if errors.As(err, &ae) {
		return ae.Type, ae.Message, true
	}
	return "", "", false
}

// StatusOf returns the HTTP status error in err's chain: the
// [*StatusError] itself inside the activity, or, in workflow code, one
// rebuilt from the journaled failure (with StatusCode and the message's
// text; Body then holds the whole message).
func StatusOf(err error) (*StatusError, bool) {
	var se *StatusError
	if errors.As(err, &se) {
		return se, true
	}
	typ, msg, ok := failureOf(err)
	if !ok || typ != TypeHTTPStatus {
		return nil, false
	}
	rest, found := strings.CutPrefix(msg, "HTTP ")
	if !found || len(rest) < 3 {
		return nil, false
	}
	code, convErr := strconv.Atoi(rest[:3])
	if convErr != nil {
		return nil, false
	}
	return &StatusError{StatusCode: code, Body: msg}, true
}

// IsCircuitOpen reports whether err is, or records, a call refused by an
// open circuit breaker. It works on the error inside the activity and on
// the activity's failure in workflow code.
func IsCircuitOpen(err error) bool {
	if errors.Is(err, ErrCircuitOpen) {
		return true
	}
	typ, _, ok := failureOf(err)
	return ok && typ == TypeCircuitOpen
}

// IsRateLimited reports whether err is, or records, a call refused by the
// client-side rate limiter.
func IsRateLimited(err error) bool {
	if errors.Is(err, ErrRateLimited) {
		return true
	}
	typ, _, ok := failureOf(err)
	return ok && typ == TypeRateLimited
}
