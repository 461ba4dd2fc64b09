package chorus

import (
	"errors"
	"fmt"
	"reflect"

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
	// ErrPayloadKey: a payload cannot be decoded (or encoded) because its
	// key is not configured; a run whose journal holds one is blocked
	// until it is (see [Options].PayloadCodec).
	ErrPayloadKey = history.ErrPayloadKey
	// ErrLocked: another engine (in this process or another) has the
	// database file open.
	ErrLocked = history.ErrLocked
	// ErrLimitExceeded: a run reached one of its [Limits]; see [LimitError].
	ErrLimitExceeded = engine.ErrLimitExceeded
	// ErrInvalidRunID: a run ID (given to Start, SignalWithStart or a
	// child) breaks the rules of run IDs; see [RunIDError].
	ErrInvalidRunID = engine.ErrInvalidRunID
	// ErrWorkflowTimeout: a run passed its execution or run timeout (see
	// [StartOptions]); the [*WorkflowError] of such a run, or the
	// workflow.ChildWorkflowError of such a child, matches it.
	ErrWorkflowTimeout = engine.ErrWorkflowTimeout
	// ErrInvalidIdentity: the context given to Cancel, Terminate or
	// Signal carries an identity ([WithIdentity]) that cannot be journaled
	// (empty, longer than 256 bytes, not UTF-8, or with control
	// characters).
	ErrInvalidIdentity = engine.ErrInvalidIdentity
	// ErrInvalidSignalName: a signal's name is empty, longer than 1024
	// bytes, not UTF-8, or holds a NUL byte.
	ErrInvalidSignalName = engine.ErrInvalidSignalName
)

// The error types below are the engine's own, shown here with their
// fields; each error the API returns, and each error workflow code gets from
// the workflow package, matches them with errors.As, wherever it sits in
// the chain.

// NonDeterminismError reports that replaying a run diverged from its
// journal: the code did something other than what the journal recorded at
// that step. The run is blocked, not failed.
type NonDeterminismError struct {
	// RunID and Workflow name the run.
	RunID    string
	Workflow string
	// Step is the journal position where the divergence was found.
	Step int64
	// Recorded describes what the journal holds at Step ("nothing" past its
	// end).
	Recorded string
	// Issued describes what the code did instead.
	Issued string
}

func (e *NonDeterminismError) Error() string { return (*engine.NonDeterminismError)(e).Error() }

// NotRegisteredError names a workflow or activity that is not registered.
type NotRegisteredError struct {
	// Kind is "workflow" or "activity".
	Kind string
	// Name is the name that is not registered.
	Name string
}

func (e *NotRegisteredError) Error() string { return (*engine.NotRegisteredError)(e).Error() }

// Is makes errors.Is(err, ErrNotRegistered) true.
func (e *NotRegisteredError) Is(target error) bool { return target == ErrNotRegistered }

// BlockedError is returned for a run that cannot advance with the
// registered code; the journal is untouched, and fixing the cause (the
// code, a limit) and reopening resumes the run.
type BlockedError struct {
	// RunID names the run.
	RunID string
	// Reason says why it is blocked.
	Reason string
	// Cause is the error that blocked the run when it is known in full
	// (a [*NonDeterminismError], [*PanicError] or [*LimitError] always
	// is), or nil.
	Cause error
}

func (e *BlockedError) Error() string { return (*engine.BlockedError)(e).Error() }

// Is makes errors.Is(err, ErrRunBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrRunBlocked }

// Unwrap returns Cause.
func (e *BlockedError) Unwrap() error { return e.Cause }

// PanicError reports a panic in workflow code; the run is blocked, not
// failed, and a fix to the code resumes it.
type PanicError struct {
	// Value is the value passed to panic; for a run read back from the
	// journal, its text.
	Value any
	// Stack is the goroutine's stack where it panicked.
	Stack string
}

func (e *PanicError) Error() string { return (*engine.PanicError)(e).Error() }

// PayloadError reports a payload that the codec could not encode or
// decode. It unwraps to [ErrPayload] and the codec's error.
type PayloadError struct {
	// What names the payload, for example
	// `result of activity "charge-card" (step 3)`.
	What string
	// Err is the codec's error.
	Err error
}

func (e *PayloadError) Error() string { return (*engine.PayloadError)(e).Error() }

// Unwrap returns [ErrPayload] and Err.
func (e *PayloadError) Unwrap() []error { return []error{ErrPayload, e.Err} }

// LimitError names the limit a run reached, the value it would have reached
// and the limit; see [Limits] for what happens then.
type LimitError struct {
	// Limit names the field of [Limits], such as "MaxHistoryEvents".
	Limit string
	// RunID is the run concerned, when there is one.
	RunID string
	// Value is what the step would have reached; Max is the limit.
	Value, Max int64
}

func (e *LimitError) Error() string { return (*engine.LimitError)(e).Error() }

// Is makes errors.Is(err, ErrLimitExceeded) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimitExceeded }

// VersionError reports a run that follows a version of a change which the
// code no longer supports (see workflow.GetVersion); the run is blocked.
type VersionError struct {
	// RunID names the run.
	RunID string
	// ChangeID names the change.
	ChangeID string
	// Version is the version the run recorded.
	Version int
	// Min and Max are the versions the code supports.
	Min, Max int
}

func (e *VersionError) Error() string { return (*engine.VersionError)(e).Error() }

// RunIDError reports a run ID that breaks the rules of run IDs: empty,
// longer than [MaxRunIDLength] bytes, not valid UTF-8, or holding a NUL
// byte. Its text quotes at most the first 64 bytes of the ID.
type RunIDError struct {
	// ID is the ID, cut to its first 64 bytes when longer.
	ID string
	// Length is the ID's length in bytes.
	Length int
	// Reason says which rule the ID breaks.
	Reason string
	// Child is set for the ID that workflow code gave a child run.
	Child bool
}

func (e *RunIDError) Error() string { return (*engine.RunIDError)(e).Error() }

// Is makes errors.Is(err, ErrInvalidRunID) true.
func (e *RunIDError) Is(target error) bool { return target == ErrInvalidRunID }

func init() { engine.SetPublicAs(publicAs) }

// publicErr turns an error of the engine's own types into the matching type
// of this package; other errors are returned as they are. Errors deeper in
// a chain are left alone: publicAs lets errors.As find them.
func publicErr(err error) error {
	switch e := err.(type) {
	case *engine.NonDeterminismError:
		return (*NonDeterminismError)(e)
	case *engine.NotRegisteredError:
		return (*NotRegisteredError)(e)
	case *engine.BlockedError:
		return &BlockedError{RunID: e.RunID, Reason: e.Reason, Cause: publicErr(e.Cause)}
	case *engine.PanicError:
		return (*PanicError)(e)
	case *engine.PayloadError:
		return (*PayloadError)(e)
	case *engine.LimitError:
		return (*LimitError)(e)
	case *engine.VersionError:
		return (*VersionError)(e)
	case *engine.RunIDError:
		return (*RunIDError)(e)
	case *engine.DeadlockError:
		return (*DeadlockError)(e)
	case *engine.GoroutineError:
		return (*GoroutineError)(e)
	}
	return err
}

// publicAs is what the engine's error types do when errors.As looks for a
// type of this package: it matches when target has the type that
// publicErr turns err into.
func publicAs(err error, target any) bool {
	pub := publicErr(err)
	if pub == err || target == nil {
		return false
	}
	tv := reflect.ValueOf(target)
	if tv.Kind() != reflect.Pointer || tv.IsNil() {
		return false
	}
	if pv := reflect.ValueOf(pub); pv.Type().AssignableTo(tv.Elem().Type()) {
		tv.Elem().Set(pv)
		return true
	}
	return false
}

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
	// TimedOut is set when the run passed its execution or run timeout
	// (status [StatusTimedOut], Type [FailureTypeWorkflowTimeout]).
	TimedOut bool
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
	if e.TimedOut {
		return fmt.Sprintf("chorus: run %q of workflow %q timed out: %s", e.RunID, e.Workflow, e.Message)
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
	case history.StatusFailed, history.StatusCanceled, history.StatusTerminated, history.StatusTimedOut:
		we := &WorkflowError{RunID: info.ID, Workflow: info.Workflow, Canceled: info.Status == history.StatusCanceled,
			Terminated: info.Status == history.StatusTerminated, TimedOut: info.Status == history.StatusTimedOut}
		if f, err := e.core.DecodeFailure(info.Failure); err == nil {
			we.Type, we.Message, we.failure = f.Type, f.Message, f
		} else {
			we.Message = fmt.Sprintf("(the recorded error does not decode: %v)", err)
		}
		return we
	case history.StatusBlocked:
		be := &BlockedError{RunID: info.ID, Reason: "unknown reason"}
		if f, err := e.core.DecodeFailure(info.Failure); err == nil {
			be.Reason, be.Cause = f.Message, publicErr(engine.BlockedCause(f))
		} else if errors.Is(err, history.ErrPayloadKey) {
			be.Reason, be.Cause = "the recorded reason does not decode: "+err.Error(), err
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
		return fmt.Errorf("%w: %w", ErrRunNotFound, publicErr(err))
	}
	return nil
}

func blockedError(runID string, cause error) *BlockedError {
	return &BlockedError{RunID: runID, Reason: cause.Error(), Cause: publicErr(cause)}
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
