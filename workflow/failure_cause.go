package workflow

import "github.com/chorusdev/chorus/internal/engine"

// Is reports whether the error the activity failed with, as the engine
// rebuilds it from the journal, matches target: for a result over the
// payload limit, errors.Is(err, chorus.ErrLimitExceeded) is true.
func (e *ActivityError) Is(target error) bool { return engine.FailureCauseIs(e.failure, target) }

// As finds target in the error the activity failed with, as the engine
// rebuilds it from the journal: for a result over the payload limit,
// errors.As(err, &limitErr) finds the *chorus.LimitError.
func (e *ActivityError) As(target any) bool { return engine.FailureCauseAs(e.failure, target) }

// Is is [ActivityError.Is] for the child's failure.
func (e *ChildWorkflowError) Is(target error) bool { return engine.FailureCauseIs(e.failure, target) }

// As is [ActivityError.As] for the child's failure.
func (e *ChildWorkflowError) As(target any) bool { return engine.FailureCauseAs(e.failure, target) }
