package human

import (
	"errors"
	"fmt"
)

// The errors a refused action wraps. Each refusal is a [*TaskError] naming
// the action, the task and the user; errors.Is matches these.
var (
	// ErrNotAuthorized: the user is neither the task's assignee nor a
	// member of its assigned group.
	ErrNotAuthorized = errors.New("human: not authorized for this task")
	// ErrAlreadyClaimed: another user holds the task.
	ErrAlreadyClaimed = errors.New("human: task is claimed by another user")
	// ErrNotClaimed: a release by a user who does not hold the task.
	ErrNotClaimed = errors.New("human: task is not claimed by this user")
	// ErrTaskClosed: the task was completed, timed out or canceled, or its
	// run has ended. A second completion gets this.
	ErrTaskClosed = errors.New("human: task is closed")
	// ErrInvalidOutcome: the outcome does not decode into the task's
	// outcome type. The task stays open.
	ErrInvalidOutcome = errors.New("human: invalid outcome")
	// ErrUnknownTask: the run has no task with this ID (or is not a run
	// that asks people).
	ErrUnknownTask = errors.New("human: unknown task")
	// ErrUnknownUser: the directory does not know the user or group.
	ErrUnknownUser = errors.New("human: unknown user or group")
	// ErrUnavailable: the user is marked absent in the directory.
	ErrUnavailable = errors.New("human: user is unavailable")
	// ErrNoAssignee: neither the assignment nor its fallback found anyone
	// available to take the task.
	ErrNoAssignee = errors.New("human: nobody available to take the task")
	// ErrTimedOut: the task's deadline passed and its OnTimeout is [Fail].
	ErrTimedOut = errors.New("human: task timed out")
	// ErrBadRequest: an action's argument is malformed (empty user, empty
	// comment, reassignment to nobody).
	ErrBadRequest = errors.New("human: bad request")
)

// TaskError is the error of a refused action: nothing was written to the
// run's journal and the task is as it was.
type TaskError struct {
	// Action is what was attempted: "claim", "release", "complete",
	// "reassign", "comment".
	Action string
	// RunID and Task name the task; User who acted.
	RunID, Task, User string
	// Err is one of the package's sentinel errors, possibly wrapped with
	// details.
	Err error
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("human: %s of task %q in run %q by %q refused: %v", e.Action, e.Task, e.RunID, e.User, e.Err)
}

func (e *TaskError) Unwrap() error { return e.Err }
