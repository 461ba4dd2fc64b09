package chorus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/workflow"
)

// MaxRunIDLength is the longest run ID accepted, in bytes (255).
const MaxRunIDLength = engine.MaxRunIDLength

// IfExists says what [Start] does when a run with the requested ID exists.
type IfExists uint8

const (
	// FailIfExists makes Start return an error wrapping [ErrRunExists].
	FailIfExists IfExists = iota
	// AttachIfExists makes Start return a handle to the existing run, which
	// must be of the same workflow. Its input is ignored.
	AttachIfExists
)

// StartOptions configures [Start]. A nil *StartOptions means every default.
type StartOptions struct {
	// ID identifies the run. Two runs with the same ID never run at the
	// same time, and a new run takes the ID of an ended one only where
	// IDReusePolicy allows it. At most [MaxRunIDLength] bytes of UTF-8.
	// Defaults to a random UUID.
	// An ID that breaks these rules (or holds a NUL byte) gets a
	// [*RunIDError].
	ID string
	// IfExists says what happens when a run with ID exists already and
	// IDReusePolicy does not let a new run take its ID. Defaults to
	// [FailIfExists].
	IfExists IfExists
	// IDReusePolicy says whether a new run may take the ID of a run that
	// exists. Defaults to [IDReuseRejectDuplicate] for [Start] (starting
	// twice with the same ID never runs the workflow twice) and to
	// [IDReuseAllowDuplicate] for [SignalWithStart] (a signal to an ended
	// run starts a new one).
	IDReusePolicy IDReusePolicy
	// ExecutionTimeout bounds the whole run from its start, across every
	// generation (continue-as-new keeps the deadline). RunTimeout bounds
	// each generation from its own start (continue-as-new starts it
	// over). Zero means no bound; a negative value is an error naming
	// the field. When a deadline passes, the engine ends the run as it
	// would a termination (its pending activities and timers are
	// dropped, its children follow their parent-close policies) with
	// status [StatusTimedOut]; [Run.Result] then returns a
	// [*WorkflowError] with TimedOut set, Type [FailureTypeWorkflowTimeout]
	// and errors.Is(err, [ErrWorkflowTimeout]) true. The deadline is
	// journaled with the start, so it holds across restarts, and it is
	// measured on the engine's clock ([Options].Clock).
	ExecutionTimeout time.Duration
	RunTimeout       time.Duration
}

func (o *StartOptions) timeouts() engine.Timeouts {
	return engine.Timeouts{Execution: o.ExecutionTimeout, Run: o.RunTimeout}
}

// IDReusePolicy says whether a new run may take the ID of a run that exists.
// A new run that takes the ID of an ended one replaces it: handles, Describe,
// Result, Signal and the other calls by ID reach the new run, and the ended
// run's events stay in the journal before the new run's RunStarted, where
// [History] shows them.
type IDReusePolicy uint8

// The ID reuse policies.
const (
	// IDReuseDefault is [IDReuseRejectDuplicate] for [Start] and
	// [IDReuseAllowDuplicate] for [SignalWithStart].
	IDReuseDefault IDReusePolicy = iota
	// IDReuseAllowDuplicate lets a new run take the ID of a run that has
	// ended, however it ended (Temporal's default).
	IDReuseAllowDuplicate
	// IDReuseAllowDuplicateFailedOnly lets a new run take the ID of a run
	// that failed, was canceled or was terminated, not of one that
	// completed.
	IDReuseAllowDuplicateFailedOnly
	// IDReuseRejectDuplicate never lets a new run take the ID of a run
	// that exists: Start fails with [ErrRunExists] (or attaches, with
	// [AttachIfExists]); SignalWithStart to an ended run fails with
	// [ErrRunEnded].
	IDReuseRejectDuplicate
	// IDReuseTerminateIfRunning is [IDReuseAllowDuplicate] that, for
	// [Start], also terminates a run with the ID that has not ended (or is
	// blocked), in the same commit that starts the new run. SignalWithStart
	// signals a run that has not ended, whatever the policy.
	IDReuseTerminateIfRunning
)

func (p IDReusePolicy) String() string {
	switch p {
	case IDReuseDefault:
		return "default"
	case IDReuseAllowDuplicate:
		return "allow-duplicate"
	case IDReuseAllowDuplicateFailedOnly:
		return "allow-duplicate-failed-only"
	case IDReuseRejectDuplicate:
		return "reject-duplicate"
	case IDReuseTerminateIfRunning:
		return "terminate-if-running"
	}
	return fmt.Sprintf("IDReusePolicy(%d)", uint8(p))
}

func (p IDReusePolicy) validate() error {
	if p > IDReuseTerminateIfRunning {
		return fmt.Errorf("chorus: StartOptions.IDReusePolicy has unknown value %d", uint8(p))
	}
	return nil
}

// validateRunID returns a [*RunIDError] (wrapping [ErrInvalidRunID]) if id
// breaks the rules of run IDs; its text quotes a bounded prefix of id.
func validateRunID(id string) error { return publicErr(engine.ValidateRunID(id)) }

// Run is a handle to a run whose workflow returns Out.
type Run[Out any] struct {
	e        *Engine
	id       string
	workflow string
}

// Start records a new run of workflow wf with input in and executes it up
// to its first wait. It returns once the start is durable.
func Start[In, Out any](ctx context.Context, e *Engine, wf *workflow.Definition[In, Out], in In, opts *StartOptions) (*Run[Out], error) {
	var o StartOptions
	if opts != nil {
		o = *opts
	}
	if o.ID == "" {
		o.ID = uuid.NewString()
	}
	if err := validateRunID(o.ID); err != nil {
		return nil, err
	}
	if o.IfExists > AttachIfExists {
		return nil, fmt.Errorf("chorus: StartOptions.IfExists has unknown value %d", o.IfExists)
	}
	if err := o.IDReusePolicy.validate(); err != nil {
		return nil, err
	}
	if err := o.timeouts().Check("StartOptions"); err != nil {
		return nil, err
	}
	spec, ok := e.core.Workflow(wf.Name())
	if !ok {
		return nil, &NotRegisteredError{Kind: "workflow", Name: wf.Name()}
	}
	ctx, err := e.inject(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	payload, err := e.codec.Marshal(in)
	if err != nil {
		return nil, &PayloadError{What: fmt.Sprintf("encode input of workflow %q", wf.Name()), Err: err}
	}
	err = e.core.Start(ctx, spec, o.ID, payload, engine.IDReusePolicy(o.IDReusePolicy), o.timeouts())
	if errors.Is(err, ErrRunExists) && o.IfExists == AttachIfExists {
		return Lookup(ctx, e, wf, o.ID)
	}
	if err != nil {
		return nil, publicErr(err)
	}
	return &Run[Out]{e: e, id: o.ID, workflow: wf.Name()}, nil
}

// Lookup returns a handle to an existing run of workflow wf, for example one
// started by an earlier process. It fails with [ErrRunNotFound] for an
// unknown ID, and with an error naming both workflows if the run belongs to
// another one.
func Lookup[In, Out any](ctx context.Context, e *Engine, wf *workflow.Definition[In, Out], id string) (*Run[Out], error) {
	if err := checkRunID(id); err != nil {
		return nil, err
	}
	info, err := e.store.Run(ctx, id)
	if err != nil {
		return nil, e.closedErr(err)
	}
	if info.Workflow != wf.Name() {
		return nil, fmt.Errorf("chorus: run %q belongs to workflow %q, not %q", id, info.Workflow, wf.Name())
	}
	return &Run[Out]{e: e, id: id, workflow: info.Workflow}, nil
}

// ID returns the run's ID.
func (r *Run[Out]) ID() string { return r.id }

// Result waits until the run ends and returns its result. A failed or
// canceled run returns a [*WorkflowError]; a blocked run returns a
// [*BlockedError] at once rather than waiting for a fix.
func (r *Run[Out]) Result(ctx context.Context) (Out, error) {
	var out Out
	if err := r.e.core.WaitResume(ctx, r.id); err != nil {
		return out, err
	}
	ch, stop, running := r.e.core.WatchRunning(r.id)
	defer stop()
	// A run running in this engine is sure to report its outcome on ch:
	// no need to read the store first.
	info := history.RunInfo{ID: r.id, Workflow: r.workflow, Status: history.StatusRunning}
	if !running {
		var err error
		if info, err = r.e.store.Run(ctx, r.id); err != nil {
			return out, r.e.closedErr(err)
		}
	}
	if info.Status == history.StatusRunning {
		select {
		case o := <-ch:
			info.Status, info.Result, info.Failure = o.Status, o.Result, o.Failure
			if o.Workflow != "" {
				info.Workflow = o.Workflow
			}
			if o.Status == history.StatusBlocked {
				return out, blockedError(r.id, o.Blocked)
			}
		case <-ctx.Done():
			return out, ctx.Err()
		case <-r.e.core.Closed():
			return out, ErrEngineClosed
		}
	}
	if err := r.e.runError(info); err != nil {
		return out, err
	}
	if err := r.e.codec.Unmarshal(info.Result, &out); err != nil {
		return out, &PayloadError{What: fmt.Sprintf("decode result of run %q into %T", r.id, out), Err: err}
	}
	return out, nil
}

// Cancel asks the run to stop; see [Engine.Cancel].
func (r *Run[Out]) Cancel(ctx context.Context) error { return r.e.Cancel(ctx, r.id) }

// Describe returns the run's current state; see [Engine.Describe].
func (r *Run[Out]) Describe(ctx context.Context) (RunInfo, error) { return r.e.Describe(ctx, r.id) }
