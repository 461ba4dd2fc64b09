package remote

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors of the hub's protocol, as the worker reports them; test for them
// with errors.Is on the error of [Worker.Run] or of the hub's client calls.
var (
	// ErrUnauthorized: the request carries no bearer token, or one the hub
	// does not know (HTTP 401).
	ErrUnauthorized = errors.New("remote: unauthorized: unknown or missing bearer token")
	// ErrForbidden: the token may not serve a queue the request names
	// (HTTP 403).
	ErrForbidden = errors.New("remote: forbidden: the token may not serve this queue")
	// ErrUnknownQueue: no remote activity of the hub is bound to a queue
	// the request names (HTTP 404).
	ErrUnknownQueue = errors.New("remote: unknown queue: no remote activity of the hub is bound to it")
	// ErrNotHeld: the worker answered or renewed a task it does not hold:
	// its lease expired and the task was offered again, the activity was
	// canceled or timed out, or the hub restarted (HTTP 409).
	ErrNotHeld = errors.New("remote: the task is not held by this worker")
	// ErrBadRequest: the request is malformed (HTTP 400).
	ErrBadRequest = errors.New("remote: bad request")
	// ErrHubClosed: the hub is closed (HTTP 503).
	ErrHubClosed = errors.New("remote: hub is closed")
)

// Error codes of the hub's JSON error bodies.
const (
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeUnknownQueue = "unknown_queue"
	codeNotHeld      = "not_held"
	codeBadRequest   = "bad_request"
	codeClosed       = "closed"
)

var codeErrors = map[string]error{
	codeUnauthorized: ErrUnauthorized,
	codeForbidden:    ErrForbidden,
	codeUnknownQueue: ErrUnknownQueue,
	codeNotHeld:      ErrNotHeld,
	codeBadRequest:   ErrBadRequest,
	codeClosed:       ErrHubClosed,
}

var codeStatus = map[string]int{
	codeUnauthorized: http.StatusUnauthorized,
	codeForbidden:    http.StatusForbidden,
	codeUnknownQueue: http.StatusNotFound,
	codeNotHeld:      http.StatusConflict,
	codeBadRequest:   http.StatusBadRequest,
	codeClosed:       http.StatusServiceUnavailable,
}

// HubError is an error answer of the hub: its HTTP status, its code and
// its message. It matches the sentinel of its code with errors.Is
// ([ErrUnauthorized], [ErrNotHeld]...).
type HubError struct {
	// Op is the request that failed: "poll", "heartbeat" or "answer".
	Op string
	// Status is the HTTP status.
	Status int
	// Code is the error code of the body ("not_held"...), empty when the
	// body had none.
	Code string
	// Message is the hub's explanation.
	Message string
}

func (e *HubError) Error() string {
	return fmt.Sprintf("remote: %s: hub answered %d %s: %s", e.Op, e.Status, http.StatusText(e.Status), e.Message)
}

// Is reports whether target is the sentinel of e's code.
func (e *HubError) Is(target error) bool {
	s, ok := codeErrors[e.Code]
	return ok && s == target
}

// permanent reports whether retrying the request cannot help.
func (e *HubError) permanent() bool {
	switch e.Code {
	case codeUnauthorized, codeForbidden, codeUnknownQueue, codeBadRequest:
		return true
	}
	return false
}
