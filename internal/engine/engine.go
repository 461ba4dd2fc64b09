package engine

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// Config is the engine's configuration, with defaults already applied by
// the chorus package.
type Config struct {
	Store                   history.Store
	Clock                   clock.Clock
	Codec                   history.Codec
	Logger                  *slog.Logger
	MaxConcurrentActivities int
	CacheSize               int
	MaxCommitBatch          int
	DefaultActivityOptions  *activity.Options
	// Workflows and Activities are registered before recovery starts.
	Workflows  []WorkflowSpec
	Activities []ActivitySpec
	// CheckUpgrade replays every run that has not ended before recovery and
	// blocks those that diverge, so none of their work is started.
	CheckUpgrade bool
	// Limits bound what one run may hold; zero fields mean no limit.
	Limits Limits
	// DeadlockTimeout is how long workflow code may keep control without
	// yielding before its run is blocked with a *DeadlockError; zero or
	// less disables the detector.
	DeadlockTimeout time.Duration
	// OnSettle, when set, is called each time the engine may have become
	// quiescent (a run's inbox drained, an activity attempt ended), so a
	// test environment can skip time when nothing else can happen.
	OnSettle func()
	// Propagation, when set, carries the values of a run's header into
	// its workflow code and activities.
	Propagation *Propagation
	// Observer, when set, is told what the engine does (see Observation).
	Observer Observer
	// ActivityQueues bound the attempts of the activities bound to them.
	ActivityQueues []ActivityQueue
}

type engineState uint8

const (
	stateOpen    engineState = iota
	stateClosing             // refusing new work from callers, finishing in-flight work
	stateClosed              // refusing everything
)

// Engine runs workflows against one store.
type Engine struct {
	store           history.Store
	clock           clock.Clock
	codec           history.Codec
	log             *slog.Logger
	defaultActivity *activity.Options
	cacheSize       int
	limits          Limits
	deadlockTimeout time.Duration

	reg    *registry
	w      *writer
	acts   *activityPool
	timers *timers
	gate   *actGate // activity queues

	ctx    context.Context // for store reads; canceled at the end of Close
	cancel context.CancelFunc

	onSettle atomic.Pointer[func()]
	sigHook  atomic.Pointer[SignalInterceptor] // see SetSignalInterceptor
	prop     *Propagation
	obs      Observer // nil without an observer
	// busy counts work in flight: drains running, activity attempts queued
	// or running, timers being delivered. Work handed from one stage to
	// the next is counted in the next before it leaves the previous, so
	// zero means nothing can happen until a timer fires or a caller acts.
	busy      atomic.Int64
	redeliver map[*clock.Timer]time.Time // inputs to try again after a failed commit

	mu       sync.Mutex
	state    engineState
	runs     map[string]*Run
	lru      list.List // idle loaded runs, most recent first
	procs    sync.WaitGroup
	drainers *drainers
	onWatch  atomic.Pointer[func(id string, running bool)] // a test's hook: a caller began to wait for an outcome
	waiters  map[string][]chan Outcome
	parked   map[string][]parkedInput  // by workflow name, until it is registered
	recTasks map[string][]history.Task // tasks of runs blocked at Open, by run
	resuming map[string]chan struct{}  // blocked runs whose resume is under way, closed once applied
	damaged  map[string]error          // runs held blocked since Open for a damaged task, with the damage
	updates  updateWaiters
	closed   chan struct{}
}

type parkedInput struct {
	run string
	in  input
}

// New starts an engine on cfg.Store and recovers the work the journal holds:
// pending activity tasks are dispatched (or wait for their activity to be
// registered) and blocked runs are retried with the registered code.
func New(cfg Config) (*Engine, error) {
	e := &Engine{
		store: cfg.Store, clock: cfg.Clock, codec: cfg.Codec, log: cfg.Logger,
		defaultActivity: cfg.DefaultActivityOptions, cacheSize: cfg.CacheSize, limits: cfg.Limits,
		deadlockTimeout: cfg.DeadlockTimeout,
		reg:             newRegistry(), runs: map[string]*Run{}, waiters: map[string][]chan Outcome{},
		parked: map[string][]parkedInput{}, recTasks: map[string][]history.Task{}, closed: make(chan struct{}),
		redeliver: map[*clock.Timer]time.Time{}, prop: cfg.Propagation, obs: cfg.Observer,
		drainers: newDrainers(),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if cfg.OnSettle != nil {
		e.SetOnSettle(cfg.OnSettle)
	}
	e.w = newWriter(cfg.Store, cfg.MaxCommitBatch)
	e.w.obs = cfg.Observer
	e.gate = newActGate(e, cfg.ActivityQueues)
	e.acts = newActivityPool(e, cfg.MaxConcurrentActivities)
	e.timers = newTimers(e)
	err := e.registerAll(cfg)
	if err == nil && cfg.CheckUpgrade {
		err = e.blockDivergent()
	}
	if err == nil {
		err = e.recover()
	}
	if err == nil {
		e.watchAdoptions()
	}
	if err != nil {
		e.timers.close()
		e.acts.shutdown(context.Background())
		e.w.stop()
		e.cancel()
		return nil, err
	}
	return e, nil
}

func (e *Engine) registerAll(cfg Config) error {
	var errs []error
	for _, w := range cfg.Workflows {
		errs = append(errs, e.reg.addWorkflow(w))
	}
	for _, a := range cfg.Activities {
		errs = append(errs, e.reg.addActivity(a))
	}
	return errors.Join(errs...)
}

// blockDivergent marks blocked every running run that the registered code
// does not replay, before recovery could start any of its work.
func (e *Engine) blockDivergent() error {
	divs, err := e.CheckUpgrade(e.ctx)
	if err != nil {
		return err
	}
	for _, d := range divs {
		info, err := e.store.Run(e.ctx, d.RunID)
		if own, oerr := e.ownRuns([]history.RunInfo{{ID: d.RunID}}); oerr == nil && len(own) == 0 {
			continue // another engine's run: that engine checks it
		}
		if errors.Is(err, history.ErrCorrupt) {
			// A damaged row is reported where it is read, not rewritten.
			e.log.Error("chorus: run's row is damaged; left as it is", "run", d.RunID, "err", err)
			continue
		}
		if err != nil {
			return err
		}
		if info.Status == history.StatusBlocked {
			continue
		}
		e.log.Error("chorus: run diverges from the registered code; blocked until fixed", "run", d.RunID, "workflow", d.Workflow, "err", d.Err)
		err = e.w.submit(&history.Batch{RunID: d.RunID, Time: e.clock.Now(),
			Status: &history.StatusUpdate{Status: history.StatusBlocked, Failure: e.encodeFailure(FailureOf(d.Err))}})
		if err != nil {
			return fmt.Errorf("chorus: block diverging run %q: %w", d.RunID, err)
		}
		e.observeNow(Observation{Kind: ObsRunBlocked, Time: e.clock.Now(), RunID: d.RunID, Workflow: d.Workflow, Failure: e.encodeFailure(FailureOf(d.Err))})
	}
	return nil
}

// recover dispatches the pending tasks of the journal. Those of blocked runs
// wait until the run replays cleanly again. A run with a damaged task is
// blocked with the damage as the reason and none of its tasks run; it stays
// blocked (see holdDamaged) while the other runs recover as usual.
func (e *Engine) recover() error {
	blocked, err := e.store.ListRuns(e.ctx, history.ListFilter{Status: history.StatusBlocked})
	if err != nil {
		return fmt.Errorf("chorus: recover: list blocked runs: %w", err)
	}
	if blocked, err = e.ownRuns(blocked); err != nil {
		return fmt.Errorf("chorus: recover: %w", err)
	}
	tasks, err := e.store.Tasks(e.ctx)
	if err != nil {
		return fmt.Errorf("chorus: recover: read pending tasks: %w", err)
	}
	held, err := e.startRecovered(tasks, blocked)
	if err != nil {
		return err
	}
	if len(tasks) > 0 || len(blocked) > 0 {
		e.log.Info("chorus: recovered", "pending_tasks", len(tasks), "blocked_runs", len(blocked), "damaged_runs", len(held))
	}
	return nil
}

// startRecovered starts the work that tasks (pending tasks read from the
// journal, all of the runs they belong to) and blocked (the blocked runs
// among those runs) promise, as recover does at Open and as adoption does
// for runs another engine left (see adopt.go). It returns the runs held
// blocked for a damaged task.
func (e *Engine) startRecovered(tasks []history.Task, blocked []history.RunInfo) (map[string]bool, error) {
	isBlocked := make(map[string]bool, len(blocked))
	for _, b := range blocked {
		isBlocked[b.ID] = true
	}
	held, err := e.holdDamaged(tasks)
	if err != nil {
		return nil, err
	}
	sortTasks(tasks)
	var wakes []history.Task // a run's queued inputs, delivered together, in order
	flushWakes := func() {
		if len(wakes) > 0 {
			e.wake(wakes)
			wakes = nil
		}
	}
	for _, t := range tasks {
		if held[t.RunID] || t.Damaged != nil {
			continue
		}
		if len(wakes) > 0 && wakes[0].RunID != t.RunID {
			flushWakes()
		}
		if t.Kind == history.TaskWake && !isBlocked[t.RunID] {
			wakes = append(wakes, t)
			continue
		}
		if isBlocked[t.RunID] && t.Kind != history.TaskRunTimeout { // a blocked run still times out
			e.mu.Lock()
			e.recTasks[t.RunID] = append(e.recTasks[t.RunID], t)
			e.mu.Unlock()
			continue
		}
		if t.Kind == history.TaskActivity || t.Kind == 0 {
			at := newActTask(t, t.Workflow, nil)
			at.recovered = true
			e.acts.dispatch(at)
			continue
		}
		e.runTask(t, t.Workflow, nil)
	}
	flushWakes()
	for _, b := range blocked {
		if !held[b.ID] {
			e.deliver(b.ID, e.resumeInput(b.ID))
		}
	}
	return held, nil
}

// holdDamaged finds the runs with a damaged task and returns those of them
// none of whose tasks may run. A run that has not ended is blocked,
// durably before Open returns, with the damage as the reason (failure type
// Corrupt), and remembered so that loading it blocks it again instead of
// resuming it: a task row read wrong would run the wrong work, and one
// left out would leave the run waiting forever. Terminating the run drops
// its tasks, the damaged one included. An ended run keeps its outcome and
// its healthy tasks; its damaged task (a parent's notification, say) is
// reported and never run.
func (e *Engine) holdDamaged(tasks []history.Task) (map[string]bool, error) {
	held := map[string]bool{}
	seen := map[string]bool{}
	for _, t := range tasks {
		if t.Damaged == nil || seen[t.RunID] {
			continue
		}
		seen[t.RunID] = true
		info, err := e.store.Run(e.ctx, t.RunID)
		switch {
		case errors.Is(err, history.ErrCorrupt):
			// The row is damaged too: its status cannot be trusted, so
			// leave it as it is; loading the run reports the damage.
			e.log.Error("chorus: a pending task of a run with a damaged row is damaged; its tasks do not run",
				"run", t.RunID, "step", t.Step, "err", t.Damaged)
			held[t.RunID] = true
			continue
		case err != nil:
			return nil, fmt.Errorf("chorus: recover: read run %q of a damaged task: %w", t.RunID, err)
		case info.Status.Ended():
			e.log.Error("chorus: a pending task of an ended run is damaged; it does not run",
				"run", t.RunID, "step", t.Step, "err", t.Damaged)
			continue
		}
		held[t.RunID] = true
		e.mu.Lock()
		if e.damaged == nil {
			e.damaged = map[string]error{}
		}
		e.damaged[t.RunID] = t.Damaged
		e.mu.Unlock()
		if info.Status == history.StatusBlocked {
			if f, err := e.decodeFailure(info.Failure); err == nil && f.Type == FailureTypeCorrupt {
				continue // blocked for it at an earlier Open
			}
		}
		e.log.Error("chorus: a pending task of the run is damaged; blocked", "run", t.RunID, "step", t.Step, "err", t.Damaged)
		err = e.w.submit(&history.Batch{RunID: t.RunID, Time: e.clock.Now(),
			Status: &history.StatusUpdate{Status: history.StatusBlocked, Failure: e.encodeFailure(FailureOf(t.Damaged))}})
		if err != nil {
			return nil, fmt.Errorf("chorus: recover: block run %q with a damaged task: %w", t.RunID, err)
		}
		e.observeNow(Observation{Kind: ObsRunBlocked, Time: e.clock.Now(), RunID: t.RunID, Workflow: info.Workflow, Failure: e.encodeFailure(FailureOf(t.Damaged))})
	}
	return held, nil
}

// taskDamage returns the damaged task for which the run was blocked at
// Open, or nil.
func (e *Engine) taskDamage(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.damaged[id]
}

// redispatchRecovered dispatches the tasks held back at Open for a blocked
// run that now replays cleanly.
func (e *Engine) redispatchRecovered(r *Run) {
	e.mu.Lock()
	ts := e.recTasks[r.id]
	delete(e.recTasks, r.id)
	e.mu.Unlock()
	for _, t := range ts {
		e.runTask(t, r.spec.Name(), nil)
	}
}

// RegisterWorkflow adds a workflow and releases inputs that waited for it.
func (e *Engine) RegisterWorkflow(w WorkflowSpec) error {
	if err := e.reg.addWorkflow(w); err != nil {
		return err
	}
	e.mu.Lock()
	ps := e.parked[w.Name()]
	delete(e.parked, w.Name())
	e.mu.Unlock()
	for _, p := range ps {
		if p.in.kind == inResume {
			e.beginResume(p.run)
		}
		e.deliver(p.run, p.in)
	}
	return nil
}

// RegisterActivity adds an activity and dispatches tasks that waited for it.
func (e *Engine) RegisterActivity(a ActivitySpec) error {
	if err := e.reg.addActivity(a); err != nil {
		return err
	}
	e.acts.unpark(a.Name())
	return nil
}

// HasActivity reports whether an activity of that name is registered.
func (e *Engine) HasActivity(name string) bool {
	_, ok := e.reg.activity(name)
	return ok
}

// Workflow returns the registered workflow of that name.
func (e *Engine) Workflow(name string) (WorkflowSpec, bool) { return e.reg.workflow(name) }

// parkInput holds an input for a run whose workflow is not registered yet.
// The registry is checked again under e.mu, which RegisterWorkflow takes
// after registering, so an input is never parked after its release.
func (e *Engine) parkInput(workflow, run string, in input) {
	e.mu.Lock()
	_, registered := e.reg.workflow(workflow)
	if !registered {
		e.parked[workflow] = append(e.parked[workflow], parkedInput{run, in})
	}
	e.mu.Unlock()
	if !registered && in.kind == inResume {
		e.endResume(run) // blocked for good until the workflow is registered
	}
	if registered {
		_ = e.deliver(run, in)
		return
	}
	// Not answered: whoever waits for this input (a task's completion
	// callback) must not think it is done before it is journaled.
	e.warnUnregistered(in.kind == inResume, "workflow", workflow, "chorus: run's workflow is not registered; its input waits until it is", "run", run,
		"err", &NotRegisteredError{Kind: "workflow", Name: workflow})
}

// unregisteredGrace is how long a name may stay unregistered before the
// work that recovery found waiting for it is logged: an application that
// registers its definitions right after Open (a documented way) is not
// warned about it.
const unregisteredGrace = time.Second

// warnUnregistered logs msg at the warning level: at once, or, for work
// recovery found (recovered), unless the activity or workflow name (kind
// says which) is registered within unregisteredGrace of real time or the
// engine has closed by then.
func (e *Engine) warnUnregistered(recovered bool, kind, name, msg string, args ...any) {
	if !recovered {
		e.log.Warn(msg, args...)
		return
	}
	time.AfterFunc(unregisteredGrace, func() {
		var registered bool
		if kind == "activity" {
			_, registered = e.reg.activity(name)
		} else {
			_, registered = e.reg.workflow(name)
		}
		e.mu.Lock()
		closed := e.state == stateClosed
		e.mu.Unlock()
		if !registered && !closed {
			e.log.Warn(msg, args...)
		}
	})
}

// Start records a new run and executes its code up to its first wait.
// reuse says whether it may take the ID of a run that exists; to bounds how
// long the new run may go on.
func (e *Engine) Start(ctx context.Context, spec WorkflowSpec, id string, input []byte, reuse IDReusePolicy, to Timeouts) error {
	if err := e.CheckPayload(id, input); err != nil {
		return err
	}
	in := inputStart(spec, input)
	in.reuse, in.timeouts = reuse, to
	return e.call(ctx, id, in)
}

func inputStart(spec WorkflowSpec, payload []byte) input {
	return input{kind: inStart, payload: payload, startArgs: &startArgs{spec: spec}}
}

// Cancel requests cancellation of a run.
func (e *Engine) Cancel(ctx context.Context, id string) error {
	return e.call(ctx, id, input{kind: inCancel})
}

// call delivers a caller's input and waits until it is durable.
func (e *Engine) call(ctx context.Context, id string, in input) error {
	in.reply = make(chan error, 1)
	if in.kind == inStart {
		in.header = headerOf(ctx)
	}
	who, err := identityFor(ctx, in.kind)
	if err != nil {
		return err
	}
	in.identity = who
	if b := batchOf(ctx); b != "" && (in.kind == inCancel || in.kind == inSignal || in.kind == inTerminate) {
		in.batch = b
		if in.identity == "" {
			in.identity = DefaultResetIdentity // the batch's note needs someone
		}
	}
	e.mu.Lock()
	open := e.state == stateOpen
	e.mu.Unlock()
	if !open {
		return ErrEngineClosed
	}
	if err := e.deliver(id, in); err != nil {
		return err
	}
	select {
	case err := <-in.reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("chorus: gave up waiting (the request may still take effect): %w", ctx.Err())
	}
}

// deliver puts an input in a run's inbox, starting a drain if none runs.
func (e *Engine) deliver(id string, in input) error {
	return e.deliverBatch(id, []input{in})
}

// deliverBatch puts inputs in a run's inbox together, so one drain applies
// them in one round.
func (e *Engine) deliverBatch(id string, ins []input) error {
	e.mu.Lock()
	if e.state == stateClosed {
		e.mu.Unlock()
		return ErrEngineClosed
	}
	r := e.runs[id]
	if r == nil {
		r = newRun(e, id)
		e.runs[id] = r
	}
	r.mu.Lock()
	r.inbox = append(r.inbox, ins...)
	start := !r.busy
	r.busy = true
	r.mu.Unlock()
	hit := false
	if start {
		if r.lruElem != nil {
			e.lru.Remove(r.lruElem)
			r.lruElem = nil
			hit = true
		}
		e.procs.Add(1)
		e.busy.Add(1)
	}
	e.mu.Unlock()
	if hit && e.obs != nil {
		e.observeNow(Observation{Kind: ObsCacheHit, RunID: id})
	}
	if start {
		e.drainers.start(r)
	}
	return nil
}

// redeliverLater retries an input whose commit failed, after a pause.
func (e *Engine) redeliverLater(id string, in input) {
	e.later(func() { _ = e.deliver(id, in) })
}

// later runs fn after redeliverDelay on the engine's clock, counted as busy
// while it runs and visible to NextWake while it waits. Nothing is
// scheduled once the engine is closed.
func (e *Engine) later(fn func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == stateClosed {
		return
	}
	var t *clock.Timer
	t = e.clock.AfterFunc(redeliverDelay, func() {
		e.busy.Add(1) // before the timer stops being visible to NextWake
		defer e.settled()
		e.mu.Lock()
		delete(e.redeliver, t)
		e.mu.Unlock()
		fn()
	})
	e.redeliver[t] = e.clock.Now().Add(redeliverDelay)
}

// redeliverDelay is the pause before an input whose commit failed is tried
// again.
const redeliverDelay = 100 * time.Millisecond

func (r *Run) drain() {
	defer r.eng.settled()
	defer r.eng.procs.Done()
	for {
		r.mu.Lock()
		inputs := r.inbox
		r.inbox = nil
		r.mu.Unlock()
		if len(inputs) > 0 {
			r.handle(inputs)
		}
		if !r.eng.idle(r) {
			return
		}
	}
}

// idle is called when a drain found the inbox empty. It reports whether more
// inputs arrived meanwhile; otherwise it releases the run, caching it if it
// is worth keeping and evicting the least recently used runs over the limit.
func (e *Engine) idle(r *Run) (more bool) {
	if r.ended {
		r.kill()
	}
	e.mu.Lock()
	r.mu.Lock()
	if len(r.inbox) > 0 {
		r.mu.Unlock()
		e.mu.Unlock()
		return true
	}
	r.busy = false
	r.mu.Unlock()
	var victims []*Run
	var evicted []string
	switch {
	case r.ended || (!r.loaded && r.blocked == nil) || e.state == stateClosed:
		if e.runs[r.id] == r {
			delete(e.runs, r.id)
		}
		if !r.ended {
			victims = append(victims, r)
		}
	default:
		r.lruElem = e.lru.PushFront(r)
		for e.lru.Len() > e.cacheSize {
			v := e.lru.Remove(e.lru.Back()).(*Run)
			v.lruElem = nil
			delete(e.runs, v.id)
			victims = append(victims, v)
			if e.obs != nil {
				evicted = append(evicted, v.id)
			}
		}
	}
	e.mu.Unlock()
	for _, v := range victims {
		v.kill()
	}
	for _, id := range evicted {
		e.observeNow(Observation{Kind: ObsCacheEviction, RunID: id})
	}
	return false
}

// Watch returns a channel that receives the run's outcome when it ends or
// blocks, and a function to stop watching.
func (e *Engine) Watch(id string) (<-chan Outcome, func()) {
	ch, stop, _ := e.WatchRunning(id)
	return ch, stop
}

// WatchRunning is Watch that also reports whether the run is running in
// this engine: committed as running, in memory, and not ended since. Then
// the run's outcome is sure to arrive on the channel (or the engine
// closes), and the caller need not read the store to learn that the run
// has not ended yet. When running is false, the store has the answer.
func (e *Engine) WatchRunning(id string) (ch <-chan Outcome, stop func(), running bool) {
	c := make(chan Outcome, 1)
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], c)
	if r := e.runs[id]; r != nil {
		running = r.running
	}
	e.mu.Unlock()
	if f := e.onWatch.Load(); f != nil {
		(*f)(id, running)
	}
	return c, e.unwatch(id, c), running
}

// SetOnWatch installs (or, with nil, removes) a hook called each time a
// caller begins to wait for a run's outcome, with whether the run was
// running in this engine. Tests use it to act once a waiter is in place.
func (e *Engine) SetOnWatch(f func(id string, running bool)) {
	if f == nil {
		e.onWatch.Store(nil)
		return
	}
	e.onWatch.Store(&f)
}

func (e *Engine) unwatch(id string, ch chan Outcome) func() {
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		ws := e.waiters[id]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(e.waiters, id)
		} else {
			e.waiters[id] = ws
		}
	}
}

func (e *Engine) notify(id string, o Outcome) {
	e.mu.Lock()
	if r := e.runs[id]; r != nil {
		r.running = false
	}
	ws := e.waiters[id]
	delete(e.waiters, id)
	e.mu.Unlock()
	for _, w := range ws {
		w <- o
	}
}

// Closed is closed once Close has finished.
func (e *Engine) Closed() <-chan struct{} { return e.closed }

// Close stops the engine: callers are refused at once, running activity
// attempts may finish (and be recorded) until ctx is done, then everything
// in flight is interrupted without being marked failed. Runs resume after
// the next Open. Close waits for the interrupted work at most
// InterruptGrace after ctx is done: if something does not stop by then (an
// activity that ignores its context, workflow code stuck with the deadlock
// detector off), Close refuses everything, returns an error wrapping
// ctx.Err(), and the rest of the shutdown goes on in the background;
// Closed tells when it is over.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	first := e.state == stateOpen
	if first {
		e.state = stateClosing
	}
	e.mu.Unlock()
	if first {
		go e.shutdown(ctx)
	}
	select {
	case <-e.closed:
		return nil
	case <-ctx.Done():
	}
	grace := time.NewTimer(InterruptGrace)
	defer grace.Stop()
	select {
	case <-e.closed:
		return nil
	case <-grace.C:
	}
	e.mu.Lock()
	e.state = stateClosed
	e.mu.Unlock()
	e.cancel()
	return fmt.Errorf("chorus: close: work in flight did not stop when interrupted; it goes on stopping in the background: %w", ctx.Err())
}

// InterruptGrace is how long Close waits, once its context is done, for
// the work it interrupted to stop.
const InterruptGrace = 200 * time.Millisecond

func (e *Engine) shutdown(ctx context.Context) {
	e.timers.close()
	e.mu.Lock()
	for t := range e.redeliver {
		t.Stop()
	}
	e.mu.Unlock()
	e.gate.close()
	e.acts.shutdown(ctx)

	e.mu.Lock()
	e.state = stateClosed
	e.mu.Unlock()
	e.procs.Wait()
	e.drainers.stop()
	e.w.stop()

	e.mu.Lock()
	runs := make([]*Run, 0, len(e.runs))
	for _, r := range e.runs {
		runs = append(runs, r)
	}
	e.runs = map[string]*Run{}
	e.lru.Init()
	e.mu.Unlock()
	for _, r := range runs {
		r.kill()
	}
	e.cancel()
	close(e.closed)
}

// Store returns the engine's store.
func (e *Engine) Store() history.Store { return e.store }

// EncodeFailure encodes a failure with the engine's codec.
func (e *Engine) encodeFailure(f *history.Failure) []byte {
	if f != nil && f.Type == FailureTypePayloadKey {
		// Why a run is blocked for want of a key must read without that
		// key (or any): the engine wrote the message, which names the
		// step and the key, never payload contents.
		b, _ := history.JSONCodec{}.Marshal(f)
		return b
	}
	b, err := e.codec.Marshal(f)
	if err == nil {
		return b
	}
	// A Failure holds only strings and bytes; if a custom codec still
	// refuses it, keep the message readable rather than lose it, but
	// through the codec: a payload codec that encrypts must not be
	// bypassed. If even that fails (no key to encrypt with), record why
	// in the clear and nothing of the failure itself.
	if b, err2 := e.codec.Marshal(&history.Failure{Message: f.Message, Type: f.Type}); err2 == nil {
		return b
	}
	b, _ = history.JSONCodec{}.Marshal(&history.Failure{Type: f.Type,
		Message: "chorus: the failure could not be encoded (its message is not recorded): " + err.Error()})
	return b
}

func (e *Engine) decodeFailure(b []byte) (*history.Failure, error) {
	var f history.Failure
	if err := e.codec.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// DecodeFailure decodes a stored failure.
func (e *Engine) DecodeFailure(b []byte) (*history.Failure, error) { return e.decodeFailure(b) }

// Codec returns the engine's payload codec.
func (e *Engine) Codec() history.Codec { return e.codec }

// SetOnSettle installs (or, with nil, removes) the hook called each time
// the engine may have become quiescent.
func (e *Engine) SetOnSettle(f func()) {
	if f == nil {
		e.onSettle.Store(nil)
		return
	}
	e.onSettle.Store(&f)
}

func (e *Engine) settle() {
	if f := e.onSettle.Load(); f != nil {
		(*f)()
	}
}

// settled ends one unit of busy work and tells the OnSettle hook.
func (e *Engine) settled() {
	e.busy.Add(-1)
	e.settle()
}

// Quiescent reports whether nothing is happening: no run is being
// processed and no activity attempt is queued or running. What remains are
// timers (workflow timers and retry backoffs) and outside events.
func (e *Engine) Quiescent() bool {
	return e.busy.Load() == 0
}

// NextWake returns the earliest time an armed timer, a retry backoff or a
// redelivery fires.
func (e *Engine) NextWake() (time.Time, bool) {
	var first time.Time
	consider := func(t time.Time, ok bool) {
		if ok && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	consider(e.timers.next())
	consider(e.acts.nextRetry())
	consider(e.gate.next())
	e.mu.Lock()
	for _, at := range e.redeliver {
		consider(at, true)
	}
	e.mu.Unlock()
	return first, !first.IsZero()
}

// ReplayRun replays the current generation of any run, ended or not,
// against the registered code without changing anything, and returns the
// first divergence or other reason the code cannot replay it.
func (e *Engine) ReplayRun(ctx context.Context, id string) error {
	info, err := e.store.Run(ctx, id)
	if err != nil {
		return err
	}
	return e.dryReplay(ctx, info)
}

// Queued returns how many inputs wait in a run's inbox, for tests that
// need to know inputs were delivered before they let the run go on.
func (e *Engine) Queued(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.runs[id]
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inbox)
}
