package workflow

import (
	"reflect"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/engine"
)

// ErrCanceled is returned by [Context.Err] and by pending futures after the
// run was canceled. Return it (or an error wrapping it) from the workflow to
// end the run as canceled.
var ErrCanceled = engine.ErrCanceled

// Context is the context of workflow code. It is not a context.Context: it
// only works inside the workflow function (and the code it calls) while the
// engine executes it, and every blocking call takes it so the engine can
// schedule the code deterministically.
type Context interface {
	// Value returns the value attached to key with [WithValue], or nil.
	Value(key any) any
	// Err returns [ErrCanceled] once the context was canceled (the run was
	// canceled, or the CancelFunc of [WithCancel] was called), and nil
	// before.
	Err() error
	// Done returns a channel that is closed when the context is canceled,
	// for use in a [Selector].
	Done() ReceiveChannel[struct{}]

	impl() *wfContext
}

type wfContext struct {
	r       *engine.Run
	scope   *engine.Scope
	parent  *wfContext
	key     any
	val     any
	actOpts *activity.Options
	inType  reflect.Type // the workflow's input type, for ContinueAsNewWith
}

func (c *wfContext) impl() *wfContext { return c }

// leave publishes what a workflow call changed in the run's state, so that
// code which gets stuck right after it is no data race with the scheduler
// that abandons it (see engine.Run.Guard).
func (c *wfContext) leave() { c.r.Guard("the workflow API") }

func (c *wfContext) Value(key any) any {
	for x := c; x != nil; x = x.parent {
		if x.key != nil && x.key == key {
			return x.val
		}
	}
	return nil
}

func (c *wfContext) Err() error {
	if c.scope.Canceled() {
		return ErrCanceled
	}
	return nil
}

func (c *wfContext) Done() ReceiveChannel[struct{}] { return doneChannel{c} }

// doneChannel is the channel of Context.Done: closed once the scope is
// canceled.
type doneChannel struct{ c *wfContext }

func (d doneChannel) IsReady() bool { return d.c.scope.Canceled() }
func (d doneChannel) Len() int      { return 0 }

// closedAndDrained makes a selector consume a Done case once it fired.
func (d doneChannel) closedAndDrained() bool { return d.IsReady() }
func (d doneChannel) Receive(ctx Context) (struct{}, bool) {
	mustImpl(ctx).r.Await(d.IsReady)
	return struct{}{}, false
}
func (d doneChannel) ReceiveAsync() (struct{}, bool) { return struct{}{}, false }

// ReceiveWithTimeout waits until the context is canceled or timeout passed;
// ok reports whether it was canceled.
func (d doneChannel) ReceiveWithTimeout(ctx Context, timeout time.Duration) (struct{}, bool) {
	return struct{}{}, receiveOrTimeout(ctx, d, timeout)
}

func (c *wfContext) child() *wfContext {
	n := *c
	n.parent, n.key, n.val = c, nil, nil
	return &n
}

func mustImpl(ctx Context) *wfContext {
	if ctx == nil {
		panic("chorus: nil workflow.Context")
	}
	c := ctx.impl()
	// A goroutine of the code's own making (the go statement) is stopped
	// here, before it touches the run; see workflow.Go.
	c.r.Guard("the workflow API")
	return c
}

// WithValue returns a copy of ctx that carries val under key. Keys compare
// like context.Context keys; use an unexported type.
func WithValue(ctx Context, key, val any) Context {
	if key == nil {
		panic("chorus: workflow.WithValue with nil key")
	}
	c := mustImpl(ctx).child()
	c.key, c.val = key, val
	return c
}

// WithActivityOptions returns a copy of ctx under which activities run with
// opts. Fields set in opts override the activity definition's options, which
// override the engine's defaults.
func WithActivityOptions(ctx Context, opts activity.Options) Context {
	c := mustImpl(ctx).child()
	merged := activity.Merge(c.actOpts, &opts)
	c.actOpts = &merged
	return c
}

// Info describes the run that workflow code belongs to.
type Info struct {
	// RunID is the run's ID.
	RunID string
	// Workflow is the registered name of its workflow.
	Workflow string
}

// GetInfo returns the [Info] of the run ctx belongs to.
func GetInfo(ctx Context) Info {
	c := mustImpl(ctx)
	return Info{RunID: c.r.ID(), Workflow: c.r.WorkflowName()}
}

// Now returns the run's deterministic time: when the input being processed
// was recorded. It is the same on every replay; use it instead of time.Now.
func Now(ctx Context) time.Time {
	return mustImpl(ctx).r.Now()
}

// IsReplaying reports whether the code is re-executing steps that the
// journal already holds. Use it to avoid repeating side effects such as
// logging.
func IsReplaying(ctx Context) bool {
	return mustImpl(ctx).r.IsReplaying()
}

// CancelFunc cancels the context [WithCancel] returned.
type CancelFunc func()

// WithCancel returns a copy of ctx with its own cancellation scope and a
// function that cancels it: activities, timers and child workflows started
// under it are canceled, and its Err reports [ErrCanceled]. Canceling the
// run cancels it too.
func WithCancel(ctx Context) (Context, CancelFunc) {
	c := mustImpl(ctx).child()
	c.scope = engine.NewScope(c.scope)
	s, r := c.scope, c.r
	return c, func() {
		r.Guard("a workflow.CancelFunc")
		r.CancelScope(s)
		r.Guard("a workflow.CancelFunc")
	}
}

// NewDisconnectedContext returns a context that keeps ctx's values and
// activity options but not its cancellation: cleanup work (compensations,
// releasing a reservation) started under it runs even after the run was
// canceled.
func NewDisconnectedContext(ctx Context) Context {
	c := mustImpl(ctx).child()
	c.scope = engine.NewScope(nil)
	return c
}

// Go starts fn as a workflow goroutine. Workflow goroutines run one at a
// time, in a fixed order, and only switch at blocking workflow calls, so
// they stay deterministic under replay. Use them instead of the go
// statement: a goroutine started with the go statement that calls the
// workflow API is stopped at that call (with runtime.Goexit) and the run is
// blocked with a *chorus.GoroutineError.
func Go(ctx Context, fn func(ctx Context)) {
	c := mustImpl(ctx)
	defer c.leave()
	c.r.Spawn(func() { fn(c) })
}

// Await blocks until cond returns true. cond is evaluated whenever the run
// made progress; it must only read workflow state.
func Await(ctx Context, cond func() bool) {
	mustImpl(ctx).r.Await(cond)
}

// RunValue returns the value stored under key for the current run with
// [SetRunValue], or nil. Unlike [WithValue], which a context passes to the
// code it is given to, a run value is found from any context of the run:
// libraries built on the workflow API (package human, say) keep their
// per-run state with it. It belongs to the run's current generation: a
// run that continued as new starts without values.
func RunValue(ctx Context, key any) any {
	c := ctx.impl()
	defer c.leave()
	return c.r.Local(key)
}

// SetRunValue stores v under key for the current run (see [RunValue]).
// The workflow code that stores it runs again when the run is replayed, so
// the value is rebuilt like the rest of the code's state; it must be set
// the same way on every replay, as any workflow state is. key should be a
// value of an unexported type of the library that uses it, as with
// [WithValue].
func SetRunValue(ctx Context, key, v any) {
	c := ctx.impl()
	defer c.leave()
	c.r.SetLocal(key, v)
}
