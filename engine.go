package chorus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/engine"
)

// Engine runs workflows journaled in one store. It is safe for concurrent
// use. Open one per database file and process.
type Engine struct {
	core   *engine.Engine
	store  history.Store
	codec  history.Codec
	props  []ContextPropagator
	ret    *retention // nil without Options.Retention
	queues *queueRunner
}

// Open opens (or creates) the Chorus database at path and recovers the work
// it holds. Register the application's workflows and activities right
// after. Opening a file that is not a Chorus database, or one written by a
// newer Chorus, fails with [ErrNotChorusDatabase] or [ErrSchemaTooNew] and
// leaves the file untouched.
func Open(ctx context.Context, path string, opts *Options) (*Engine, error) {
	o := opts.WithDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, path, &sqlite.Options{Synchronous: o.Synchronous, FileMode: o.FileMode})
	if err != nil {
		return nil, err
	}
	e, err := newEngine(st, o)
	if err != nil {
		return nil, errors.Join(err, st.Close())
	}
	return e, nil
}

// OpenStore starts an engine on a store the caller opened. The engine owns
// the store from then on and closes it in [Engine.Close].
func OpenStore(ctx context.Context, store history.Store, opts *Options) (*Engine, error) {
	o := opts.WithDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	return newEngine(store, o)
}

func newEngine(st history.Store, o *Options) (*Engine, error) {
	// One Codec carries both: every payload path of the engine encodes
	// and decodes through it. Without a PayloadCodec it only tells an
	// encoded payload (of a file written with one) from bytes Codec
	// cannot read, so the run concerned is blocked for want of its key.
	codec := history.WithPayloadCodec(o.Codec, o.PayloadCodec)
	wfs, acts, err := splitDefinitions(o.Definitions)
	if err != nil {
		return nil, err
	}
	core, err := engine.New(engine.Config{
		Store: st, Clock: o.Clock, Codec: codec, Logger: o.Logger, Propagation: propagation(o.ContextPropagators),
		MaxConcurrentActivities: o.MaxConcurrentActivities, CacheSize: o.CacheSize,
		MaxCommitBatch: o.MaxCommitBatch, DefaultActivityOptions: o.DefaultActivityOptions,
		Workflows: wfs, Activities: acts, CheckUpgrade: o.CheckUpgrade, Limits: engine.Limits(*o.Limits),
		DeadlockTimeout: o.DeadlockTimeout, Observer: observer(o.Observer, codec, o.PayloadCodec != nil), ActivityQueues: activityQueues(o.Queues),
	})
	if err != nil {
		return nil, err
	}
	e := &Engine{core: core, store: st, codec: codec, props: o.ContextPropagators}
	e.queues = startQueues(e, o)
	if o.Retention > 0 {
		e.ret = startRetention(st, o.Clock, o.Retention, o.Logger)
	}
	return e, nil
}

// Definition is a workflow or activity definition, as made by workflow.New
// or activity.New.
type Definition interface {
	Name() string
}

// Register makes workflows and activities known to the engine under their
// names. Registering a name twice is an error ([ErrDuplicateRegistration]).
// Work that the journal holds for a name waits until it is registered, so
// register everything right after [Open].
func (e *Engine) Register(defs ...Definition) error {
	wfs, acts, err := splitDefinitions(defs)
	if err != nil {
		return err
	}
	var errs []error
	for _, w := range wfs {
		errs = append(errs, e.core.RegisterWorkflow(w))
	}
	for _, a := range acts {
		errs = append(errs, e.core.RegisterActivity(a))
	}
	e.queues.kick() // queued runs of these workflows may start
	return errors.Join(errs...)
}

// Cancel asks the run to stop: its workflow.Context reports
// workflow.ErrCanceled, its pending activities fail as canceled and their
// running attempts see their context canceled. The workflow code decides
// what to do; returning the cancellation error ends the run as canceled.
// Canceling twice is harmless; canceling an ended run is [ErrRunEnded].
func (e *Engine) Cancel(ctx context.Context, runID string) error {
	if err := checkRunID(runID); err != nil {
		return err
	}
	if done, err := e.cancelQueued(ctx, runID, false, ""); done || err != nil {
		return err
	}
	return publicErr(e.core.Cancel(ctx, runID))
}

// Close stops the engine. Running activity attempts may finish until ctx is
// done; then they are interrupted, without being recorded as failed, and run
// again after the next Open. Every run resumes after the next Open. Close
// closes the store. It returns at most a short grace (200 ms) after ctx is
// done: if something does not stop when interrupted (an activity that
// ignores its context), Close returns an error wrapping ctx.Err() and the
// rest of the shutdown goes on in the background. Give ctx a deadline.
func (e *Engine) Close(ctx context.Context) error {
	e.ret.stop()
	e.queues.stop()
	err := e.core.Close(ctx)
	return errors.Join(err, e.store.Close())
}

// CheckRegistrations reports every workflow and activity name that the
// journal needs and this engine does not know: the workflows of runs that
// have not ended and the activities of pending tasks. Work for such names
// waits until they are registered; call CheckRegistrations after Register
// to find out at start-up rather than from a stalled run. The error joins
// one [*NotRegisteredError] per missing name.
func (e *Engine) CheckRegistrations(ctx context.Context) error {
	missing := map[NotRegisteredError]bool{}
	for _, status := range []RunStatus{StatusRunning, StatusBlocked} {
		after := ""
		for {
			runs, err := e.store.ListRuns(ctx, history.ListFilter{Status: status, AfterID: after, Limit: 1000})
			if err != nil {
				return fmt.Errorf("chorus: check registrations: %w", err)
			}
			for _, r := range runs {
				if r.Damaged != nil {
					continue // its workflow name cannot be trusted; List reports it
				}
				if _, ok := e.core.Workflow(r.Workflow); !ok {
					missing[NotRegisteredError{Kind: "workflow", Name: r.Workflow}] = true
				}
			}
			if len(runs) < 1000 {
				break
			}
			after = runs[len(runs)-1].ID
		}
	}
	tasks, err := e.store.Tasks(ctx)
	if err != nil {
		return fmt.Errorf("chorus: check registrations: %w", err)
	}
	for _, t := range tasks {
		if t.Damaged != nil {
			continue // its name cannot be trusted; Open blocked its run
		}
		if (t.Kind == history.TaskActivity || t.Kind == 0) && !e.core.HasActivity(t.Name) {
			missing[NotRegisteredError{Kind: "activity", Name: t.Name}] = true
		}
	}
	errs := make([]error, 0, len(missing))
	for m := range missing {
		errs = append(errs, &m)
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func splitDefinitions(defs []Definition) (wfs []engine.WorkflowSpec, acts []engine.ActivitySpec, err error) {
	for _, d := range defs {
		switch d := d.(type) {
		case engine.WorkflowSpec:
			wfs = append(wfs, d)
		case engine.ActivitySpec:
			acts = append(acts, d)
		case nil:
			return nil, nil, errors.New("chorus: Register: nil definition")
		default:
			return nil, nil, fmt.Errorf("chorus: Register: %T is neither a workflow (workflow.New) nor an activity (activity.New)", d)
		}
	}
	return wfs, acts, nil
}
