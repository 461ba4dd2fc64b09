package saga

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// ErrCompensationStarted is returned when a compensation is added, or
// Compensate is called, after the saga started compensating.
var ErrCompensationStarted = errors.New("saga: compensation already started")

// The names of the markers a saga records in the journal; see the package
// documentation for their meaning and [MarkerDetails] for their details.
const (
	MarkerStart   = "saga.compensation.start"
	MarkerDone    = "saga.compensation.done"
	MarkerFailed  = "saga.compensation.failed"
	MarkerSkipped = "saga.compensation.skipped"
)

// The kinds of compensation, as recorded in [MarkerDetails].Kind.
const (
	KindActivity      = "activity"
	KindChildWorkflow = "child-workflow"
	KindFunc          = "func"
)

// MarkerDetails is the details of every marker a saga records. The field
// names and their JSON form are part of the journal format.
type MarkerDetails struct {
	// Saga is the saga's [Options].Name, empty if it has none.
	Saga string `json:"saga,omitempty"`
	// Index is the compensation's position in the order compensations were
	// added, from 0.
	Index int `json:"index"`
	// Step is the compensation's name: the activity's or child workflow's
	// registered name, or the name given to [AddFunc].
	Step string `json:"step"`
	// Kind is [KindActivity], [KindChildWorkflow] or [KindFunc].
	Kind string `json:"kind"`
	// Error is the failure's text, in [MarkerFailed] markers only.
	Error string `json:"error,omitempty"`
}

// Options configures a [Saga]. A nil *Options means every default.
type Options struct {
	// Name identifies the saga in its journal markers, to tell apart
	// several sagas of one workflow. Defaults to "" (no name).
	Name string
	// Parallel starts every compensation at once, as workflow goroutines,
	// and waits for all of them, instead of running them one after the
	// other. Defaults to false: one at a time, the last one added first.
	Parallel bool
	// MaxParallel caps how many compensations run at once when Parallel is
	// set; the others start, in reverse order of addition, as running ones
	// finish. It must not be negative, and only applies with Parallel.
	// Defaults to 0: no cap.
	MaxParallel int
	// ContinueOnError runs every compensation even after one failed, and
	// reports all the failures together. Defaults to false: once a
	// compensation fails no further compensation is started (with
	// Parallel, the ones already running finish) and the rest are skipped.
	ContinueOnError bool
}

// Validate returns an error naming the first invalid field, or nil.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	switch {
	case o.MaxParallel < 0:
		return fmt.Errorf("saga: Options.MaxParallel is negative (%d)", o.MaxParallel)
	case o.MaxParallel > 0 && !o.Parallel:
		return fmt.Errorf("saga: Options.MaxParallel is %d but Parallel is not set", o.MaxParallel)
	}
	return nil
}

type state uint8

const (
	stateOpen state = iota
	stateCompensating
	stateDone
)

// step is one registered compensation.
type step struct {
	name string
	kind string
	run  func(ctx workflow.Context) error
}

// Saga collects the compensations of a workflow's completed steps and runs
// them when the workflow fails. Create one with [New] inside workflow code;
// it belongs to that run and, like the rest of its state, is rebuilt on
// replay.
type Saga struct {
	ctx   workflow.Context
	opts  Options
	steps []step
	state state
}

// New returns an empty saga for the workflow code running under ctx. It
// panics if opts is not valid (see [Options.Validate]): in workflow code
// that blocks the run until the code is fixed.
func New(ctx workflow.Context, opts *Options) *Saga {
	if ctx == nil {
		panic("saga.New: nil workflow.Context")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	s := &Saga{ctx: ctx}
	if opts != nil {
		s.opts = *opts
	}
	return s
}

func (s *Saga) add(st step) error {
	if s.state != stateOpen {
		return fmt.Errorf("%w: cannot add compensation %q", ErrCompensationStarted, st.name)
	}
	s.steps = append(s.steps, st)
	return nil
}

// Add registers activity a, called with input in, as the compensation of
// the step that just succeeded. Its result is ignored. It fails with
// [ErrCompensationStarted] once the saga started compensating.
func Add[In, Out any](s *Saga, a *activity.Definition[In, Out], in In) error {
	if a == nil {
		return errors.New("saga.Add: nil activity definition")
	}
	return s.add(step{name: a.Name(), kind: KindActivity, run: func(ctx workflow.Context) error {
		_, err := workflow.ExecuteActivity(ctx, a, in).Get(ctx)
		return err
	}})
}

// AddChild registers child workflow wf, started with input in and opts, as
// a compensation; it compensates when the child completes, and fails when
// the child fails. Its result is ignored. It fails with
// [ErrCompensationStarted] once the saga started compensating.
func AddChild[In, Out any](s *Saga, wf *workflow.Definition[In, Out], in In, opts *workflow.ChildOptions) error {
	if wf == nil {
		return errors.New("saga.AddChild: nil workflow definition")
	}
	return s.add(step{name: wf.Name(), kind: KindChildWorkflow, run: func(ctx workflow.Context) error {
		_, err := workflow.ExecuteChildWorkflow(ctx, wf, in, opts).Get(ctx)
		return err
	}})
}

// AddFunc registers workflow code as a compensation, for one that is more
// than a single activity or child (several activities, a signal to another
// run). fn runs in the workflow, under the same rules as any workflow code,
// with the saga's disconnected context; its error fails the compensation.
// name appears in the journal markers. It fails with
// [ErrCompensationStarted] once the saga started compensating.
func AddFunc(s *Saga, name string, fn func(ctx workflow.Context) error) error {
	switch {
	case name == "":
		return errors.New("saga.AddFunc: empty name")
	case fn == nil:
		return fmt.Errorf("saga.AddFunc(%q): nil function", name)
	}
	return s.add(step{name: name, kind: KindFunc, run: fn})
}

// Compensate runs the registered compensations, in a context disconnected
// from ctx's cancellation (values and activity options are kept), and
// returns nil when every one completed, or a [*CompensationError]. A saga
// with nothing to compensate does nothing and returns nil. Once called, the
// saga accepts no more compensations, and calling Compensate again returns
// an error wrapping [ErrCompensationStarted].
func (s *Saga) Compensate(ctx workflow.Context) error {
	// While the engine tears the run down (termination, eviction, a blocked
	// run) deferred workflow code must not issue commands: Await exits the
	// calling coroutine at once in that case (engine behaviour this relies
	// on), and returns at once otherwise.
	workflow.Await(ctx, func() bool { return true })
	if s.state != stateOpen {
		return fmt.Errorf("%w: Compensate was called before", ErrCompensationStarted)
	}
	s.state = stateCompensating
	defer func() { s.state = stateDone }()
	if len(s.steps) == 0 {
		return nil
	}
	cctx := workflow.NewDisconnectedContext(ctx)
	var ce *CompensationError
	if s.opts.Parallel {
		ce = s.parallel(cctx)
	} else {
		ce = s.sequential(cctx)
	}
	if ce != nil {
		ce.total = len(s.steps)
		return ce
	}
	return nil
}

// CompensateOnError is meant to be deferred with a pointer to the
// workflow's named error result:
//
//	defer s.CompensateOnError(&err)
//
// When *errp is not nil it compensates, with the context given to [New],
// and sets *errp to an error that keeps *errp in its chain (so errors.Is
// and errors.As still find it, including workflow.ErrCanceled) and adds the
// outcome: "; saga compensated N step(s)", or the [*CompensationError],
// which errors.As finds too. It does nothing when errp or *errp is nil,
// when *errp continues the run as new, when the saga has nothing to
// compensate or was compensated already, and when it runs while the
// function unwinds from a panic (the panic goes on) or because the engine
// tears the run down. Defer it directly, not from a closure, so that it can
// tell a panic from a return.
func (s *Saga) CompensateOnError(errp *error) {
	if p := recover(); p != nil {
		// A panic blocks the run until the code is fixed; compensating now
		// would journal steps that the fixed code may not issue.
		panic(p)
	}
	if errp == nil || *errp == nil || s.state != stateOpen {
		return
	}
	if isContinueAsNew(*errp) {
		return
	}
	n := len(s.steps)
	cerr := s.Compensate(s.ctx)
	if n == 0 {
		return
	}
	*errp = &compensatedError{err: *errp, comp: cerr, steps: n}
}

func isContinueAsNew(err error) bool { return workflow.IsContinueAsNew(err) }

func (s *Saga) details(i int, err error) MarkerDetails {
	d := MarkerDetails{Saga: s.opts.Name, Index: i, Step: s.steps[i].name, Kind: s.steps[i].kind}
	if err != nil {
		d.Error = err.Error()
	}
	return d
}

// runStep runs compensation i between its start marker and its outcome
// marker.
func (s *Saga) runStep(ctx workflow.Context, i int) error {
	st := s.steps[i]
	log := workflow.Logger(ctx).With("saga", s.opts.Name, "index", i, "step", st.name, "kind", st.kind)
	workflow.RecordMarker(ctx, MarkerStart, s.details(i, nil))
	log.Info("saga: compensating")
	err := st.run(ctx)
	if err != nil {
		workflow.RecordMarker(ctx, MarkerFailed, s.details(i, err))
		log.Warn("saga: compensation failed", "err", err)
		return err
	}
	workflow.RecordMarker(ctx, MarkerDone, s.details(i, nil))
	log.Info("saga: compensation done")
	return nil
}

func (s *Saga) skip(ctx workflow.Context, ce *CompensationError, i int) {
	workflow.RecordMarker(ctx, MarkerSkipped, s.details(i, nil))
	ce.Skipped = append(ce.Skipped, Step{Index: i, Name: s.steps[i].name})
}

func (s *Saga) sequential(ctx workflow.Context) *CompensationError {
	var ce CompensationError
	for i := len(s.steps) - 1; i >= 0; i-- {
		if len(ce.Failed) > 0 && !s.opts.ContinueOnError {
			s.skip(ctx, &ce, i)
			continue
		}
		if err := s.runStep(ctx, i); err != nil {
			ce.Failed = append(ce.Failed, StepError{Step: Step{Index: i, Name: s.steps[i].name}, Err: err})
		}
	}
	if len(ce.Failed) == 0 {
		return nil
	}
	return &ce
}

func (s *Saga) parallel(ctx workflow.Context) *CompensationError {
	n := len(s.steps)
	errs := make([]error, n)
	started := make([]bool, n)
	running, failed := 0, false
	wg := workflow.NewWaitGroup(ctx)
	var ce CompensationError
	for i := n - 1; i >= 0; i-- {
		if limit := s.opts.MaxParallel; limit > 0 {
			workflow.Await(ctx, func() bool { return running < limit || (failed && !s.opts.ContinueOnError) })
		}
		if failed && !s.opts.ContinueOnError {
			s.skip(ctx, &ce, i)
			continue
		}
		started[i] = true
		running++
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			if errs[i] = s.runStep(ctx, i); errs[i] != nil {
				failed = true
			}
			running--
		})
	}
	wg.Wait(ctx)
	for i := n - 1; i >= 0; i-- {
		if started[i] && errs[i] != nil {
			ce.Failed = append(ce.Failed, StepError{Step: Step{Index: i, Name: s.steps[i].name}, Err: errs[i]})
		}
	}
	if len(ce.Failed) == 0 {
		return nil
	}
	return &ce
}

// Step identifies a registered compensation.
type Step struct {
	// Index is its position in the order compensations were added, from 0.
	Index int
	// Name is the activity's or child workflow's registered name, or the
	// name given to [AddFunc].
	Name string
}

// StepError is a compensation that failed.
type StepError struct {
	Step
	// Err is why: a *workflow.ActivityError for an activity, a
	// *workflow.ChildWorkflowError for a child workflow, or what an
	// [AddFunc] function returned.
	Err error
}

// CompensationError reports a compensation that did not complete: the
// compensations that failed and those skipped because of it.
type CompensationError struct {
	// Failed lists the compensations that failed, in the order they were
	// started (highest index first).
	Failed []StepError
	// Skipped lists the compensations that were not run because an earlier
	// one failed and ContinueOnError was not set, in the order they would
	// have run.
	Skipped []Step
	total   int
}

func (e *CompensationError) Error() string {
	var b strings.Builder
	total := e.total
	if total == 0 {
		total = len(e.Failed) + len(e.Skipped)
	}
	fmt.Fprintf(&b, "saga: %d of %d compensation(s) failed: ", len(e.Failed), total)
	for i, f := range e.Failed {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "#%d %q: %v", f.Index, f.Name, f.Err)
	}
	if len(e.Skipped) > 0 {
		b.WriteString("; not run: ")
		for i, sk := range e.Skipped {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "#%d %q", sk.Index, sk.Name)
		}
	}
	return b.String()
}

// Unwrap returns the errors of the failed compensations, so errors.As finds
// for example the *workflow.ActivityError of the first one.
func (e *CompensationError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	return errs
}

// compensatedError is what CompensateOnError leaves in the workflow's error:
// the error that made the saga compensate, and how the compensation went.
type compensatedError struct {
	err   error
	comp  error // nil when every compensation completed
	steps int
}

func (e *compensatedError) Error() string {
	if e.comp == nil {
		return fmt.Sprintf("%v; saga compensated %d step(s)", e.err, e.steps)
	}
	return fmt.Sprintf("%v; %v", e.err, e.comp)
}

func (e *compensatedError) Unwrap() []error {
	if e.comp == nil {
		return []error{e.err}
	}
	return []error{e.err, e.comp}
}
