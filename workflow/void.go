package workflow

import (
	"errors"
	"fmt"
)

// NewVoid defines a workflow that returns only an error. It is a workflow
// like any other (registered, started, mocked and run as a child the same
// way) whose result is struct{}:
//
//	var Notify = workflow.NewVoid("notify", func(ctx workflow.Context, u User) error { ... })
//
//	err := workflow.Wait(ctx, workflow.ExecuteChildWorkflow(ctx, Notify, u, nil))
//
// NewVoid panics if name is empty or fn is nil, as [New] does.
func NewVoid[In any](name string, fn func(ctx Context, in In) error) *Definition[In, struct{}] {
	if fn == nil {
		panic(fmt.Sprintf("workflow.NewVoid(%q): nil function", name))
	}
	if name == "" {
		panic("workflow.NewVoid: empty name")
	}
	return New(name, func(ctx Context, in In) (struct{}, error) { return struct{}{}, fn(ctx, in) })
}

// Wait waits until f is ready and returns its error, dropping its value:
// for futures whose value says nothing, such as those of activities and
// workflows defined with NewVoid (activity.NewVoid), timers and signals
// sent with [SignalExternal]. It is f.Get(ctx) without the value.
//
//	if err := workflow.Wait(ctx, workflow.ExecuteActivity(ctx, SendEmail, e)); err != nil {
//		return err
//	}
func Wait[T any](ctx Context, f Future[T]) error {
	if f == nil {
		return errors.New("chorus: workflow.Wait on a nil future")
	}
	_, err := f.Get(ctx)
	return err
}
