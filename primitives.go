package chorus

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/workflow"
)

// ErrUnknownQuery: the run registered no handler for the query.
var ErrUnknownQuery = engine.ErrUnknownQuery

// ErrQueryMisuse: a query handler tried to block or issue a command.
var ErrQueryMisuse = engine.ErrQueryMisuse

// Signal sends sig with value v to the run runID and returns once the signal
// is journaled: the run receives it through workflow.GetSignalChannel, in
// order, exactly once, even if it is not waiting for it yet. Signaling an
// unknown run is [ErrRunNotFound]; an ended run, [ErrRunEnded].
func Signal[T any](ctx context.Context, e *Engine, runID string, sig *workflow.Signal[T], v T) error {
	if err := checkRunID(runID); err != nil {
		return err
	}
	b, err := e.codec.Marshal(v)
	if err != nil {
		return &PayloadError{What: fmt.Sprintf("encode signal %q", sig.Name()), Err: err}
	}
	return publicErr(e.core.Signal(ctx, runID, sig.Name(), b))
}

// SignalWithStart signals the run opts.ID, starting it first with input in
// if it does not exist; a new run and its first signal are committed
// together, and the signal is in the run's channel before its code first
// runs (a workflow that checks its channel without blocking, with
// ReceiveAsync, sees it). It returns a handle to the run either way, also
// when the new run ended in its first step. opts.ID is required;
// opts.IfExists is ignored. A run with that ID that has ended is replaced by
// a new run as opts.IDReusePolicy allows (by default it is); where the
// policy refuses, SignalWithStart fails with [ErrRunEnded].
func SignalWithStart[In, Out, S any](ctx context.Context, e *Engine, wf *workflow.Definition[In, Out], in In, opts *StartOptions,
	sig *workflow.Signal[S], v S) (*Run[Out], error) {
	if opts == nil || opts.ID == "" {
		return nil, errors.New("chorus: SignalWithStart needs StartOptions.ID")
	}
	if err := validateRunID(opts.ID); err != nil {
		return nil, err
	}
	if err := opts.IDReusePolicy.validate(); err != nil {
		return nil, err
	}
	if err := opts.timeouts().Check("StartOptions"); err != nil {
		return nil, err
	}
	if opts.Queue != "" || opts.Priority != 0 || opts.DedupID != "" || opts.PartitionKey != "" || opts.DebounceKey != "" {
		return nil, errors.New("chorus: SignalWithStart does not enqueue: StartOptions.Queue, Priority, DedupID, PartitionKey and DebounceKey must be empty")
	}
	spec, ok := e.core.Workflow(wf.Name())
	if !ok {
		return nil, &NotRegisteredError{Kind: "workflow", Name: wf.Name()}
	}
	payload, err := e.codec.Marshal(in)
	if err != nil {
		return nil, &PayloadError{What: fmt.Sprintf("encode input of workflow %q", wf.Name()), Err: err}
	}
	if ctx, err = e.inject(ctx, opts.ID); err != nil {
		return nil, err
	}
	sb, err := e.codec.Marshal(v)
	if err != nil {
		return nil, &PayloadError{What: fmt.Sprintf("encode signal %q", sig.Name()), Err: err}
	}
	if err := e.core.SignalWithStart(ctx, spec, opts.ID, payload, sig.Name(), sb, engine.IDReusePolicy(opts.IDReusePolicy), opts.timeouts()); err != nil {
		return nil, publicErr(err)
	}
	return Lookup(ctx, e, wf, opts.ID)
}

// Query asks the run runID the query q with argument arg. The run answers
// from memory, or from a replay of its journal when it is not in memory;
// the journal never changes. A query the run has no handler for is
// [ErrUnknownQuery].
func Query[In, Out any](ctx context.Context, e *Engine, runID string, q *workflow.Query[In, Out], arg In) (Out, error) {
	var out Out
	if err := checkRunID(runID); err != nil {
		return out, err
	}
	b, err := e.codec.Marshal(arg)
	if err != nil {
		return out, &PayloadError{What: fmt.Sprintf("encode argument of query %q", q.Name()), Err: err}
	}
	if err := e.core.CheckPayload(runID, b); err != nil {
		return out, publicErr(err)
	}
	ans, err := e.core.Query(ctx, runID, q.Name(), b)
	if err != nil {
		return out, publicErr(err)
	}
	if err := e.codec.Unmarshal(ans, &out); err != nil {
		return out, &PayloadError{What: fmt.Sprintf("decode answer of query %q into %T", q.Name(), out), Err: err}
	}
	return out, nil
}

// Terminate ends the run at once, without running any more of its code, and
// records reason. Pending activities are abandoned (running attempts see
// their context canceled) and its parent, if any, sees the child fail. It
// works on blocked runs. Terminating an ended run is [ErrRunEnded].
func (e *Engine) Terminate(ctx context.Context, runID, reason string) error {
	if err := checkRunID(runID); err != nil {
		return err
	}
	if done, err := e.cancelQueued(ctx, runID, true, reason); done || err != nil {
		return err
	}
	return publicErr(e.core.Terminate(ctx, runID, reason))
}

// Divergence is a run that the registered code no longer replays.
type Divergence struct {
	// RunID and Workflow name the run.
	RunID    string
	Workflow string
	// Err is a [*NonDeterminismError], or the [*VersionError],
	// [*PanicError], [*PayloadError] or [*NotRegisteredError] the replay
	// hit.
	Err error
}

// CheckUpgrade replays every run that has not ended against the registered
// code, changing nothing, and returns the runs that would diverge. Run it
// after deploying new workflow code (or set Options.CheckUpgrade) to learn
// which in-flight runs the change breaks before any of them is resumed.
func (e *Engine) CheckUpgrade(ctx context.Context) ([]Divergence, error) {
	ds, err := e.core.CheckUpgrade(ctx)
	if ds == nil {
		return nil, err
	}
	out := make([]Divergence, len(ds))
	for i, d := range ds {
		out[i] = Divergence{RunID: d.RunID, Workflow: d.Workflow, Err: publicErr(d.Err)}
	}
	return out, err
}
