package chorustest

import (
	"context"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// Start starts a run of wf with input in (see [chorus.Start]) and fails the
// test on error. It returns once the start is durable and the run's code
// has reached its first wait; it does not move the clock.
func Start[In, Out any](env *Env, wf *workflow.Definition[In, Out], in In, opts *chorus.StartOptions) *chorus.Run[Out] {
	env.t.Helper()
	var run *chorus.Run[Out]
	err := env.call(func(ctx context.Context) (err error) {
		run, err = chorus.Start(ctx, env.eng, wf, in, opts)
		return err
	})
	if err != nil {
		env.t.Fatalf("chorustest: start workflow %q: %v", wf.Name(), err)
	}
	return run
}

// SignalWithStart signals the run opts.ID, starting it first if it does not
// exist (see [chorus.SignalWithStart]), and fails the test on error.
func SignalWithStart[In, Out, S any](env *Env, wf *workflow.Definition[In, Out], in In, opts *chorus.StartOptions,
	sig *workflow.Signal[S], v S) *chorus.Run[Out] {
	env.t.Helper()
	var run *chorus.Run[Out]
	err := env.call(func(ctx context.Context) (err error) {
		run, err = chorus.SignalWithStart(ctx, env.eng, wf, in, opts, sig, v)
		return err
	})
	if err != nil {
		env.t.Fatalf("chorustest: signal-with-start workflow %q: %v", wf.Name(), err)
	}
	return run
}

// Result waits until the run ends, skipping fake time whenever nothing is
// in flight (see the package documentation), and returns what
// [chorus.Run.Result] returns: the result, a *chorus.WorkflowError for a
// run that failed or was canceled, a *chorus.BlockedError for a blocked
// one. If the run can no longer end by itself (it waits for a signal and no
// timer or env.At callback is pending), Result returns an error wrapping
// [ErrStalled] instead of waiting forever; if a run of the env waits for an
// activity or child workflow that is neither registered nor mocked, it
// returns at once, before moving the clock, an error that also wraps
// chorus.ErrNotRegistered and names it.
func Result[Out any](env *Env, run *chorus.Run[Out]) (Out, error) {
	env.t.Helper()
	var zero Out
	if err := env.waitRun(run.ID()); err != nil {
		return zero, err
	}
	ctx, cancel := env.context()
	defer cancel()
	return run.Result(ctx)
}

// Signal sends sig with value v to the run runID (see [chorus.Signal]) and
// fails the test on error. It returns once the signal is journaled, without
// waiting for the run to react and without moving the clock. To test the
// errors of signaling, call chorus.Signal on [Env.Engine].
func Signal[T any](env *Env, runID string, sig *workflow.Signal[T], v T) {
	env.t.Helper()
	err := env.call(func(ctx context.Context) error { return chorus.Signal(ctx, env.eng, runID, sig, v) })
	if err != nil {
		env.t.Fatalf("chorustest: signal %q to run %q: %v", sig.Name(), runID, err)
	}
}

// Query waits until the env has settled at the current fake time (see
// [Env.Settle]), so the answer does not depend on how fast the engine went,
// then asks the run q with argument arg (see [chorus.Query]).
func Query[In, Out any](env *Env, runID string, q *workflow.Query[In, Out], arg In) (Out, error) {
	env.t.Helper()
	env.Settle()
	var out Out
	err := env.call(func(ctx context.Context) (err error) {
		out, err = chorus.Query(ctx, env.eng, runID, q, arg)
		return err
	})
	return out, err
}
