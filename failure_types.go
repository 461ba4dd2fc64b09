package chorus

import (
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/engine"
)

// Failure types: the names under which the engine records the failures it
// detects itself, in the journal (see [History]) and in [WorkflowError.Type].
// A type is never a Go type name, except for a plain Go error that an
// activity or a workflow returned, which keeps its Go type (see
// [activity.TypeOf]). Workflow code sees the activity ones as the Type of an
// [*activity.Error].
const (
	// FailureTypeCanceled: an activity, a child run or the run was
	// canceled.
	FailureTypeCanceled = activity.TypeCanceled
	// FailureTypeStartToCloseTimeout: an activity attempt outlived its
	// StartToCloseTimeout.
	FailureTypeStartToCloseTimeout = activity.TypeStartToCloseTimeout
	// FailureTypeHeartbeatTimeout: an activity attempt sent no heartbeat
	// within its HeartbeatTimeout.
	FailureTypeHeartbeatTimeout = activity.TypeHeartbeatTimeout
	// FailureTypePanic: an activity panicked (retried like any error).
	FailureTypePanic = activity.TypePanic
	// FailureTypeInvalidPayload: a payload does not decode into the type
	// the code expects, or does not encode: an activity's input or result
	// (the activity fails, not retried), or a payload that workflow code
	// reads (the run is blocked).
	FailureTypeInvalidPayload = activity.TypeInvalidPayload
	// FailureTypeLimitExceeded: one of the [Limits] was reached. An
	// activity result over MaxPayloadBytes fails the activity, not
	// retried; a run whose own step would cross a limit is blocked. The
	// recorded failure rebuilds to a [*LimitError].
	FailureTypeLimitExceeded = activity.TypeLimitExceeded
	// FailureTypeTerminated: a child run was terminated.
	FailureTypeTerminated = activity.TypeTerminated
	// FailureTypeRunNotFound and FailureTypeRunEnded: a signal that
	// workflow code sent (workflow.SignalExternal) found no run with that
	// ID, or a run that had ended.
	FailureTypeRunNotFound = activity.TypeRunNotFound
	FailureTypeRunEnded    = activity.TypeRunEnded
	// FailureTypeWorkflowPanic: workflow code panicked; the run is
	// blocked ([*PanicError]).
	FailureTypeWorkflowPanic = "WorkflowPanic"
	// FailureTypeNonDeterminism: the code no longer replays the run's
	// journal; the run is blocked ([*NonDeterminismError]).
	FailureTypeNonDeterminism = "NonDeterminism"
	// FailureTypeUnsupportedVersion: the run follows a version of a change
	// the code no longer supports; the run is blocked ([*VersionError]).
	FailureTypeUnsupportedVersion = "UnsupportedVersion"
	// FailureTypeNotRegistered: a workflow or activity name is not
	// registered ([*NotRegisteredError]).
	FailureTypeNotRegistered = "NotRegistered"
	// FailureTypeCorrupt: the run's journal is damaged ([ErrCorrupt]); the
	// run is blocked.
	FailureTypeCorrupt = "Corrupt"
	// FailureTypeInvalidRunID: workflow code gave a child run an ID that
	// breaks the rules of run IDs ([*RunIDError]); the child's future
	// fails at once, not retried, and no child run is created.
	FailureTypeInvalidRunID = "InvalidRunID"
	// FailureTypeWorkflowTimeout: a run passed its execution or run
	// timeout ([StartOptions].ExecutionTimeout, RunTimeout, and the same
	// in workflow.ChildOptions) and was ended with [StatusTimedOut]; the
	// error matches [ErrWorkflowTimeout].
	FailureTypeWorkflowTimeout = engine.FailureTypeWorkflowTimeout
	// FailureTypeDeadlock: workflow code kept control longer than
	// [Options.DeadlockTimeout] ([*DeadlockError]); the run is blocked.
	FailureTypeDeadlock = engine.FailureTypeDeadlock
	// FailureTypeForeignGoroutine: a goroutine that is not one of the
	// workflow's own called the workflow API ([*GoroutineError]); the run
	// is blocked.
	FailureTypeForeignGoroutine = engine.FailureTypeGoroutine
	// FailureTypePayloadKey: a payload of the run's journal cannot be
	// decoded because the key it was encrypted with is not configured
	// (see [Options].PayloadCodec); the run is blocked, its error matches
	// [ErrPayloadKey], and it resumes once the engine is opened with the
	// key.
	FailureTypePayloadKey = engine.FailureTypePayloadKey
)
