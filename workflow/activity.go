package workflow

import (
	"fmt"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// Future is the eventual result of an asynchronous operation, such as an
// activity scheduled with [ExecuteActivity].
type Future[T any] interface {
	// Get waits until the result is known and returns it. The wait parks the
	// workflow code; it costs no thread and survives a crash.
	Get(ctx Context) (T, error)
	// IsReady reports whether Get would return without waiting.
	IsReady() bool
}

// ExecuteActivity schedules activity a with input in and returns a future of
// its result. The scheduling is journaled, so on replay the activity is not
// executed again: the future returns the recorded outcome.
//
// The activity runs with the options of ctx ([WithActivityOptions]) laid
// over those of the definition, laid over the engine's defaults. If ctx is
// canceled, no activity is scheduled and the future fails with
// [ErrCanceled].
func ExecuteActivity[In, Out any](ctx Context, a *activity.Definition[In, Out], in In) Future[Out] {
	c := mustImpl(ctx)
	defer c.leave()
	b, err := c.r.Codec().Marshal(in)
	if err != nil {
		return &activityFuture[Out]{err: &engine.PayloadError{What: fmt.Sprintf("encode input of activity %q", a.Name()), Err: err}}
	}
	opts := activity.Merge(a.Options(), c.actOpts)
	return &activityFuture[Out]{f: c.r.ScheduleActivity(c.scope, a.Name(), b, &opts), name: a.Name()}
}

type activityFuture[T any] struct {
	f    *engine.Future
	name string
	err  error
}

func (f *activityFuture[T]) IsReady() bool { return f.err != nil || f.f.Ready() }

func (f *activityFuture[T]) Get(ctx Context) (T, error) {
	var out T
	if f.err != nil {
		return out, f.err
	}
	c := mustImpl(ctx)
	c.r.Await(f.f.Ready)
	payload, fl := f.f.Outcome()
	if fl != nil {
		return out, newActivityError(f.name, f.f.Step(), fl)
	}
	if err := c.r.Codec().Unmarshal(payload, &out); err != nil {
		c.r.Fail(&engine.PayloadError{What: fmt.Sprintf("decode result of activity %q (step %d) into %T", f.name, f.f.Step(), out), Err: err})
	}
	return out, nil
}

// ActivityError is how a failed activity surfaces in workflow code. It
// unwraps to [ErrCanceled] when the activity was canceled, and otherwise to
// an [*activity.Error] with the recorded type and message.
type ActivityError struct {
	// Activity is the activity's registered name.
	Activity string
	// Step is the journal position where it was scheduled.
	Step int64
	// Attempt is the attempt that failed last (0 if none ran).
	Attempt int
	failure *history.Failure
}

func newActivityError(name string, step int64, fl *history.Failure) *ActivityError {
	return &ActivityError{Activity: name, Step: step, Attempt: fl.Attempt, failure: fl}
}

func (e *ActivityError) Error() string {
	if e.failure.Type == engine.FailureTypeCanceled {
		return fmt.Sprintf("activity %q (step %d) canceled", e.Activity, e.Step)
	}
	return fmt.Sprintf("activity %q (step %d) failed after %d attempt(s): %s", e.Activity, e.Step, e.Attempt, e.failure.Message)
}

// Unwrap returns [ErrCanceled] for a canceled activity and an
// [*activity.Error] otherwise.
func (e *ActivityError) Unwrap() error {
	if e.failure.Type == engine.FailureTypeCanceled {
		return ErrCanceled
	}
	return &activity.Error{Type: e.failure.Type, Message: e.failure.Message, NonRetryable: e.failure.NonRetryable}
}

// Failure returns the error's stored form, so a workflow that returns it
// records the activity's failure as its own.
func (e *ActivityError) Failure() *history.Failure { return e.failure }
