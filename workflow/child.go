package workflow

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// ChildOptions configures [ExecuteChildWorkflow]. A nil *ChildOptions means
// every default.
type ChildOptions struct {
	// ID is the child run's ID. It must not be in use by another run, and
	// follows the rules of chorus.Start's IDs (1 to 255 bytes of UTF-8,
	// no NUL byte): a bad ID fails the child's future at once with a
	// *chorus.RunIDError (failure type "InvalidRunID", not retried) and
	// creates no run. Defaults to the parent's ID, "/", and the step
	// number, which is deterministic; when that would pass 255 bytes, the
	// parent's ID is cut short and followed by "~" and a hash of all of
	// it.
	ID string
	// Detach keeps the child running when the scope it was started in is
	// canceled; its future then fails with [ErrCanceled] at once, and the
	// child is the parent's no more (no ParentClosePolicy applies to it).
	// Defaults to false: canceling the parent asks the child to cancel, and
	// the future reports how the child ended.
	Detach bool
	// ParentClosePolicy says what happens to the child if it is still
	// running when the parent run ends (completes, fails, is canceled or
	// terminated, or continues as new). Defaults to
	// [ParentCloseTerminate], or [ParentCloseAbandon] for a detached child.
	ParentClosePolicy ParentClosePolicy
	// ExecutionTimeout bounds the child run from its start, across its
	// generations; RunTimeout bounds each of its generations. Zero means
	// no bound. They work as chorus.StartOptions' fields of the same
	// names: a child that passes one ends with status timed-out, and its
	// future fails with a [*ChildWorkflowError] of Type "WorkflowTimeout"
	// that matches [ErrWorkflowTimeout]. A negative value fails the future
	// at once with an error naming the field, and starts no child.
	ExecutionTimeout time.Duration
	RunTimeout       time.Duration
}

// ErrWorkflowTimeout is matched (errors.Is) by the [*ChildWorkflowError]
// of a child run that passed its execution or run timeout. It is
// chorus.ErrWorkflowTimeout.
var ErrWorkflowTimeout = engine.ErrWorkflowTimeout

// ParentClosePolicy says what happens to a child run that is still running
// when its parent ends. The policy is applied in the same commit that ends
// the parent, so a crash right after does not lose it.
type ParentClosePolicy uint8

// The parent-close policies.
const (
	// ParentCloseDefault is [ParentCloseTerminate], or [ParentCloseAbandon]
	// for a child started with Detach.
	ParentCloseDefault ParentClosePolicy = iota
	// ParentCloseTerminate terminates the child, which fails with Type
	// "Terminated" naming the parent. A child whose start was issued in
	// the same step that ended the parent is never started.
	ParentCloseTerminate
	// ParentCloseRequestCancel asks the child to cancel, as
	// [chorus.Engine.Cancel] does; the child's code decides what to do.
	ParentCloseRequestCancel
	// ParentCloseAbandon leaves the child running on its own.
	ParentCloseAbandon
)

func (p ParentClosePolicy) String() string {
	switch p {
	case ParentCloseDefault:
		return "default"
	case ParentCloseTerminate:
		return "terminate"
	case ParentCloseRequestCancel:
		return "request-cancel"
	case ParentCloseAbandon:
		return "abandon"
	}
	return fmt.Sprintf("ParentClosePolicy(%d)", uint8(p))
}

// ChildFuture is the future of a child workflow's result.
type ChildFuture[T any] interface {
	Future[T]
	// RunID returns the child run's ID.
	RunID() string
}

// ExecuteChildWorkflow starts wf as a child run with input in and returns a
// future of its result. The start is journaled, and the child is a run like
// any other (it can be looked up, signaled and queried by its ID); when it
// ends, its outcome is journaled in the parent.
func ExecuteChildWorkflow[In, Out any](ctx Context, wf *Definition[In, Out], in In, opts *ChildOptions) ChildFuture[Out] {
	c := mustImpl(ctx)
	defer c.leave()
	var o ChildOptions
	if opts != nil {
		o = *opts
	}
	if o.ParentClosePolicy > ParentCloseAbandon {
		return &childFuture[Out]{err: fmt.Errorf("chorus: child workflow %q: ChildOptions.ParentClosePolicy has unknown value %d", wf.Name(), o.ParentClosePolicy)}
	}
	to := engine.Timeouts{Execution: o.ExecutionTimeout, Run: o.RunTimeout}
	if err := to.Check("ChildOptions"); err != nil {
		return &childFuture[Out]{err: fmt.Errorf("chorus: child workflow %q: %s", wf.Name(), strings.TrimPrefix(err.Error(), "chorus: "))}
	}
	b, err := c.r.Codec().Marshal(in)
	if err != nil {
		return &childFuture[Out]{err: &engine.PayloadError{What: fmt.Sprintf("encode input of child workflow %q", wf.Name()), Err: err}}
	}
	f := c.r.StartChild(c.scope, wf.Name(), o.ID, b, o.Detach, engine.ParentClosePolicy(o.ParentClosePolicy), to)
	return &childFuture[Out]{f: f, name: wf.Name()}
}

type childFuture[T any] struct {
	f    *engine.Future
	name string
	err  error
}

func (c *childFuture[T]) IsReady() bool { return c.err != nil || c.f.Ready() }

func (c *childFuture[T]) RunID() string {
	if c.f == nil {
		return ""
	}
	return c.f.ChildID()
}

func (c *childFuture[T]) Get(ctx Context) (T, error) {
	var out T
	if c.err != nil {
		return out, c.err
	}
	r := mustImpl(ctx).r
	r.Await(c.f.Ready)
	payload, fl := c.f.Outcome()
	if fl != nil {
		return out, &ChildWorkflowError{Workflow: c.name, RunID: c.f.ChildID(), Step: c.f.Step(), failure: fl}
	}
	if err := r.Codec().Unmarshal(payload, &out); err != nil {
		r.Fail(&engine.PayloadError{What: fmt.Sprintf("decode result of child workflow %q (step %d) into %T", c.name, c.f.Step(), out), Err: err})
	}
	return out, nil
}

// ChildWorkflowError is how a child run that did not complete surfaces in
// its parent. It unwraps to [ErrCanceled] when the child was canceled and
// to an [*activity.Error] with the recorded type and message otherwise
// (Type "Terminated" for a terminated child, "ChildIDInUse" when the ID was
// taken).
type ChildWorkflowError struct {
	// Workflow and RunID name the child.
	Workflow string
	RunID    string
	// Step is the parent's journal position where the child was started.
	Step    int64
	failure *history.Failure
}

func (e *ChildWorkflowError) Error() string {
	return fmt.Sprintf("child workflow %q (run %q, step %d) did not complete: %s", e.Workflow, e.RunID, e.Step, e.failure.Message)
}

// Unwrap returns [ErrCanceled] for a canceled child and an [*activity.Error]
// otherwise.
func (e *ChildWorkflowError) Unwrap() error {
	if e.failure.Type == engine.FailureTypeCanceled {
		return ErrCanceled
	}
	return &activity.Error{Type: e.failure.Type, Message: e.failure.Message, NonRetryable: e.failure.NonRetryable}
}

// Failure returns the error's stored form.
func (e *ChildWorkflowError) Failure() *history.Failure { return e.failure }

// ContinueAsNew returns the error that, returned by the workflow function,
// ends the run's current generation and starts it over with input in and an
// empty history, under the same run ID. Use it for workflows that loop
// forever (a subscription, a poller) so their journal stays short. wf must
// be the run's own workflow.
func ContinueAsNew[In, Out any](ctx Context, wf *Definition[In, Out], in In) error {
	c := mustImpl(ctx)
	b, err := c.r.Codec().Marshal(in)
	if err != nil {
		return &engine.PayloadError{What: fmt.Sprintf("encode input of workflow %q to continue as new", wf.Name()), Err: err}
	}
	return &engine.ContinueAsNewError{Workflow: wf.Name(), Input: b}
}

// ContinueAsNewWith is [ContinueAsNew] for the run's own workflow, for code
// that cannot name its definition (a package-level definition cannot refer
// to itself in its own function). in must have the workflow's input type;
// otherwise the run is blocked with an error that says so.
func ContinueAsNewWith[In any](ctx Context, in In) error {
	c := mustImpl(ctx)
	if want := c.inType; want != nil && want != reflect.TypeFor[In]() {
		c.r.Fail(fmt.Errorf("chorus: workflow %q takes %v, but ContinueAsNewWith was given %v", c.r.WorkflowName(), want, reflect.TypeFor[In]()))
	}
	b, err := c.r.Codec().Marshal(in)
	if err != nil {
		return &engine.PayloadError{What: fmt.Sprintf("encode input of workflow %q to continue as new", c.r.WorkflowName()), Err: err}
	}
	return &engine.ContinueAsNewError{Workflow: c.r.WorkflowName(), Input: b}
}

// IsContinueAsNew reports whether err asks to continue the run as new (it
// was returned by [ContinueAsNew] or [ContinueAsNewWith], possibly
// wrapped), for code that must not treat it as a failure.
func IsContinueAsNew(err error) bool {
	var can *engine.ContinueAsNewError
	return errors.As(err, &can)
}
