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
	// StatusTerminated: the run was stopped from outside without its code
	// having a say (chorus.Terminate).
	StatusTerminated RunStatus = 6
	// StatusTimedOut: the run passed its execution or run timeout and the
	// engine ended it, as a termination would (its journal ends with a
	// RunTerminated whose failure has type "WorkflowTimeout").
	StatusTimedOut RunStatus = 7
	// StatusQueued: the run waits in a named queue for its turn to start
	// (see [QueueStore]); it has no journal yet.
	StatusQueued RunStatus = 8
)

var statusNames = map[RunStatus]string{
	StatusRunning:    "running",
	StatusCompleted:  "completed",
	StatusFailed:     "failed",
	StatusCanceled:   "canceled",
	StatusBlocked:    "blocked",
	StatusTerminated: "terminated",
	StatusTimedOut:   "timed-out",
	StatusQueued:     "queued",
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
	return s == StatusCompleted || s == StatusFailed || s == StatusCanceled || s == StatusTerminated || s == StatusTimedOut
}

// ParseRunStatus is the inverse of [RunStatus.String].
func ParseRunStatus(s string) (RunStatus, error) {
	for k, v := range statusNames {
		if v == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("history: unknown run status %q (want running, completed, failed, canceled, blocked, terminated, timed-out or queued)", s)
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
	// FirstSeq is the Seq of the RunStarted event of the run's current
	// generation: 1, or later after the run continued as new. Replay starts
	// there.
	FirstSeq int64
	// Parent and ParentStep name the run and step that started this run as
	// a child workflow; Parent is empty for a run started from outside.
	Parent     string
	ParentStep int64
	// Result is the encoded result of a completed run.
	Result []byte
	// Failure is the encoded [Failure] of a failed or canceled run, or the
	// reason a run is blocked.
	Failure []byte
	// Damaged is set, by [Store.ListRuns] only, on a run whose index row
	// the store found damaged (a checksum that does not match, a column
	// holding a value it cannot hold): an error wrapping [ErrCorrupt] that
	// names the run and what is wrong. ID is then the row's ID, and the
	// other fields hold what could be read and must not be trusted. Stores
	// never write it.
	Damaged error
}

// StatusUpdate changes a run's index row.
type StatusUpdate struct {
	Status  RunStatus
	Result  []byte
	Failure []byte
	// FirstSeq, when non-zero, starts a new generation of the run at that
	// Seq (after it continued as new). It must be the Seq of a RunStarted
	// event of the same batch.
	FirstSeq int64
}

// TaskKind says what a [Task] is for. Values are persisted.
type TaskKind uint8

// The task kinds.
const (
	// TaskActivity runs activity Name with Input.
	TaskActivity TaskKind = 1
	// TaskTimer fires the timer of Step at NotBefore.
	TaskTimer TaskKind = 2
	// TaskStartChild starts the child run that Step's ChildStarted event
	// describes; Input is the engine's encoding of it.
	TaskStartChild TaskKind = 3
	// TaskNotifyParent tells the parent of a run that has ended how it
	// ended; Input is the engine's encoding of the outcome.
	TaskNotifyParent TaskKind = 4
	// TaskSendSignal delivers the signal that Step's SignalSent event
	// describes; Input is the engine's encoding of it.
	TaskSendSignal TaskKind = 5
	// TaskCancelChild asks the child started at Step to cancel.
	TaskCancelChild TaskKind = 6
	// TaskCloseChildren applies the parent-close policy of the children
	// still running when a generation of the run ended (terminate them or
	// ask them to cancel); Step is the negated Seq of the event that ended
	// it, and Input the engine's encoding of the children.
	TaskCloseChildren TaskKind = 7
	// TaskRunTimeout ends the run as timed out at NotBefore, the earlier of
	// its execution and run deadlines; Step is the negated Seq of the
	// RunStarted of the generation it bounds, and Input the engine's
	// encoding of the deadlines.
	TaskRunTimeout TaskKind = 8
	// TaskWake loads the run so that its code sees an input (a signal, a
	// cancellation) that a process without the run's workflow registered
	// journaled at Step; it is done once a process with the workflow
	// loads the run.
	TaskWake TaskKind = 9
)

var taskKindNames = map[TaskKind]string{
	TaskActivity: "activity", TaskTimer: "timer", TaskStartChild: "start-child",
	TaskNotifyParent: "notify-parent", TaskSendSignal: "send-signal", TaskCancelChild: "cancel-child",
	TaskCloseChildren: "close-children", TaskRunTimeout: "run-timeout", TaskWake: "wake",
}

// String returns the kind's name, such as "timer".
func (k TaskKind) String() string {
	if s, ok := taskKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("TaskKind(%d)", uint8(k))
}

// Valid reports whether k is a kind this version of Chorus knows.
func (k TaskKind) Valid() bool {
	_, ok := taskKindNames[k]
	return ok
}

// Task is work the journal promises and the engine has not done yet: an
// activity to run, a timer to fire, a child to start, a parent to notify, a
// signal to deliver. Tasks are an index over the journal kept so that
// recovery does not have to replay every run to find the work it must
// restart.
type Task struct {
	// RunID and Step (the Seq of the event that created the task) identify
	// it. A step that needs a second task (a child that is asked to cancel
	// while its start-child task may still be pending) uses -Step for it.
	RunID string
	Step  int64
	// Kind says what the task is for. Zero means TaskActivity.
	Kind TaskKind
	// Name is the registered activity name for TaskActivity; other kinds
	// may leave it empty.
	Name string
	// Input is the encoded activity input, or the engine's encoding of what
	// other kinds of task need.
	Input []byte
	// Options is the activity options in force when it was scheduled,
	// encoded as JSON by the engine.
	Options []byte
	// Attempt is the number of the attempt to run next, starting at 1.
	Attempt int
	// NotBefore is the earliest time the attempt may start (after a retry
	// backoff); the zero time means at once.
	NotBefore time.Time
	// Pending, when not the zero time, says that attempt Attempt has run
	// and returned "result pending": it is completed from outside the
	// engine, and must not run again. It holds when that attempt started,
	// from which its start-to-close timeout counts.
	Pending time.Time
	// Heartbeat is the encoded details of the last heartbeat recorded by an
	// attempt of the activity, nil for none.
	Heartbeat []byte
	// Canceled says that the workflow canceled the activity and waits for
	// its running attempt to return: an attempt cut short by a crash is not
	// run again, the activity settles as canceled.
	Canceled bool
	// LastFailure is the encoded [Failure] of the latest failed attempt of
	// an activity that is retrying (the engine's [Codec]), nil for none;
	// FirstFailureAt is when its first attempt failed, the zero time for
	// none. They tell operators why a step is retrying and since when.
	LastFailure    []byte
	FirstFailureAt time.Time
	// Workflow is the name of the run's workflow, and ScheduledAt the time
	// of the journal event at Step. [Store.Tasks] fills them in; they are
	// ignored when a task is written.
	Workflow    string
	ScheduledAt time.Time
	// Damaged is set, by [Store.Tasks] only, on a task whose row the store
	// found damaged (a checksum that does not match, a kind this code does
	// not know, a column holding a value it cannot hold): an error wrapping
	// [ErrCorrupt] that names the run and the step. RunID is then the run
	// the row belongs to, and the other fields hold what could be read and
	// must not be trusted: such a task is never to be run. Stores never
	// write it.
	Damaged error
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
