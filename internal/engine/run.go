package engine

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/chorusdev/chorus/history"
)

type inputKind uint8

const (
	inStart inputKind = iota + 1
	inActivityResult
	inCancel
	inResume
	inTimerFired
	inSignal
	inQuery
	inChildResult
	inSignalDelivered
	inTerminate
	inTimeout
	inUpdate
	inWake
	inReset
	// inBlock blocks the run: an activity's input does not decode for want
	// of its payload key (failure says why, step is the activity's).
	inBlock
)

// input is one thing that happens to a run.
type input struct {
	kind    inputKind
	name    string           // inStart: workflow name when spec is not known yet; inSignal, inQuery: signal or query name
	payload []byte           // inStart: workflow input; results; signal value; query argument
	failure *history.Failure // final failure of an activity, child or signal delivery; termination reason
	step    int64            // the command an answer is for
	// inStart only (nil otherwise): what a start carries. Behind a pointer
	// so that the inputs of every other kind, copied at each stage of a
	// drain, stay small.
	*startArgs
	// key identifies a signal sent by another run ("run/step"), so that a
	// redelivery after a crash is recognized and not journaled twice.
	key string
	// internal marks inputs that the engine sends on behalf of a task (a
	// child to start or cancel, a signal between runs): they wait for a
	// missing registration instead of failing.
	internal bool
	// inActivityResult only: the outcome comes from outside the engine
	// (asynchronous completion), whose caller is told when the run does
	// not wait for it; name, when set, is the activity it must be for.
	external bool
	// inActivityResult only: the attempts the step took, when more than
	// one, journaled as a note before its outcome.
	retried *history.ActivityRetried
	// inCancel and inSignal queued while no process had the run's workflow
	// registered: the step of the TaskWake that held it, done once the
	// input is journaled (or refused).
	wake int64
	// inWake only: the inputs queued for the run, in order (see wake).
	queued []input
	// inCancel, inSignal and inTerminate from a caller: who asked
	// (WithIdentity), journaled as a note before the event it causes.
	identity string
	// inCancel, inSignal and inTerminate of a batch operation: its ID,
	// journaled in the note.
	batch string
	// inChildResult only: the child run, whose notify task is deleted once
	// the parent recorded the outcome.
	child string
	reply chan error  // answered once the input is durable (or refused); may be nil
	query chan []byte // inQuery: the answer, sent before reply
	upd   *updateCall // inUpdate: the update's ID and where its outcome goes
	reset *resetCall  // inReset: the request and where its result goes
	after func(error) // called with the outcome of the commit that recorded the input
}

// startArgs is what a start input carries besides its workflow input.
type startArgs struct {
	spec       WorkflowSpec // nil until the workflow's registration is found
	parent     string
	parentStep int64
	startOnly  bool // signal-with-start: start unless the run exists, without error
	// Signal-with-start only: the signal, journaled right after the
	// RunStarted of a new run, before its code first runs.
	sigName    string
	sigPayload []byte
	// The header the new run propagates.
	header map[string][]byte
	// May a new run take the ID of one that exists?
	reuse IDReusePolicy
	// The run's timeouts.
	timeouts Timeouts
}

func (in input) answer(err error) {
	if in.reply != nil {
		in.reply <- err
	}
	if in.after != nil {
		in.after(err)
	}
}

// Run is one workflow run as the engine holds it in memory. Fields below mu
// are owned by the one goroutine draining the run's inbox at a time.
type Run struct {
	eng *Engine
	id  string

	mu      sync.Mutex
	inbox   []input
	busy    bool
	lruElem *list.Element

	spec       WorkflowSpec
	loaded     bool
	ended      bool
	terminated bool
	blocked    error
	status     history.RunStatus // as last committed
	// running says, under the engine's mu, that this engine committed the
	// run as running and has not notified its end since: a caller waiting
	// for the outcome may rely on being notified rather than read the
	// store (see WatchRunning).
	running     bool
	parent      string
	parentStep  int64
	lastSeq     int64
	replay      []history.Event
	lastPayload []byte // payload of the event the last replayed command matched
	now         time.Time
	liveNow     time.Time // the engine clock when the current round began
	canceled    bool
	root        *Scope
	pending     map[int64]*Future
	signals     map[string]*SignalQueue
	signalKeys  map[string]bool // keys of signals received from other runs
	queries     map[string]QueryHandler
	upd         *updateBook
	versions    map[string]int
	attrs       map[string]bool // "a:" or "m:" and the name of each search attribute or memo key set
	inQuery     bool
	replaying   bool        // the run was rebuilt by replay and has not had a live input since
	locals      map[any]any // SetLocal: per-generation state of libraries
	firstSeq    int64       // Seq of the current generation's RunStarted
	histBytes   int64       // the current generation's size, for MaxHistoryBytes
	warned      bool        // the run was warned that its history nears a limit
	// timeout is the deadlines of the current generation, or nil. It is
	// set wherever a generation starts or is loaded, not by reset.
	timeout *runTimeout
	// resetTasks, while a reset replays the steps it keeps, collects the
	// task each replayed activity would have had live (see applyReset).
	resetTasks map[int64]history.Task

	// header is the current generation's propagated context.
	header   map[string][]byte
	taskOpts taskOptsCache // the last activity options encoded with header (see encodeTaskOptions)
	// startedAt is the time of the current generation's RunStarted.
	startedAt time.Time

	cos     []*coroutine
	current *coroutine
	guard   guardState
	killing bool
	fatal   error

	round round
}

// round collects what one drain of the inbox changes, committed as one batch.
type round struct {
	create bool
	// codeless, when set, says that the run's workflow is not registered
	// and that this round journals inputs without its code (see
	// journalWithoutCode); the run is loaded again next round.
	codeless      *NotRegisteredError
	events        []history.Event
	addTasks      []history.Task
	doneTasks     []int64
	dropTasks     bool
	status        *history.StatusUpdate
	cancel        []*Future // futures whose in-flight work to stop after commit
	outcome       *Outcome
	replies       []input
	retry         []input // inputs to deliver again if the commit fails
	queries       []queryAnswer
	late          []lateAnswer // answers decided before the commit, sent after it
	continued     bool
	continueInput []byte
	restart       int64      // Seq of the RunStarted of a new run that took the ID of an ended one
	stopTimeouts  []int64    // steps of run-timeout tasks whose timers to stop after commit
	mark          *roundMark // see blockAfterInput

	obs []Observation // emitted once the round commits; see observe
}

type lateAnswer struct {
	in  input
	err error
}

type queryAnswer struct {
	in     input
	answer []byte
	err    error
}

func newRun(e *Engine, id string) *Run {
	return &Run{eng: e, id: id}
}

// reset discards every trace of the run's in-memory execution.
func (r *Run) reset() {
	if len(r.cos) > 0 {
		r.kill()
	}
	// Field by field: mu, inbox, busy and lruElem belong to other
	// goroutines too.
	r.spec, r.loaded, r.ended, r.terminated, r.blocked, r.status = nil, false, false, false, nil, 0
	r.parent, r.parentStep, r.lastSeq, r.replay, r.lastPayload = "", 0, 0, nil, nil
	r.canceled, r.root, r.pending, r.signals, r.queries, r.versions, r.inQuery, r.replaying = false, nil, nil, nil, nil, nil, false, false
	r.upd, r.locals = nil, nil
	r.cos, r.current, r.killing, r.fatal = nil, nil, false, nil
	r.firstSeq, r.histBytes = 0, 0
	r.setHeader(nil)
}

// prepare readies the run to execute spec from the start of a generation.
func (r *Run) prepare(spec WorkflowSpec) {
	if len(r.cos) > 0 {
		r.kill()
	}
	r.spec = spec
	r.root = &Scope{}
	r.pending = map[int64]*Future{}
	r.signals = map[string]*SignalQueue{}
	r.signalKeys = map[string]bool{}
	r.queries = map[string]QueryHandler{}
	r.upd = newUpdateBook()
	r.versions = map[string]int{}
	r.attrs = nil
	r.locals = nil
	r.cos, r.current, r.killing, r.fatal = nil, nil, false, nil
	r.ended, r.canceled, r.terminated = false, false, false
}

// Local returns the value the code stored under key in this generation of
// the run (SetLocal), or nil.
func (r *Run) Local(key any) any { return r.locals[key] }

// SetLocal stores v under key for the rest of this generation of the run:
// state that libraries built on the workflow API keep per run. The code
// that stores it runs again on replay, so it is rebuilt like any other
// state of the code.
func (r *Run) SetLocal(key, v any) {
	if r.locals == nil {
		r.locals = map[any]any{}
	}
	r.locals[key] = v
}

// ID returns the run's ID.
func (r *Run) ID() string { return r.id }

// WorkflowName returns the name the run's workflow is registered under.
func (r *Run) WorkflowName() string { return r.spec.Name() }

// Codec returns the engine's payload codec.
func (r *Run) Codec() history.Codec { return r.eng.codec }

// Now returns the run's deterministic time: when the input being processed
// was recorded.
func (r *Run) Now() time.Time { return r.now }

// IsReplaying reports whether the code is re-executing recorded steps.
func (r *Run) IsReplaying() bool { return r.replaying || len(r.replay) > 0 }

// RootScope returns the run's outermost cancellation scope.
func (r *Run) RootScope() *Scope { return r.root }

// Logger returns the engine's logger.
func (r *Run) Logger() *slog.Logger { return r.eng.log }

// Fail stops the run because the code cannot go on (for example a payload
// that does not decode). The run is blocked, not failed, and nothing of the
// current step is recorded. Fail does not return.
func (r *Run) Fail(err error) {
	r.Guard("a workflow call")
	if r.fatal == nil {
		r.fatal = err
	}
	r.Await(never)
}

// Spawn starts fn as a new coroutine of the run (workflow.Go).
func (r *Run) Spawn(fn func()) {
	r.checkCommand("Go")
	r.spawn(fn)
}

func (r *Run) startMain(input []byte) {
	spec := r.spec
	r.spawn(func() {
		out, err := spec.Execute(r, input)
		r.complete(out, err)
	})
}

// applyInput feeds one input event to the code's state, live or in replay.
func (r *Run) applyInput(ev history.Event) {
	r.now = ev.Time
	switch ev.Type {
	case history.EventActivityCompleted, history.EventActivityFailed, history.EventTimerFired,
		history.EventChildCompleted, history.EventChildFailed, history.EventSignalDelivered:
		f := r.pending[ev.Ref]
		if f == nil || f.kind != answeredBy[ev.Type] {
			issued := fmt.Sprintf("has nothing waiting at step %d", ev.Ref)
			if f != nil {
				issued = fmt.Sprintf("waits at step %d for something else (%s)", ev.Ref, f.kind)
			}
			r.fatal = &NonDeterminismError{
				RunID: r.id, Workflow: r.spec.Name(), Step: ev.Seq, Recorded: describeEvent(ev), Issued: issued,
			}
			return
		}
		delete(r.pending, ev.Ref)
		switch ev.Type {
		case history.EventActivityFailed, history.EventChildFailed:
		case history.EventSignalDelivered:
			if len(ev.Payload) == 0 {
				f.settle(nil, nil)
				return
			}
		default:
			f.settle(ev.Payload, nil)
			return
		}
		fl, err := r.eng.decodeFailure(ev.Payload)
		if err != nil {
			r.fatal = &PayloadError{What: fmt.Sprintf("failure recorded at step %d", ev.Seq), Err: err}
			return
		}
		f.settle(nil, fl)
	case history.EventSignalReceived:
		name, key := splitSignalName(ev.Name)
		if key != "" {
			r.signalKeys[key] = true
		}
		r.signalQueue(name).push(ev.Payload)
	case history.EventCancelRequested:
		r.canceled = true
		r.root.canceled = true
		r.settleCanceled()
	case history.EventRunTerminated:
		r.ended, r.terminated = true, true
	case history.EventUpdateAccepted:
		r.startUpdate(ev)
	case history.EventOperatorAction, history.EventActivityRetried, history.EventInputQueued:
		// Notes, for people and tools: nothing for the code (IsNote).
	default:
		r.fatal = &NonDeterminismError{
			RunID: r.id, Workflow: r.spec.Name(), Step: ev.Seq, Recorded: describeEvent(ev),
			Issued: "expects an input (an outcome, a signal, a cancellation) there",
		}
	}
}

// appendInput records a live input event and applies it.
func (r *Run) appendInput(ev history.Event) {
	r.replaying = false
	r.lastSeq++
	r.histBytes += int64(len(ev.Payload)) + eventOverhead
	ev.Seq = r.lastSeq
	ev.Time = r.liveNow
	r.round.events = append(r.round.events, ev)
	if ev.Type == history.EventSignalReceived && r.eng.obs != nil {
		r.observeSignal(ev)
	}
	r.applyInput(ev)
	r.markRound()
	if r.fatal == nil && !r.ended {
		r.runUntilBlocked()
	}
}

// observeSignal reports a journaled signal to the observer. Out of line:
// its Observation would otherwise widen appendInput's frame on the path of
// every input.
//
//go:noinline
func (r *Run) observeSignal(ev history.Event) {
	name, _ := splitSignalName(ev.Name)
	r.observe(Observation{Kind: ObsSignalReceived, Time: ev.Time, Name: name, Step: ev.Seq})
}

// load rebuilds the run from its journal, replaying its current generation.
func (r *Run) load() error {
	e := r.eng
	info, err := e.store.Run(e.ctx, r.id)
	if err == nil {
		err = journalless(info)
	}
	if err != nil {
		return err
	}
	first := max(info.FirstSeq, 1)
	events, err := e.store.Events(e.ctx, r.id, first-1)
	if err != nil {
		return err
	}
	r.reset()
	r.status, r.parent, r.parentStep = info.Status, info.Parent, info.ParentStep
	if len(events) > 0 {
		r.lastSeq = events[len(events)-1].Seq
	}
	r.firstSeq = first
	r.timeout = nil
	if t := e.committedTimeout(r.id); t != nil && t.Step == -first {
		r.timeout = t
	}
	for _, ev := range events {
		r.histBytes += int64(len(ev.Payload)) + eventOverhead
	}
	if len(events) == 0 || events[0].Type != history.EventRunStarted {
		r.blocked = fmt.Errorf("%w: run %q: the journal of its current generation does not begin with RunStarted", history.ErrCorrupt, r.id)
		return nil
	}
	r.startedAt = events[0].Time
	if e.obs != nil {
		e.observeNow(Observation{Kind: ObsRunLoaded, Time: e.clock.Now(), Start: r.startedAt, RunID: r.id, Workflow: events[0].Name, Step: r.lastSeq})
	}
	if err := e.taskDamage(r.id); err != nil && !info.Status.Ended() {
		r.blocked = err // held since Open: resuming would run without the damaged task
		return nil
	}
	spec, ok := e.reg.workflow(events[0].Name)
	if !ok && info.Status.Ended() {
		// Nothing of an ended run needs its code (a new run may still take
		// its ID).
		r.blocked, r.ended = &NotRegisteredError{Kind: "workflow", Name: events[0].Name}, true
		return nil
	}
	if !ok {
		return &NotRegisteredError{Kind: "workflow", Name: events[0].Name}
	}
	// Replaying until the first live input: even the code past the
	// journal's last event already ran once.
	r.replaying = true
	if err := r.replayEvents(spec, events); err != nil {
		r.kill()
		lastSeq, hb := r.lastSeq, r.histBytes
		r.reset()
		r.status, r.parent, r.parentStep, r.lastSeq = info.Status, info.Parent, info.ParentStep, lastSeq
		r.firstSeq, r.histBytes = first, hb
		r.blocked = err
		// An ended run stays ended even if today's code cannot replay it.
		r.ended = info.Status.Ended()
		return nil
	}
	r.loaded = true
	if info.Status == history.StatusTerminated || info.Status == history.StatusTimedOut {
		r.ended, r.terminated = true, true
	}
	return nil
}

// replayEvents runs spec against a generation's events and reports the
// first divergence (or other reason the code cannot go on).
func (r *Run) replayEvents(spec WorkflowSpec, events []history.Event) error {
	r.prepare(spec)
	r.now = events[0].Time
	r.replay = events[1:]
	for len(r.replay) > 0 && atStart(r.replay[0], events[0].Seq) {
		ev := r.replay[0]
		r.replay = r.replay[1:]
		r.applyInput(ev)
	}
	if err := r.replayHeader(); err != nil {
		return err
	}
	r.startMain(events[0].Payload)
	r.runUntilBlocked()
	for r.fatal == nil && len(r.replay) > 0 {
		ev := r.replay[0]
		if ev.Type.IsCommand() {
			issued := "waits for something else without issuing it"
			if r.ended {
				issued = "has already returned"
			}
			return &NonDeterminismError{RunID: r.id, Workflow: spec.Name(), Step: ev.Seq, Recorded: describeEvent(ev), Issued: issued}
		}
		r.replay = r.replay[1:]
		r.applyInput(ev)
		if r.fatal == nil && !r.ended {
			r.runUntilBlocked()
		}
	}
	return r.fatal
}

// create starts a new run in the current round.
func (r *Run) create(in input) {
	r.reset()
	r.prepare(in.spec)
	r.parent, r.parentStep = in.parent, in.parentStep
	r.round.create = true
	r.now = r.liveNow
	r.firstSeq = 1
	r.appendEvent(history.EventRunStarted, in.spec.Name(), in.payload)
	r.setTimeout(in.timeouts, 0, 1)
	if in.startOnly {
		r.signalAtStart(in)
	}
	r.journalHeader(in.header)
	r.loaded = true
	r.startMain(in.payload)
	r.runUntilBlocked()
}

// signalAtStart journals the signal of a signal-with-start right after the
// RunStarted of the generation it starts, with that event's Seq as Ref, and
// puts it in its channel: the code finds it there when it first runs, live
// and in replay.
func (r *Run) signalAtStart(in input) {
	start := r.lastSeq
	seq := r.appendEvent(history.EventSignalReceived, in.sigName, in.sigPayload)
	r.round.events[len(r.round.events)-1].Ref = start
	if r.eng.obs != nil {
		r.observe(Observation{Kind: ObsSignalReceived, Time: r.now, Name: in.sigName, Step: seq})
	}
	r.signalQueue(in.sigName).push(in.sigPayload)
}

// atStart reports whether ev is a signal delivered with the start of the
// generation whose RunStarted has Seq start.
func atStart(ev history.Event, start int64) bool {
	return ev.Type == history.EventSignalReceived && ev.Ref == start
}

// handle applies a drained inbox and commits the result.
func (r *Run) handle(inputs []input) {
	e := r.eng
	r.round = round{}
	r.liveNow = e.clock.Now()
	for _, in := range inputs {
		r.round.mark = nil
		r.handleOne(in)
		if r.fatal == nil {
			r.noteMisuse()
		}
		if r.fatal == nil && r.round.continued {
			r.restartGeneration()
		}
		if r.fatal == nil && len(r.round.events) > 0 && !r.ended {
			r.warnHistory()
		}
		if r.fatal != nil && !r.blockAfterInput() {
			// The inputs left still apply, to the now blocked run.
			r.becomeBlocked()
		}
	}
	r.commitRound()
}

func (r *Run) handleOne(in input) {
	e := r.eng
	if in.kind == inStart && !in.startOnly && (r.round.create || !in.reuse.mayReplace(false)) {
		if r.loaded || r.blocked != nil || r.round.create {
			// After the commit: the run this start collides with may be
			// the one this very round creates.
			r.round.late = append(r.round.late, lateAnswer{in, fmt.Errorf("%w: %q", history.ErrRunExists, r.id)})
			return
		}
		if in.spec == nil {
			spec, ok := e.reg.workflow(in.name)
			if !ok {
				e.parkInput(in.name, r.id, in)
				return
			}
			in.spec = spec
		}
		// The run may exist without being in memory: never run its code
		// again as if it were new. (The commit would refuse the duplicate
		// too, but only after the code ran.)
		switch absent, err := e.runAbsent(r.id); {
		case err != nil:
			in.answer(fmt.Errorf("chorus: start run %q: %w", r.id, err))
			return
		case !absent:
			in.answer(fmt.Errorf("%w: %q", history.ErrRunExists, r.id))
			return
		}
		r.round.replies = append(r.round.replies, in)
		r.create(in)
		return
	}
	if !r.loaded && r.blocked == nil && !r.round.create {
		if nr := r.round.codeless; nr != nil {
			r.loadFailed(in, nr)
			return
		}
		if err := r.load(); err != nil {
			if in.kind == inStart && errors.Is(err, history.ErrRunNotFound) {
				r.round.replies = append(r.round.replies, in)
				r.create(in) // signal-with-start, or a start that may reuse an ID, of a new run
				return
			}
			r.loadFailed(in, err)
			return
		}
		if r.blocked != nil && r.status != history.StatusBlocked && !r.ended {
			r.round.status = &history.StatusUpdate{Status: history.StatusBlocked, Failure: e.encodeFailure(FailureOf(r.blocked))}
			r.round.outcome = &Outcome{Status: history.StatusBlocked, Blocked: r.blocked}
		}
		if r.loaded && r.status == history.StatusBlocked {
			// Fixed code replays the run: it resumes.
			r.round.status = &history.StatusUpdate{Status: history.StatusRunning}
			e.redispatchRecovered(r)
		}
	}
	r.apply(in)
}

func (r *Run) loadFailed(in input, err error) {
	e := r.eng
	var nr *NotRegisteredError
	if errors.As(err, &nr) && r.journalWithoutCode(in, nr) {
		return
	}
	if errors.As(err, &nr) && (isInternalInput(in.kind) || in.internal || in.kind == inResume) {
		// Work the journal promised waits for the registration; nobody has
		// been told it is done, so nothing is lost if the process dies.
		e.parkInput(nr.Name, r.id, in)
		return
	}
	if errors.Is(err, history.ErrCorrupt) {
		// A damaged journal will not read better later: block the run with
		// the reason, once, instead of retrying its inputs forever.
		e.log.Error("chorus: run's journal is damaged; blocked", "run", r.id, "err", err)
		r.blocked = err
		r.round.status = &history.StatusUpdate{Status: history.StatusBlocked, Failure: e.encodeFailure(FailureOf(err))}
		r.round.outcome = &Outcome{Status: history.StatusBlocked, Blocked: err}
		r.apply(in)
		return
	}
	if !errors.Is(err, history.ErrRunNotFound) && !errors.As(err, &nr) && !errors.Is(err, ErrRunQueued) && !errors.Is(err, ErrRunEnded) {
		e.log.Error("chorus: load run", "run", r.id, "err", err)
		if (isInternalInput(in.kind) || in.kind == inResume) && !errors.Is(err, history.ErrStoreClosed) {
			// A store hiccup must not lose what an activity, timer or child
			// reported.
			e.redeliverLater(r.id, in)
			return
		}
	}
	in.answer(err)
}

func isInternalInput(k inputKind) bool {
	switch k {
	case inActivityResult, inTimerFired, inChildResult, inSignalDelivered, inTimeout, inWake, inBlock:
		return true
	}
	return false
}

// restartGeneration starts the generation that a continue-as-new asked for,
// within the current round.
func (r *Run) restartGeneration() {
	for n := 0; r.round.continued && r.fatal == nil; n++ {
		if n == maxContinuesPerRound {
			r.fatal = fmt.Errorf("chorus: run %q continued as new %d times without waiting for anything", r.id, n)
			return
		}
		in := r.round.continueInput
		r.round.continued, r.round.continueInput, r.round.mark = false, nil, nil
		for _, f := range r.pending {
			if f.kind == futActivity || f.kind == futTimer {
				r.round.cancel = append(r.round.cancel, f)
			}
		}
		// The old generation's promises are dropped with its tasks, but for
		// the starts of children that outlive it (their parent-close policy
		// lets them run or asks them to cancel).
		r.round.addTasks = slices.DeleteFunc(r.round.addTasks, func(t history.Task) bool {
			f := r.pending[t.Step]
			return t.Kind != history.TaskStartChild || f == nil || f.kind != futChild || f.closePolicy == ParentCloseTerminate
		})
		r.round.doneTasks = nil
		r.round.dropTasks = true
		prev := r.timeout
		r.dropTimeout()
		r.releaseChildren()
		spec := r.spec
		r.kill()
		r.prepare(spec)
		r.now = r.liveNow
		r.histBytes = 0
		seq := r.appendEvent(history.EventRunStarted, spec.Name(), in)
		r.firstSeq = seq
		if prev != nil {
			// The execution deadline holds across generations; the run
			// deadline starts over.
			r.setTimeout(Timeouts{Execution: prev.Execution, Run: prev.Run}, prev.ExecutionDeadline, seq)
		}
		r.round.status = &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: seq}
		r.round.outcome = nil
		r.journalHeader(r.header) // the next generation keeps the context
		r.startMain(in)
		r.runUntilBlocked()
	}
}

// maxContinuesPerRound stops a workflow that continues as new in a loop
// without ever waiting.
const maxContinuesPerRound = 1000

// apply handles one input on a loaded (or blocked) run. Each kind of input
// has a method of its own: this dispatch sits on the deep path of every
// input (a drain's goroutine grows its stack to fit it), so its own frame
// stays small.
func (r *Run) apply(in input) {
	if in.kind == inStart {
		// The run exists.
		var ok bool
		if in, ok = r.applyStartExisting(in); !ok {
			return
		}
	}
	if in.wake != 0 && (r.blocked == nil || r.ended) {
		// A blocked run keeps it until it resumes.
		r.round.doneTasks = append(r.round.doneTasks, in.wake)
	}
	switch {
	case in.kind == inWake:
		r.applyQueued(in)
	case in.kind == inQuery:
		r.answerQuery(in)
	case in.kind == inTerminate:
		r.terminate(in)
	case in.kind == inReset:
		r.applyReset(in)
	case in.kind == inTimeout:
		r.timeOut(in)
	case in.kind == inUpdate:
		r.applyUpdate(in)
	case in.kind == inBlock:
		r.applyBlock(in)
	case r.blocked != nil && !r.ended:
		r.applyBlocked(in)
	case in.kind == inResume:
		r.round.replies = append(r.round.replies, in)
	case in.kind == inStart: // signal-with-start of a run that exists
		r.round.replies = append(r.round.replies, in)
	case r.ended:
		r.applyEnded(in)
	case in.kind == inCancel:
		r.applyCancel(in)
	case in.kind == inSignal:
		r.applySignal(in)
	default:
		r.applyOutcome(in)
	}
}

// applyBlock blocks a live run whose activity cannot run for want of a
// payload key. The activity's task stays in the journal: it runs again
// once the run resumes, when the engine is opened with the key.
func (r *Run) applyBlock(in input) {
	r.round.replies = append(r.round.replies, in)
	if r.blocked != nil || r.ended || r.fatal != nil {
		return
	}
	r.fatal = &PayloadError{What: fmt.Sprintf("input of activity %q (step %d)", in.name, in.step),
		Err: fmt.Errorf("%w: %s", history.ErrPayloadKey, in.failure.Message)}
}

// applyStartExisting handles a start of a run that exists: it replaces the
// run where the ID reuse policy allows, refuses a plain start, and turns a
// signal-with-start into its signal, which apply goes on with (ok).
func (r *Run) applyStartExisting(in input) (sig input, ok bool) {
	if r.replaceRun(in) {
		return input{}, false
	}
	if !in.startOnly {
		r.round.late = append(r.round.late, lateAnswer{in, fmt.Errorf("%w: %q", history.ErrRunExists, r.id)})
		return input{}, false
	}
	return input{kind: inSignal, name: in.sigName, payload: in.sigPayload, reply: in.reply, after: in.after}, true
}

// applyBlocked answers an input to a blocked run, after the commit, which
// may record the blocked status.
func (r *Run) applyBlocked(in input) {
	var err error
	switch in.kind {
	case inActivityResult, inTimerFired, inChildResult, inSignalDelivered:
		if in.external {
			err = &BlockedError{RunID: r.id, Reason: r.blocked.Error(), Cause: r.blocked}
			break
		}
		r.eng.log.Warn("chorus: dropping an outcome for a blocked run; the work is redone once the run resumes",
			"run", r.id, "step", in.step, "reason", r.blocked)
	case inResume, inStart:
	default:
		err = &BlockedError{RunID: r.id, Reason: r.blocked.Error(), Cause: r.blocked}
	}
	r.round.late = append(r.round.late, lateAnswer{in, err})
}

// applyEnded answers an input to a run that has ended.
func (r *Run) applyEnded(in input) {
	switch in.kind {
	case inCancel, inSignal:
		in.answer(fmt.Errorf("%w: run %q", ErrRunEnded, r.id))
	case inActivityResult, inTimerFired:
		if in.external {
			// After the commit: the caller reads the journal to say more.
			r.round.late = append(r.round.late, lateAnswer{in, fmt.Errorf("%w: run %q", ErrRunEnded, r.id)})
			break
		}
		// A task an older version left behind when the run ended:
		// delete it, or it runs again at every Open.
		r.eng.doneTask(r.id, in.step)
		r.dropStale(in)
	default:
		r.dropStale(in)
	}
}

// applyCancel journals a cancellation request, once.
func (r *Run) applyCancel(in input) {
	if !r.canceled {
		r.noteAction(in, history.OperatorAction{Action: history.ActionCancel})
		r.appendInput(history.Event{Type: history.EventCancelRequested, Ref: in.wake})
	}
	r.round.replies = append(r.round.replies, in)
}

// applySignal journals a signal unless it is over a limit or a redelivery.
func (r *Run) applySignal(in input) {
	if m := r.eng.limits.MaxPendingSignals; m > 0 && r.pendingSignals() >= m {
		r.round.late = append(r.round.late, lateAnswer{in, &LimitError{Limit: "MaxPendingSignals", RunID: r.id, Value: int64(m) + 1, Max: int64(m)}})
		return
	}
	if in.key != "" && r.signalKeys[in.key] {
		r.round.late = append(r.round.late, lateAnswer{in, nil}) // delivered before a crash
		return
	}
	if err := r.checkSignalRoom(in.payload); err != nil {
		r.round.late = append(r.round.late, lateAnswer{in, err})
		return
	}
	r.noteAction(in, history.OperatorAction{Action: history.ActionSignal, Signal: in.name})
	r.appendInput(history.Event{Type: history.EventSignalReceived, Name: joinSignalName(in.name, in.key), Payload: in.payload, Ref: in.wake})
	r.round.replies = append(r.round.replies, in)
}

// replaceRun starts a new run under this run's ID when the start's ID reuse
// policy allows it: the run has ended (and, for
// IDReuseAllowDuplicateFailedOnly, did not complete), or it has not and the
// policy is IDReuseTerminateIfRunning, which terminates it first in the
// same commit. A run started in this very round is never replaced.
func (r *Run) replaceRun(in input) bool {
	if r.round.create || r.round.restart != 0 {
		return false
	}
	policy := in.reuse.resolve(in.startOnly)
	switch {
	case r.ended:
		status := r.status
		if r.round.status != nil {
			status = r.round.status.Status
		}
		if !policy.mayReplace(in.startOnly) || policy == IDReuseAllowDuplicateFailedOnly && status == history.StatusCompleted {
			return false
		}
	case policy == IDReuseTerminateIfRunning && !in.startOnly:
		r.terminate(input{kind: inTerminate, failure: &history.Failure{Type: FailureTypeTerminated,
			Message: "chorus: terminated to start a new run with the same ID (ID reuse policy)", NonRetryable: true}})
	default:
		return false
	}
	r.restartRun(in)
	return true
}

// restartRun starts a new run under the ID of the ended run in the current
// round: its RunStarted follows the ended run's events, which stay in the
// journal, and the commit resets the run's row (history.Batch.Reuse).
func (r *Run) restartRun(in input) {
	r.blocked = nil
	r.prepare(in.spec)
	r.replay, r.replaying = nil, false
	r.parent, r.parentStep = in.parent, in.parentStep
	r.now = r.liveNow
	r.histBytes = 0
	seq := r.appendEvent(history.EventRunStarted, in.spec.Name(), in.payload)
	r.firstSeq = seq
	r.setTimeout(in.timeouts, 0, seq)
	if in.startOnly {
		r.signalAtStart(in)
	}
	r.journalHeader(in.header)
	r.round.restart = seq
	r.round.status = &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: seq}
	r.round.outcome = nil
	r.loaded = true
	r.round.replies = append(r.round.replies, in)
	r.startMain(in.payload)
	r.runUntilBlocked()
}

// applyOutcome records what an activity, timer, child or signal delivery
// reported, if the code still waits for it.
func (r *Run) applyOutcome(in input) {
	f := r.pending[in.step]
	want := map[inputKind]futureKind{inActivityResult: futActivity, inTimerFired: futTimer, inChildResult: futChild, inSignalDelivered: futSignal}[in.kind]
	if f == nil || f.kind != want {
		if in.external {
			// After the commit: the caller reads the journal to say why.
			r.round.late = append(r.round.late, lateAnswer{in, errNotWaiting})
			return
		}
		r.dropStale(in)
		return
	}
	if in.external && in.name != "" && in.name != f.name {
		in.answer(fmt.Errorf("%w: the key names activity %q, not %q", ErrActivityNotFound, f.name, in.name))
		return
	}
	ev := history.Event{Ref: in.step, Name: f.name, Payload: in.payload}
	if r.eng.obs != nil {
		r.observeOutcome(in, f)
	}
	switch in.kind {
	case inActivityResult:
		ev.Type = history.EventActivityCompleted
		if in.failure != nil {
			ev.Type, ev.Payload = history.EventActivityFailed, r.eng.encodeFailure(in.failure)
		}
		r.round.doneTasks = append(r.round.doneTasks, in.step)
	case inTimerFired:
		ev.Type = history.EventTimerFired
		r.round.doneTasks = append(r.round.doneTasks, in.step)
	case inChildResult:
		ev.Type = history.EventChildCompleted
		if in.failure != nil {
			ev.Type, ev.Payload = history.EventChildFailed, r.eng.encodeFailure(in.failure)
		}
		r.round.doneTasks = append(r.round.doneTasks, in.step, -in.step)
	case inSignalDelivered:
		ev.Type, ev.Payload = history.EventSignalDelivered, nil
		if in.failure != nil {
			ev.Payload = r.eng.encodeFailure(in.failure)
		}
		r.round.doneTasks = append(r.round.doneTasks, in.step)
	}
	r.round.retry = append(r.round.retry, in)
	if in.retried != nil {
		r.noteRetried(f.name, in.step, in.retried)
	}
	r.appendInput(ev)
	r.round.replies = append(r.round.replies, in)
}

// dropStale answers an outcome nobody waits for any more (canceled, a
// duplicate after a crash, or for a run that has ended).
func (r *Run) dropStale(in input) {
	in.answer(nil)
}

// terminate ends the run at once with a recorded reason.
func (r *Run) terminate(in input) { r.end(in, history.StatusTerminated) }

// end ends the run at once, whatever its code is doing, with the failure
// in.failure and status (terminated or timed out): a RunTerminated input
// is journaled, its pending work dropped, and its children follow their
// parent-close policies.
func (r *Run) end(in input, status history.RunStatus) {
	if r.ended {
		in.answer(fmt.Errorf("%w: run %q", ErrRunEnded, r.id))
		return
	}
	if r.pending == nil {
		// A blocked run has no code state: its journal says which children
		// its parent-close policies still concern.
		r.pending = r.journalChildren()
	}
	for _, f := range r.pending {
		r.round.cancel = append(r.round.cancel, f)
	}
	r.kill()
	r.blocked = nil
	fl := r.eng.encodeFailure(in.failure)
	r.round.retry = nil
	if in.identity != "" && in.failure != nil {
		r.noteAction(in, history.OperatorAction{Action: history.ActionTerminate, Reason: in.failure.Message})
	}
	r.lastSeq++
	r.round.events = append(r.round.events, history.Event{Seq: r.lastSeq, Type: history.EventRunTerminated, Payload: fl, Time: r.liveNow})
	r.round.addTasks = nil
	r.round.doneTasks = nil
	r.round.dropTasks = true
	r.ended, r.terminated, r.loaded = true, true, true
	r.endLive(&history.StatusUpdate{Status: status, Failure: fl})
	r.round.replies = append(r.round.replies, in)
}

// becomeBlocked throws away the current round after workflow code failed
// live (a panic, a payload that does not encode, a version no longer
// supported): nothing of it is recorded, and the run's status says why it
// stopped. Those who wait for an input of the round are answered once the
// blocked status is durable.
func (r *Run) becomeBlocked() {
	e := r.eng
	reason := r.fatal
	rd := r.round
	blockedErr := &BlockedError{RunID: r.id, Reason: reason.Error(), Cause: reason}
	r.kill()
	if rd.create || rd.restart != 0 {
		// Nothing was ever recorded (or, for a new run under the ID of an
		// ended one, nothing of it): the caller of Start gets the error.
		for _, in := range rd.replies {
			in.answer(reason)
		}
		for _, q := range rd.queries {
			q.in.answer(reason)
		}
		r.reset()
		r.round = round{late: rd.late}
		return
	}
	e.log.Error("chorus: run blocked", "run", r.id, "err", reason)
	lastSeq := r.lastSeq - int64(len(rd.events))
	parent, parentStep, firstSeq := r.parent, r.parentStep, r.firstSeq
	r.reset()
	r.blocked, r.lastSeq, r.parent, r.parentStep, r.firstSeq = reason, lastSeq, parent, parentStep, firstSeq
	r.timeout = e.committedTimeout(r.id) // a blocked run still times out
	r.round = round{late: rd.late}
	r.round.status = &history.StatusUpdate{Status: history.StatusBlocked, Failure: e.encodeFailure(FailureOf(reason))}
	r.round.outcome = &Outcome{Status: history.StatusBlocked, Blocked: reason}
	for _, in := range rd.replies {
		var err error
		if !isInternalInput(in.kind) && in.kind != inResume {
			err = blockedErr
		}
		r.round.late = append(r.round.late, lateAnswer{in, err})
	}
	for _, q := range rd.queries {
		q.err, q.answer = blockedErr, nil
		r.round.queries = append(r.round.queries, q)
	}
}

// Outcome is how a run ended (or why it is blocked), as told to waiters.
type Outcome struct {
	Status   history.RunStatus
	Workflow string // the workflow of the generation that ended, when known
	Result   []byte
	Failure  []byte
	Blocked  error // why the run is blocked, when Status is StatusBlocked
}

func sortTasks(ts []history.Task) {
	slices.SortFunc(ts, func(a, b history.Task) int {
		return cmp.Or(cmp.Compare(a.RunID, b.RunID), cmp.Compare(a.Step, b.Step))
	})
}

// runExister is implemented by stores that can tell whether a run exists
// more cheaply than by reading its row (history/sqlite).
type runExister interface {
	RunExists(ctx context.Context, runID string) (bool, error)
}

// runAbsent reports whether the store has no run with the ID, or the
// store's error when it cannot tell (a damaged row, for one). A store with
// RunExists answers the common case, a new ID, without reading a row; an
// ID it has is read as before, so that what a duplicate start is told does
// not depend on the store.
func (e *Engine) runAbsent(id string) (bool, error) {
	if x, ok := e.store.(runExister); ok {
		if exists, err := x.RunExists(e.ctx, id); err == nil && !exists {
			return true, nil
		}
	}
	switch _, err := e.store.Run(e.ctx, id); {
	case err == nil:
		return false, nil
	case errors.Is(err, history.ErrRunNotFound):
		return true, nil
	default:
		return false, err
	}
}
