package workflow

import (
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
	// Err returns [ErrCanceled] once the run was canceled, and nil before.
	Err() error

	impl() *wfContext
}

type wfContext struct {
	r       *engine.Run
	scope   *engine.Scope
	parent  *wfContext
	key     any
	val     any
	actOpts *activity.Options
}

func (c *wfContext) impl() *wfContext { return c }

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

func (c *wfContext) child() *wfContext {
	n := *c
	n.parent, n.key, n.val = c, nil, nil
	return &n
}

func mustImpl(ctx Context) *wfContext {
	if ctx == nil {
		panic("chorus: nil workflow.Context")
	}
	return ctx.impl()
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
