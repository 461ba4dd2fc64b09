package engine

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// How errors are recorded as a history.Failure, and read back.

// Failure types with a meaning of their own.
const (
	FailureTypeCanceled = activity.TypeCanceled
	FailureTypeTimeout  = activity.TypeStartToCloseTimeout
	// FailureTypeHeartbeatTimeout marks an attempt stopped for lack of
	// heartbeats.
	FailureTypeHeartbeatTimeout = activity.TypeHeartbeatTimeout
	FailureTypePanic            = activity.TypePanic
	// FailureTypeRunNotFound and FailureTypeRunEnded mark a signal sent
	// by a workflow to a run that does not exist or has ended.
	FailureTypeRunNotFound = activity.TypeRunNotFound
	FailureTypeRunEnded    = activity.TypeRunEnded
	// FailureTypeTerminated marks a child run that was terminated.
	FailureTypeTerminated = activity.TypeTerminated
	// FailureTypeNonDeterminism marks a blocked run's reason; Details holds
	// the *NonDeterminismError as JSON.
	FailureTypeNonDeterminism = "NonDeterminism"
)

// FailureTypeDeadlock and FailureTypeGoroutine mark a run blocked by a
// *DeadlockError or a *GoroutineError; Details holds the error as JSON.
const (
	FailureTypeDeadlock  = "Deadlock"
	FailureTypeGoroutine = "ForeignGoroutine"
)

// FailureTypePayloadKey marks a run blocked because a payload of its
// journal cannot be decoded for want of its key (history.ErrPayloadKey).
const FailureTypePayloadKey = "PayloadKeyUnavailable"

// FailureTypeWorkflowPanic marks a run blocked by a panic in workflow code;
// Details holds the panic value's text and the stack as JSON.
const FailureTypeWorkflowPanic = "WorkflowPanic"

type panicDetails struct {
	Value string `json:"value"`
	Stack string `json:"stack"`
}

// BlockedCause rebuilds the error that blocked a run, or that an activity
// or run failed with, from its stored form: a *NonDeterminismError, a
// *PanicError (whose Value is then the panic value's text), a *LimitError,
// a *RunIDError, a *DeadlockError or a *GoroutineError, or nil for other
// reasons.
func BlockedCause(f *history.Failure) error {
	if f == nil {
		return nil
	}
	switch f.Type {
	case FailureTypeNonDeterminism:
		var nde NonDeterminismError
		if json.Unmarshal(f.Details, &nde) == nil {
			return &nde
		}
	case FailureTypeWorkflowPanic:
		var pd panicDetails
		if json.Unmarshal(f.Details, &pd) == nil {
			return &PanicError{Value: pd.Value, Stack: pd.Stack}
		}
	case FailureTypeCorrupt:
		return history.ErrCorrupt
	case FailureTypePayloadKey:
		return history.ErrPayloadKey
	case FailureTypeLimitExceeded:
		var le LimitError
		if json.Unmarshal(f.Details, &le) == nil && le.Limit != "" {
			return &le
		}
	case FailureTypeWorkflowTimeout:
		return workflowTimeoutCause(f)
	case FailureTypeInvalidRunID:
		var ie RunIDError
		if json.Unmarshal(f.Details, &ie) == nil && ie.Reason != "" {
			return &ie
		}
	case FailureTypeUnsupportedVersion:
		var ve VersionError
		if json.Unmarshal(f.Details, &ve) == nil && ve.ChangeID != "" {
			return &ve
		}
	case FailureTypeDeadlock:
		var de DeadlockError
		if json.Unmarshal(f.Details, &de) == nil {
			return &de
		}
	case FailureTypeGoroutine:
		var ge GoroutineError
		if json.Unmarshal(f.Details, &ge) == nil {
			return &ge
		}
	}
	return nil
}

// Failurer is implemented by errors that were rebuilt from the journal, so
// that recording them again keeps their original form.
type Failurer interface {
	Failure() *history.Failure
}

// FailureOf converts an error to its stored form.
func FailureOf(err error) *history.Failure {
	if err == nil {
		return nil
	}
	if fr, ok := err.(Failurer); ok {
		return fr.Failure()
	}
	f := &history.Failure{Message: err.Error(), Type: activity.TypeOf(err), NonRetryable: activity.IsNonRetryable(err)}
	var te *TimeoutError
	var pe *ActivityPanicError
	var nde *NonDeterminismError
	var wp *PanicError
	var le *LimitError
	var ie *RunIDError
	var de *DeadlockError
	var ge *GoroutineError
	var ve *VersionError
	switch {
	case errors.As(err, &ve):
		f.Type = FailureTypeUnsupportedVersion
		f.Details, _ = json.Marshal(ve) // plain strings and numbers
	case errors.As(err, &de):
		f.Type = FailureTypeDeadlock
		f.Details, _ = json.Marshal(de)
	case errors.As(err, &ge):
		f.Type = FailureTypeGoroutine
		f.Details, _ = json.Marshal(ge)
	case errors.As(err, &nde):
		f.Type = FailureTypeNonDeterminism
		f.Details, _ = json.Marshal(nde) // plain strings and numbers
	case errors.As(err, &wp):
		f.Type = FailureTypeWorkflowPanic
		f.Details, _ = json.Marshal(panicDetails{Value: fmt.Sprint(wp.Value), Stack: wp.Stack})
	case errors.Is(err, ErrCanceled):
		f.Type = FailureTypeCanceled
	case errors.As(err, &te) && te.Heartbeat:
		f.Type = FailureTypeHeartbeatTimeout
	case errors.As(err, &te):
		f.Type = FailureTypeTimeout
	case errors.As(err, &pe):
		f.Type = FailureTypePanic
	case errors.As(err, &le):
		f.Type, f.NonRetryable = FailureTypeLimitExceeded, true
		f.Details, _ = json.Marshal(le) // plain strings and numbers
	case errors.As(err, &ie):
		f.Type, f.NonRetryable = FailureTypeInvalidRunID, true
		f.Details, _ = json.Marshal(ie) // a cut ID and plain fields
	case errors.Is(err, history.ErrCorrupt):
		f.Type = FailureTypeCorrupt
	case errors.Is(err, history.ErrPayloadKey):
		f.Type = FailureTypePayloadKey
	}
	var fr Failurer
	if errors.As(err, &fr) && any(fr) != any(err) {
		f.Cause = fr.Failure()
	}
	return f
}
