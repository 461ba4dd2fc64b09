package chorus

import (
	"fmt"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrRunNotFound: no run has the given ID.
	ErrRunNotFound = history.ErrRunNotFound
	// ErrRunExists: Start was given the ID of an existing run.
	ErrRunExists = history.ErrRunExists
	// ErrRunEnded: the run has completed, failed or been canceled.
	ErrRunEnded = engine.ErrRunEnded
	// ErrRunBlocked: the run cannot advance with the registered code; see
	// [BlockedError].
	ErrRunBlocked = engine.ErrRunBlocked
	// ErrCanceled: the run (or an activity) was canceled.
	ErrCanceled = engine.ErrCanceled
	// ErrEngineClosed: the engine was closed.
	ErrEngineClosed = engine.ErrEngineClosed
	// ErrNotRegistered: a workflow or activity name is not registered; see
	// [NotRegisteredError].
	ErrNotRegistered = engine.ErrNotRegistered
	// ErrDuplicateRegistration: a name was registered twice.
	ErrDuplicateRegistration = engine.ErrDuplicateRegistration
	// ErrPayload: a payload could not be encoded or decoded; see
	// [PayloadError].
	ErrPayload = engine.ErrPayload
	// ErrNotChorusDatabase: the file is not a Chorus database.
	ErrNotChorusDatabase = history.ErrNotChorusDatabase
	// ErrSchemaTooNew: the database was written by a newer Chorus.
	ErrSchemaTooNew = history.ErrSchemaTooNew
	// ErrCorrupt: a stored row or an imported history cannot be read back.
	ErrCorrupt = history.ErrCorrupt
	// ErrLocked: another engine (in this process or another) has the
	// database file open.
	ErrLocked = history.ErrLocked
	// ErrLimitExceeded: a run reached one of its [Limits]; see [LimitError].
	ErrLimitExceeded = engine.ErrLimitExceeded
	// ErrInvalidRunID: a run ID (given to Start, SignalWithStart or a
	// child) breaks the rules of run IDs; see [RunIDError].
	ErrInvalidRunID = engine.ErrInvalidRunID
)

// Error types with fields for the caller.
type (
	// NonDeterminismError reports that replaying a run diverged from its
	// journal: it names the run, the step, what the journal holds and what
	// the code did. The run is blocked, not failed.
	NonDeterminismError = engine.NonDeterminismError
	// NotRegisteredError names a workflow or activity that is not
	// registered.
	NotRegisteredError = engine.NotRegisteredError
	// BlockedError is returned for a run that cannot advance with the
	// registered code; Reason says why.
	BlockedError = engine.BlockedError
	// PanicError reports a panic in workflow code; the run is blocked.
	PanicError = engine.PanicError
	// PayloadError reports a payload that could not be encoded or decoded.
	PayloadError = engine.PayloadError
	// LimitError names the limit a run reached, the value it would have
	// reached and the limit.
	LimitError = engine.LimitError
	// VersionError reports a run that follows a version of a change the
	// code no longer supports; the run is blocked.
	VersionError = engine.VersionError
	// RunIDError reports a run ID that breaks the rules.
	RunIDError = engine.RunIDError
)

// WorkflowError is the error [Run.Result] returns for a run that failed or
// was canceled. It unwraps to [ErrCanceled] for a canceled run and to an
// [*activity.Error] with the recorded type and message otherwise.
type WorkflowError struct {
	// RunID and Workflow name the run.
	RunID    string
	Workflow string
	// Canceled is set when the run ended as canceled.
	Canceled bool
	// Terminated is set when the run was terminated; Message is the reason.
	Terminated bool
	// Type and Message are the recorded error's type and text. Type is
	// one of the FailureType constants, a type the application chose
	// ([activity.Error]), or the Go type of a plain error the workflow
	// returned.
	Type    string
	Message string
	failure *history.Failure
}

func (e *WorkflowError) Error() string {
	if e.Terminated {
		return fmt.Sprintf("chorus: run %q of workflow %q was terminated: %s", e.RunID, e.Workflow, e.Message)
	}
	if e.Canceled {
		return fmt.Sprintf("chorus: run %q of workflow %q was canceled: %s", e.RunID, e.Workflow, e.Message)
	}
	return fmt.Sprintf("chorus: run %q of workflow %q failed: %s", e.RunID, e.Workflow, e.Message)
}

// Unwrap returns [ErrCanceled] for a canceled run, and an [*activity.Error]
// with the recorded type and message otherwise.
func (e *WorkflowError) Unwrap() error {
	if e.Canceled {
		return ErrCanceled
	}
	return &activity.Error{Type: e.Type, Message: e.Message}
}

// Is reports whether the error the run failed with, as rebuilt from the
// journal, matches target: for a failure of type [FailureTypeLimitExceeded],
// errors.Is(err, ErrLimitExceeded) is true.
func (e *WorkflowError) Is(target error) bool { return engine.FailureCauseIs(e.failure, target) }

// As finds target in the error the run failed with, as rebuilt from the
// journal: for a failure of type [FailureTypeLimitExceeded], errors.As finds
// the [*LimitError].
func (e *WorkflowError) As(target any) bool { return engine.FailureCauseAs(e.failure, target) }

func (e *Engine) runError(info history.RunInfo) error {
	switch info.Status {
	case history.StatusFailed, history.StatusCanceled, history.StatusTerminated:
		we := &WorkflowError{RunID: info.ID, Workflow: info.Workflow, Canceled: info.Status == history.StatusCanceled,
			Terminated: info.Status == history.StatusTerminated}
		if f, err := e.core.DecodeFailure(info.Failure); err == nil {
			we.Type, we.Message, we.failure = f.Type, f.Message, f
		} else {
			we.Message = fmt.Sprintf("(the recorded error does not decode: %v)", err)
		}
		return we
	case history.StatusBlocked:
		be := &BlockedError{RunID: info.ID, Reason: "unknown reason"}
		if f, err := e.core.DecodeFailure(info.Failure); err == nil {
			be.Reason, be.Cause = f.Message, engine.BlockedCause(f)
		}
		return be
	}
	return nil
}

// checkRunID refuses, before anything is read, an ID that no run can have:
// the error wraps [ErrRunNotFound] and the [*RunIDError], whose text quotes
// a bounded prefix of the ID.
func checkRunID(id string) error {
	if err := engine.ValidateRunID(id); err != nil {
		return fmt.Errorf("%w: %w", ErrRunNotFound, err)
	}
	return nil
}

func blockedError(runID string, cause error) *BlockedError {
	return &BlockedError{RunID: runID, Reason: cause.Error(), Cause: cause}
}

// closedErr maps a store error after Close to ErrEngineClosed, which is what
// a caller of a closed engine should see.
func (e *Engine) closedErr(err error) error {
	if err == nil {
		return nil
	}
	select {
	case <-e.core.Closed():
		return fmt.Errorf("%w (%v)", ErrEngineClosed, err)
	default:
		return err
	}
}
