package remote

import (
	"encoding/json"
	"time"
)

// The hub's protocol: JSON over HTTP POST, a bearer token on every request.
//
//	POST {hub}/v1/poll       pollRequest      → 200 wireTask, or 204 when none came within the poll timeout
//	POST {hub}/v1/heartbeat  heartbeatRequest → 200 {}, 409 when the task is no longer the worker's
//	POST {hub}/v1/answer     answerRequest    → 200 answerResponse, 409 when the task is no longer the worker's
//	POST {hub}/v1/release    releaseRequest   → 200 {}, 409 when the task is no longer the worker's
//
// Errors have an errorBody. Payloads ([]byte) are base64 in JSON.
const (
	pathPoll      = "/v1/poll"
	pathHeartbeat = "/v1/heartbeat"
	pathAnswer    = "/v1/answer"
	pathRelease   = "/v1/release"
)

// pollRequest asks for one task of Queues whose activity is one of
// Activities (the worker's registered names).
type pollRequest struct {
	Queues     []string `json:"queues"`
	Activities []string `json:"activities"`
}

// wireTask is a task handed to a worker under a lease.
type wireTask struct {
	Lease          string          `json:"lease"`
	LeaseTimeoutMS int64           `json:"lease_timeout_ms"`
	Queue          string          `json:"queue"`
	Activity       string          `json:"activity"`
	RunID          string          `json:"run_id"`
	Workflow       string          `json:"workflow"`
	Step           int64           `json:"step"`
	Attempt        int             `json:"attempt"`
	IdempotencyKey string          `json:"idempotency_key"`
	ScheduledAt    time.Time       `json:"scheduled_at"`
	Input          []byte          `json:"input"`
	Heartbeat      json.RawMessage `json:"heartbeat,omitempty"` // the previous attempt's last details
}

// heartbeatRequest renews a lease. With Relay, it also passes the
// activity's heartbeat (with Details, or none) to the hub's engine.
type heartbeatRequest struct {
	Lease   string          `json:"lease"`
	Relay   bool            `json:"relay,omitempty"`
	Details json.RawMessage `json:"details,omitempty"`
}

// answerRequest ends a task: with Result, or Failure, or Pending (the
// activity returned activity.ErrResultPending and is completed by its key
// later).
type answerRequest struct {
	Lease   string       `json:"lease"`
	Result  []byte       `json:"result"`
	Failure *wireFailure `json:"failure,omitempty"`
	Pending bool         `json:"pending,omitempty"`
}

// releaseRequest gives a task back unanswered (the worker is stopping):
// the hub offers it again at once instead of after its lease.
type releaseRequest struct {
	Lease string `json:"lease"`
}

// wireFailure is an activity's error.
type wireFailure struct {
	Type         string `json:"type,omitempty"`
	Message      string `json:"message"`
	NonRetryable bool   `json:"non_retryable,omitempty"`
}

// answerResponse acknowledges an answer; Duplicate says that the lease had
// been answered before and this answer was ignored.
type answerResponse struct {
	Duplicate bool `json:"duplicate,omitempty"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func leaseTimeout(t *wireTask) time.Duration {
	return time.Duration(t.LeaseTimeoutMS) * time.Millisecond
}
