package history

import (
	"fmt"
	"time"
)

// RunStatus is the state of a run as its index row records it. Values are
// persisted.
type RunStatus uint8

// The run statuses.
const (
	// StatusRunning: the run has not ended. It may be executing, waiting for
	// an activity, or parked.
	StatusRunning RunStatus = 1
	// StatusCompleted: the workflow function returned a result.
	StatusCompleted RunStatus = 2
	// StatusFailed: the workflow function returned an error.
	StatusFailed RunStatus = 3
	// StatusCanceled: the run ended after a cancellation request.
	StatusCanceled RunStatus = 4
	// StatusBlocked: the engine cannot make progress with the code it has:
	// replay diverged from the journal, the workflow code panicked, or a name
	// in the journal is not registered. Nothing was lost; the run resumes when
	// a process with fixed code opens the database.
	StatusBlocked RunStatus = 5
)

var statusNames = map[RunStatus]string{
	StatusRunning:   "running",
	StatusCompleted: "completed",
	StatusFailed:    "failed",
	StatusCanceled:  "canceled",
	StatusBlocked:   "blocked",
}

// String returns the status in lower case, such as "running".
func (s RunStatus) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("RunStatus(%d)", uint8(s))
}

// Valid reports whether s is a status this version of Chorus knows.
func (s RunStatus) Valid() bool {
	_, ok := statusNames[s]
	return ok
}

// Ended reports whether the run is over and will never change again.
func (s RunStatus) Ended() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCanceled
}

// ParseRunStatus is the inverse of [RunStatus.String].
func ParseRunStatus(s string) (RunStatus, error) {
	for k, v := range statusNames {
		if v == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("history: unknown run status %q (want running, completed, failed, canceled or blocked)", s)
}

// RunInfo is a run's index row.
type RunInfo struct {
	// ID is the run's identifier, chosen by the caller or generated.
	ID string
	// Workflow is the registered name of the run's workflow.
	Workflow string
	// Status is where the run stands.
	Status RunStatus
	// CreatedAt is when the run was started.
	CreatedAt time.Time
	// UpdatedAt is when the row last changed.
	UpdatedAt time.Time
	// LastSeq is the Seq of the run's last journal event.
	LastSeq int64
	// Result is the encoded result of a completed run.
	Result []byte
	// Failure is the encoded [Failure] of a failed or canceled run, or the
	// reason a run is blocked.
	Failure []byte
}

// StatusUpdate changes a run's index row.
type StatusUpdate struct {
	Status  RunStatus
	Result  []byte
	Failure []byte
}

// Task is a pending activity: scheduled in the journal and not yet answered.
// Tasks are an index over the journal kept so that recovery does not have to
// replay every run to find the work it must restart.
type Task struct {
	// RunID and Step (the Seq of the ActivityScheduled event) identify it.
	RunID string
	Step  int64
	// Activity is the registered activity name.
	Activity string
	// Input is the encoded activity input.
	Input []byte
	// Options is the activity options in force when it was scheduled,
	// encoded as JSON by the engine.
	Options []byte
	// Attempt is the number of the attempt to run next, starting at 1.
	Attempt int
	// NotBefore is the earliest time the attempt may start (after a retry
	// backoff); the zero time means at once.
	NotBefore time.Time
	// Workflow is the name of the run's workflow, and ScheduledAt the time
	// of the journal event at Step. [Store.Tasks] fills them in; they are
	// ignored when a task is written.
	Workflow    string
	ScheduledAt time.Time
}

// Failure is the stored form of an error: errors cross the journal as data,
// so code that reads them on replay sees exactly what code saw live.
type Failure struct {
	// Message is the error's text.
	Message string `json:"message"`
	// Type names the kind of error, for matching (for example the Go type of
	// an activity's error, or a type given by the application).
	Type string `json:"type,omitempty"`
	// NonRetryable is set when the error said it must not be retried.
	NonRetryable bool `json:"non_retryable,omitempty"`
	// Attempt is the number of the attempt that produced the error, if any.
	Attempt int `json:"attempt,omitempty"`
	// Details is optional encoded data attached by the application.
	Details []byte `json:"details,omitempty"`
	// Cause is the error this one wraps, if it was recorded.
	Cause *Failure `json:"cause,omitempty"`
}
