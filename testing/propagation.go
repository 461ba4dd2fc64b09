package chorustest

import (
	"context"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// StartContext is [Start] with the values of ctx: the engine's context
// propagators ([Options].Engine.ContextPropagators) read them as from the
// context of chorus.Start, and the run, its activities (mocked or not) and
// its children see them. Only ctx's values count: the call is bounded by
// the env as Start's is.
func StartContext[In, Out any](ctx context.Context, env *Env, wf *workflow.Definition[In, Out], in In, opts *chorus.StartOptions) *chorus.Run[Out] {
	env.t.Helper()
	var run *chorus.Run[Out]
	err := env.call(func(callCtx context.Context) (err error) {
		run, err = chorus.Start(valuesOf{callCtx, ctx}, env.eng, wf, in, opts)
		return err
	})
	if err != nil {
		env.t.Fatalf("chorustest: start workflow %q: %v", wf.Name(), err)
	}
	return run
}

// SignalWithStartContext is [SignalWithStart] with the values of ctx, as
// [StartContext].
func SignalWithStartContext[In, Out, S any](ctx context.Context, env *Env, wf *workflow.Definition[In, Out], in In, opts *chorus.StartOptions,
	sig *workflow.Signal[S], v S) *chorus.Run[Out] {
	env.t.Helper()
	var run *chorus.Run[Out]
	err := env.call(func(callCtx context.Context) (err error) {
		run, err = chorus.SignalWithStart(valuesOf{callCtx, ctx}, env.eng, wf, in, opts, sig, v)
		return err
	})
	if err != nil {
		env.t.Fatalf("chorustest: signal-with-start workflow %q: %v", wf.Name(), err)
	}
	return run
}

// valuesOf is the Context of an env call with the values of another.
type valuesOf struct {
	context.Context
	values context.Context
}

func (c valuesOf) Value(key any) any { return c.values.Value(key) }
