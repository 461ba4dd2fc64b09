package chorustest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/workflow"
)

// wrapAll returns, for each definition, the wrapper the env registers in
// its place: same name, same options, mocks consulted first.
func (e *Env) wrapAll(defs []chorus.Definition) ([]chorus.Definition, error) {
	out := make([]chorus.Definition, 0, len(defs))
	for _, d := range defs {
		switch d := d.(type) {
		case engine.WorkflowSpec:
			out = append(out, e.wfWrapperFor(d))
		case engine.ActivitySpec:
			out = append(out, e.actWrapperFor(d))
		case nil:
			return nil, fmt.Errorf("nil definition")
		default:
			return nil, fmt.Errorf("%T is neither a workflow (workflow.New) nor an activity (activity.New)", d)
		}
	}
	return out, nil
}

// actWrapper is the activity the engine runs in place of a definition: it
// lets the first matching mock answer, and runs the real activity when none
// does.
type actWrapper struct {
	env   *Env
	orig  engine.ActivitySpec
	mocks []actMocker // guarded by env.mu
}

// actMocker is an *ActivityMock of any type.
type actMocker interface {
	// take reports whether the mock answers an attempt with this input and,
	// if it does, counts the call and returns what to run. env.mu is held.
	take(codec history.Codec, input []byte) (func(ctx context.Context) ([]byte, error), bool)
}

func (e *Env) actWrapperFor(a engine.ActivitySpec) *actWrapper {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.acts[a.Name()]
	if w == nil {
		w = &actWrapper{env: e, orig: a}
		e.acts[a.Name()] = w
	}
	return w
}

func (w *actWrapper) Name() string               { return w.orig.Name() }
func (w *actWrapper) Options() *activity.Options { return w.orig.Options() }

func (w *actWrapper) Invoke(ctx context.Context, codec history.Codec, input []byte) ([]byte, error) {
	w.env.activities.Add(1)
	att := w.env.attemptStarted(activity.GetInfo(ctx))
	panicked := true
	defer func() {
		if panicked {
			w.env.attemptEnded(att, errAttemptPanicked)
		}
		w.env.activities.Add(-1)
		w.env.kick()
	}()
	out, err := w.invoke(ctx, codec, input)
	panicked = false
	w.env.attemptEnded(att, err)
	return out, err
}

func (w *actWrapper) invoke(ctx context.Context, codec history.Codec, input []byte) ([]byte, error) {
	w.env.mu.Lock()
	var answer func(context.Context) ([]byte, error)
	for _, m := range w.mocks {
		if f, ok := m.take(codec, input); ok {
			answer = f
			break
		}
	}
	w.env.mu.Unlock()
	w.env.kick() // an Env.Await condition may count calls
	if answer != nil {
		return answer(ctx)
	}
	return w.orig.Invoke(ctx, codec, input)
}

// ActivityMock answers attempts of one activity in a test, in place of (or
// in front of) the real activity. Create it with [OnActivity] and configure
// it with its methods, which return the mock for chaining:
//
//	chorustest.OnActivity(env, Charge).Return(Receipt{ID: "r-1"}, nil)
//	chorustest.OnActivity(env, Charge).When(func(r ChargeReq) bool { return r.Cents > 1e6 }).
//		ReturnError(activity.NewError("card-declined", "limit"))
//
// A mock with no Return, ReturnError or Do runs the real activity and only
// counts its calls. Configure mocks before the runs that use them start.
type ActivityMock[In, Out any] struct {
	env    *Env
	real   engine.ActivitySpec
	match  func(In) bool
	times  int
	do     func(context.Context, In) (Out, error)
	after  time.Duration
	calls  int
	inputs []In
}

// OnActivity adds a mock for the activity act, registering act with the env
// if it is not (at the env's next call or wait, so that a run already
// waiting for act runs what the mock is then told to do). Mocks of one activity are consulted in the order they
// were added; the first that matches the attempt's input ([ActivityMock.When])
// and has calls left ([ActivityMock.Times]) answers it. An attempt no mock
// answers runs the real activity. Each attempt is a call: an error that the
// activity's retry policy retries is followed by another attempt, whose
// backoff the env skips like any timer; return activity.NonRetryable(err)
// to fail the activity at once.
func OnActivity[In, Out any](env *Env, act *activity.Definition[In, Out]) *ActivityMock[In, Out] {
	env.t.Helper()
	w := env.ensureActivity(act)
	m := &ActivityMock[In, Out]{env: env, real: w.orig}
	env.mu.Lock()
	w.mocks = append(w.mocks, m)
	env.mu.Unlock()
	return m
}

// ensureActivity returns the wrapper of act's name, creating one if there
// is none; the env registers a new one with the engine at its next call or
// wait (see [Env.registerPending]).
func (e *Env) ensureActivity(act engine.ActivitySpec) *actWrapper {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.acts[act.Name()]
	if w == nil {
		w = &actWrapper{env: e, orig: act}
		e.acts[act.Name()] = w
		e.pending = append(e.pending, w)
	}
	return w
}

// Return makes the mock answer with out and err. A non-nil err is the
// attempt's error, subject to the retry policy.
func (m *ActivityMock[In, Out]) Return(out Out, err error) *ActivityMock[In, Out] {
	return m.Do(func(context.Context, In) (Out, error) { return out, err })
}

// ReturnError makes the mock fail each attempt it answers with err.
func (m *ActivityMock[In, Out]) ReturnError(err error) *ActivityMock[In, Out] {
	return m.Do(func(context.Context, In) (Out, error) {
		var zero Out
		return zero, err
	})
}

// Do makes the mock answer by calling fn, with the attempt's context (which
// carries its activity.Info and heartbeats) and input.
func (m *ActivityMock[In, Out]) Do(fn func(ctx context.Context, in In) (Out, error)) *ActivityMock[In, Out] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.do = fn
	return m
}

// Times limits the mock to the first n calls it matches; later ones go to
// the next matching mock or the real activity. n <= 0 means no limit, the
// default.
func (m *ActivityMock[In, Out]) Times(n int) *ActivityMock[In, Out] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.times = n
	return m
}

// Once is Times(1).
func (m *ActivityMock[In, Out]) Once() *ActivityMock[In, Out] { return m.Times(1) }

// After makes each attempt the mock answers take d of fake time before it
// answers (or runs the real activity): the env skips the time as it skips
// a timer's, and the workflow gets the result d later in workflow time.
// Timers, env.At callbacks and other work due meanwhile happen in order.
// The attempt's context behaves as in a long attempt: if it ends first
// (the start-to-close timeout passes on the fake clock, or the run cancels
// the activity), the attempt returns the context's error there. A waiting
// mock sends no heartbeats: give the activity no heartbeat timeout shorter
// than d.
func (m *ActivityMock[In, Out]) After(d time.Duration) *ActivityMock[In, Out] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.after = d
	return m
}

// When makes the mock answer only attempts whose input satisfies match.
func (m *ActivityMock[In, Out]) When(match func(in In) bool) *ActivityMock[In, Out] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.match = match
	return m
}

// Calls returns how many attempts the mock answered.
func (m *ActivityMock[In, Out]) Calls() int {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	return m.calls
}

// Inputs returns the inputs of the attempts the mock answered, in the
// order they came.
func (m *ActivityMock[In, Out]) Inputs() []In {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	return slices.Clone(m.inputs)
}

func (m *ActivityMock[In, Out]) take(codec history.Codec, input []byte) (func(context.Context) ([]byte, error), bool) {
	var in In
	if err := codec.Unmarshal(input, &in); err != nil {
		return nil, false // the real activity reports it
	}
	if (m.match != nil && !m.match(in)) || (m.times > 0 && m.calls >= m.times) {
		return nil, false
	}
	m.calls++
	m.inputs = append(m.inputs, in)
	do, real, after, env := m.do, m.real, m.after, m.env
	if do == nil {
		return func(ctx context.Context) ([]byte, error) {
			if err := env.takeFakeTime(ctx, after); err != nil {
				return nil, err
			}
			return real.Invoke(ctx, codec, input)
		}, true
	}
	return func(ctx context.Context) ([]byte, error) {
		if err := env.takeFakeTime(ctx, after); err != nil {
			return nil, err
		}
		out, err := do(ctx, in)
		if err != nil {
			return nil, err
		}
		b, err := codec.Marshal(out)
		if err != nil {
			return nil, activity.NonRetryable(fmt.Errorf("chorustest: encode the mocked result of activity %q: %w", real.Name(), err))
		}
		return b, nil
	}, true
}

// wfWrapper is the workflow the engine runs in place of a definition: a
// run that a mock matches executes the mock instead of the real code.
type wfWrapper struct {
	env   *Env
	orig  engine.WorkflowSpec
	mocks []wfMocker // guarded by env.mu
	// chosen remembers, by run ID and input, what executed a run's
	// generation (nil: the real code), so that every later replay of it
	// executes the same code, whatever calls the mocks have left.
	chosen map[string]engine.WorkflowSpec
}

// wfMocker is a *WorkflowMock of any type.
type wfMocker interface {
	// take reports whether the mock answers a run with this input and, if
	// it does, counts the call and returns the code to execute (nil: the
	// real code). env.mu is held.
	take(codec history.Codec, input []byte) (engine.WorkflowSpec, bool)
}

func (e *Env) wfWrapperFor(wf engine.WorkflowSpec) *wfWrapper {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.wfs[wf.Name()]
	if w == nil {
		w = &wfWrapper{env: e, orig: wf, chosen: map[string]engine.WorkflowSpec{}}
		e.wfs[wf.Name()] = w
	}
	return w
}

func (w *wfWrapper) Name() string { return w.orig.Name() }

func (w *wfWrapper) Execute(r *engine.Run, input []byte) ([]byte, error) {
	key := r.ID() + "\x00" + string(input)
	w.env.mu.Lock()
	spec, seen := w.chosen[key]
	if !seen {
		for _, m := range w.mocks {
			if s, ok := m.take(r.Codec(), input); ok {
				spec = s
				break
			}
		}
		w.chosen[key] = spec
	}
	w.env.mu.Unlock()
	if spec == nil {
		return w.orig.Execute(r, input)
	}
	return spec.Execute(r, input)
}

// WorkflowMock answers runs of one workflow in a test, usually child
// workflows, in place of the real workflow code. Create it with
// [OnWorkflow]; it works like [ActivityMock]. A mocked run is a real run:
// it has a journal (RunStarted, then RunCompleted or RunFailed), can be
// looked up by its ID, and its parent sees its result or a
// *workflow.ChildWorkflowError.
type WorkflowMock[In, Out any] struct {
	env    *Env
	name   string
	real   engine.WorkflowSpec
	match  func(In) bool
	times  int
	do     func(workflow.Context, In) (Out, error)
	after  time.Duration
	calls  int
	inputs []In
}

// OnWorkflow adds a mock for the workflow wf, registering wf with the env
// if it is not (at the env's next call or wait, so that a run already
// waiting for wf executes what the mock is then told to do). Mocks of one workflow are consulted in the order they
// were added when a run of it (a child, or a run started by the test)
// executes for the first time; the first that matches its input and has
// calls left answers it, and a run that no mock answers executes the real
// code. Replays of the run execute the same choice.
func OnWorkflow[In, Out any](env *Env, wf *workflow.Definition[In, Out]) *WorkflowMock[In, Out] {
	env.t.Helper()
	w := env.ensureWorkflow(wf)
	m := &WorkflowMock[In, Out]{env: env, name: wf.Name(), real: w.orig}
	env.mu.Lock()
	w.mocks = append(w.mocks, m)
	env.mu.Unlock()
	return m
}

func (e *Env) ensureWorkflow(wf engine.WorkflowSpec) *wfWrapper {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.wfs[wf.Name()]
	if w == nil {
		w = &wfWrapper{env: e, orig: wf, chosen: map[string]engine.WorkflowSpec{}}
		e.wfs[wf.Name()] = w
		e.pending = append(e.pending, w)
	}
	return w
}

// Return makes the mocked runs return out and err: a non-nil err fails
// them, and their parent sees a *workflow.ChildWorkflowError.
func (m *WorkflowMock[In, Out]) Return(out Out, err error) *WorkflowMock[In, Out] {
	return m.Do(func(workflow.Context, In) (Out, error) { return out, err })
}

// ReturnError makes the mocked runs fail with err.
func (m *WorkflowMock[In, Out]) ReturnError(err error) *WorkflowMock[In, Out] {
	return m.Do(func(workflow.Context, In) (Out, error) {
		var zero Out
		return zero, err
	})
}

// Do makes the mocked runs execute fn as their workflow code. fn is
// workflow code like any other: it must be deterministic, and it may use
// every workflow primitive.
func (m *WorkflowMock[In, Out]) Do(fn func(ctx workflow.Context, in In) (Out, error)) *WorkflowMock[In, Out] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.do = fn
	return m
}

// Times limits the mock to the first n runs it matches. n <= 0 means no
// limit, the default.
func (m *WorkflowMock[In, Out]) Times(n int) *WorkflowMock[In, Out] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.times = n
	return m
}

// Once is Times(1).
func (m *WorkflowMock[In, Out]) Once() *WorkflowMock[In, Out] { return m.Times(1) }

// After makes each run the mock answers wait d of fake time, on a durable
// timer journaled in the mocked run, before it answers (or executes the
// real code): its parent gets the result d later in workflow time.
// Canceling the run during the wait ends it as canceled.
func (m *WorkflowMock[In, Out]) After(d time.Duration) *WorkflowMock[In, Out] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.after = d
	return m
}

// When makes the mock answer only runs whose input satisfies match.
func (m *WorkflowMock[In, Out]) When(match func(in In) bool) *WorkflowMock[In, Out] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.match = match
	return m
}

// Calls returns how many runs the mock answered.
func (m *WorkflowMock[In, Out]) Calls() int {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	return m.calls
}

// Inputs returns the inputs of the runs the mock answered, in order.
func (m *WorkflowMock[In, Out]) Inputs() []In {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	return slices.Clone(m.inputs)
}

func (m *WorkflowMock[In, Out]) take(codec history.Codec, input []byte) (engine.WorkflowSpec, bool) {
	var in In
	if err := codec.Unmarshal(input, &in); err != nil {
		return nil, false // the real code reports it
	}
	if (m.match != nil && !m.match(in)) || (m.times > 0 && m.calls >= m.times) {
		return nil, false
	}
	m.calls++
	m.inputs = append(m.inputs, in)
	var spec engine.WorkflowSpec = m.real
	if m.do != nil {
		spec = workflow.New(m.name, m.do)
	}
	if m.after > 0 {
		return delayedWorkflow{WorkflowSpec: spec, d: m.after}, true
	}
	if m.do == nil {
		return nil, true
	}
	return spec, true
}

// delayedWorkflow executes its workflow after a durable timer of d.
type delayedWorkflow struct {
	engine.WorkflowSpec
	d time.Duration
}

func (w delayedWorkflow) Execute(r *engine.Run, input []byte) ([]byte, error) {
	f := r.NewTimer(r.RootScope(), w.d)
	r.Await(f.Ready)
	if _, fl := f.Outcome(); fl != nil {
		return nil, engine.ErrCanceled
	}
	return w.WorkflowSpec.Execute(r, input)
}
