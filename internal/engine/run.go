package engine

import (
	"cmp"
	"container/list"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

type inputKind uint8

const (
	inStart inputKind = iota + 1
	inActivityResult
	inCancel
	inResume
)

// input is one thing that happens to a run.
type input struct {
	kind    inputKind
	spec    WorkflowSpec     // inStart
	payload []byte           // inStart: workflow input; inActivityResult: result
	failure *history.Failure // inActivityResult: final failure
	step    int64            // inActivityResult
	reply   chan error       // answered once the input is durable (or refused); may be nil
}

func (in input) answer(err error) {
	if in.reply != nil {
		in.reply <- err
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

	spec     WorkflowSpec
	loaded   bool
	ended    bool
	blocked  error
	status   history.RunStatus // as last committed
	lastSeq  int64
	replay   []history.Event
	now      time.Time
	liveNow  time.Time // the engine clock when the current round began
	canceled bool
	root     *Scope
	pending  map[int64]*Future

	cos     []*coroutine
	current *coroutine
	yielded chan struct{}
	killing bool
	fatal   error

	round round
}

// round collects what one drain of the inbox changes, committed as one batch.
type round struct {
	create    bool
	events    []history.Event
	addTasks  []history.Task
	doneTasks []int64
	status    *history.StatusUpdate
	cancel    []int64 // steps whose running attempts to cancel after commit
	outcome   *Outcome
	replies   []input
	retry     []input // inputs to deliver again if the commit fails
}

func newRun(e *Engine, id string) *Run {
	return &Run{eng: e, id: id}
}

// reset discards every trace of the run's in-memory execution.
func (r *Run) reset() {
	if len(r.cos) > 0 {
		r.kill()
	}
	r.spec, r.loaded, r.ended, r.blocked, r.status = nil, false, false, nil, 0
	r.lastSeq, r.replay, r.canceled, r.root, r.pending = 0, nil, false, nil, nil
	r.cos, r.current, r.killing, r.fatal = nil, nil, false, nil
}

func (r *Run) prepare(spec WorkflowSpec) {
	r.spec = spec
	r.root = &Scope{}
	r.pending = map[int64]*Future{}
	r.yielded = make(chan struct{})
	r.killing = false
	r.fatal = nil
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
func (r *Run) IsReplaying() bool { return len(r.replay) > 0 }

// RootScope returns the run's outermost cancellation scope.
func (r *Run) RootScope() *Scope { return r.root }

// Logger returns the engine's logger.
func (r *Run) Logger() *slog.Logger { return r.eng.log }

// Fail stops the run because the code cannot go on (for example a payload
// that does not decode). The run is blocked, not failed, and nothing of the
// current step is recorded. Fail does not return.
func (r *Run) Fail(err error) {
	if r.fatal == nil {
		r.fatal = err
	}
	r.Await(never)
}

// command records that the code issued a command: during replay it must be
// the next event of the journal; live it is appended.
func (r *Run) command(typ history.EventType, name string, payload []byte) (seq int64, live bool) {
	if len(r.replay) > 0 {
		ev := r.replay[0]
		if ev.Type != typ || ev.Name != name {
			r.Fail(&NonDeterminismError{
				RunID: r.id, Workflow: r.spec.Name(), Step: ev.Seq,
				Recorded: describeEvent(ev),
				Issued:   "issues " + describeEvent(history.Event{Type: typ, Name: name}),
			})
		}
		r.replay = r.replay[1:]
		return ev.Seq, false
	}
	r.lastSeq++
	r.round.events = append(r.round.events, history.Event{Seq: r.lastSeq, Type: typ, Name: name, Payload: payload, Time: r.now})
	return r.lastSeq, true
}

// ScheduleActivity issues an ActivityScheduled command and returns the
// future its outcome settles. A scope already canceled gets a canceled
// future and no command.
func (r *Run) ScheduleActivity(s *Scope, name string, input []byte, opts *activity.Options) *Future {
	f := &Future{name: name, scope: s}
	if s.Canceled() {
		f.settle(nil, canceledFailure())
		return f
	}
	merged := activity.Merge(r.eng.defaultActivity, opts)
	optBytes, err := json.Marshal(merged)
	if err != nil {
		r.Fail(fmt.Errorf("chorus: encode options of activity %q: %w", name, err))
	}
	seq, live := r.command(history.EventActivityScheduled, name, input)
	f.step = seq
	r.pending[seq] = f
	if live {
		r.round.addTasks = append(r.round.addTasks, history.Task{
			RunID: r.id, Step: seq, Kind: history.TaskActivity, Name: name, Input: input, Options: optBytes, Attempt: 1,
		})
	}
	return f
}

// complete issues the terminal command once the main function returned.
func (r *Run) complete(out []byte, err error) {
	typ, status, payload := history.EventRunCompleted, history.StatusCompleted, out
	var fail []byte
	if err != nil {
		var pe *PayloadError
		if errors.As(err, &pe) {
			r.Fail(err)
		}
		typ, status = history.EventRunFailed, history.StatusFailed
		if r.canceled && errors.Is(err, ErrCanceled) {
			typ, status = history.EventRunCanceled, history.StatusCanceled
		}
		fail = r.eng.encodeFailure(FailureOf(err))
		payload = fail
	}
	_, live := r.command(typ, "", payload)
	r.ended = true
	if live {
		su := &history.StatusUpdate{Status: status, Failure: fail}
		if err == nil {
			su.Result = out
		}
		r.round.status = su
		r.round.outcome = &Outcome{Status: status, Result: su.Result, Failure: fail}
	}
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
	case history.EventActivityCompleted, history.EventActivityFailed:
		f := r.pending[ev.Ref]
		if f == nil {
			r.fatal = &NonDeterminismError{
				RunID: r.id, Workflow: r.spec.Name(), Step: ev.Seq, Recorded: describeEvent(ev),
				Issued: fmt.Sprintf("has no activity waiting at step %d", ev.Ref),
			}
			return
		}
		delete(r.pending, ev.Ref)
		if ev.Type == history.EventActivityCompleted {
			f.settle(ev.Payload, nil)
			return
		}
		fl, err := r.eng.decodeFailure(ev.Payload)
		if err != nil {
			r.fatal = &PayloadError{What: fmt.Sprintf("failure of activity %q (step %d)", f.name, ev.Ref), Err: err}
			return
		}
		f.settle(nil, fl)
	case history.EventCancelRequested:
		r.canceled = true
		r.root.canceled = true
		steps := make([]int64, 0, len(r.pending))
		for s, f := range r.pending {
			if f.scope.Canceled() {
				steps = append(steps, s)
			}
		}
		slices.Sort(steps)
		for _, s := range steps {
			r.pending[s].settle(nil, canceledFailure())
			delete(r.pending, s)
		}
		if len(r.replay) == 0 {
			r.round.doneTasks = append(r.round.doneTasks, steps...)
			r.round.cancel = append(r.round.cancel, steps...)
		}
	default:
		r.fatal = &NonDeterminismError{
			RunID: r.id, Workflow: r.spec.Name(), Step: ev.Seq, Recorded: describeEvent(ev),
			Issued: "expects an input (activity outcome or cancellation) there",
		}
	}
}

// appendInput records a live input event and applies it.
func (r *Run) appendInput(ev history.Event) {
	r.lastSeq++
	ev.Seq = r.lastSeq
	ev.Time = r.liveNow
	r.round.events = append(r.round.events, ev)
	r.applyInput(ev)
	if r.fatal == nil {
		r.runUntilBlocked()
	}
}

// load rebuilds the run from its journal.
func (r *Run) load() error {
	e := r.eng
	info, err := e.store.Run(e.ctx, r.id)
	if err != nil {
		return err
	}
	events, err := e.store.Events(e.ctx, r.id, 0)
	if err != nil {
		return err
	}
	r.reset()
	r.status = info.Status
	if len(events) == 0 || events[0].Type != history.EventRunStarted {
		r.blocked = fmt.Errorf("%w: run %q: journal does not begin with RunStarted", history.ErrCorrupt, r.id)
		return nil
	}
	spec, ok := e.reg.workflow(events[0].Name)
	if !ok {
		return &NotRegisteredError{Kind: "workflow", Name: events[0].Name}
	}
	r.prepare(spec)
	r.lastSeq = events[len(events)-1].Seq
	r.now = events[0].Time
	r.replay = events[1:]
	r.startMain(events[0].Payload)
	r.runUntilBlocked()
	for r.fatal == nil && len(r.replay) > 0 {
		ev := r.replay[0]
		if ev.Type.IsCommand() {
			issued := "waits for something else without issuing it"
			if r.ended {
				issued = "has already returned"
			}
			r.fatal = &NonDeterminismError{RunID: r.id, Workflow: spec.Name(), Step: ev.Seq, Recorded: describeEvent(ev), Issued: issued}
			break
		}
		r.replay = r.replay[1:]
		r.applyInput(ev)
		if r.fatal == nil {
			r.runUntilBlocked()
		}
	}
	if r.fatal != nil {
		r.blocked = r.fatal
		r.kill()
		r.replay = nil
		return nil
	}
	r.loaded = true
	return nil
}

// handle applies a drained inbox and commits the result.
func (r *Run) handle(inputs []input) {
	e := r.eng
	r.round = round{}
	r.liveNow = e.clock.Now()
	for _, in := range inputs {
		if in.kind == inStart {
			if r.loaded || r.blocked != nil || r.round.create {
				in.answer(fmt.Errorf("%w: %q", history.ErrRunExists, r.id))
				continue
			}
			r.reset()
			r.prepare(in.spec)
			r.round.create = true
			r.now = r.liveNow
			r.command(history.EventRunStarted, in.spec.Name(), in.payload)
			r.startMain(in.payload)
			r.runUntilBlocked()
			r.round.replies = append(r.round.replies, in)
			if r.fatal != nil {
				break
			}
			continue
		}
		if !r.loaded && r.blocked == nil {
			if err := r.load(); err != nil {
				var nr *NotRegisteredError
				if errors.As(err, &nr) && in.kind != inCancel {
					e.parkInput(nr.Name, r.id, in)
					continue
				}
				if !errors.Is(err, history.ErrRunNotFound) && !errors.As(err, &nr) {
					e.log.Error("chorus: load run", "run", r.id, "err", err)
					if in.kind == inActivityResult && !errors.Is(err, history.ErrStoreClosed) {
						// A store hiccup must not lose a finished activity.
						e.redeliverLater(r.id, in)
						continue
					}
				}
				in.answer(err)
				continue
			}
			if r.blocked != nil && r.status != history.StatusBlocked {
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
		if r.fatal != nil {
			break
		}
	}
	if r.fatal != nil {
		r.becomeBlocked(inputs)
	}
	r.commitRound()
}

// apply handles one input on a loaded (or blocked) run.
func (r *Run) apply(in input) {
	switch {
	case r.blocked != nil:
		switch in.kind {
		case inActivityResult:
			r.eng.log.Warn("chorus: dropping activity result of a blocked run; the activity runs again once the run resumes",
				"run", r.id, "step", in.step, "reason", r.blocked)
		case inCancel:
			in.answer(&BlockedError{RunID: r.id, Reason: r.blocked.Error()})
			return
		}
		in.answer(nil)
	case in.kind == inResume:
		r.round.replies = append(r.round.replies, in)
	case r.ended:
		if in.kind == inCancel {
			in.answer(fmt.Errorf("%w: run %q", ErrRunEnded, r.id))
			return
		}
		in.answer(nil)
	case in.kind == inCancel:
		if !r.canceled {
			r.appendInput(history.Event{Type: history.EventCancelRequested})
		}
		r.round.replies = append(r.round.replies, in)
	case in.kind == inActivityResult:
		f := r.pending[in.step]
		if f == nil {
			in.answer(nil) // settled already (canceled) or a duplicate
			return
		}
		ev := history.Event{Type: history.EventActivityCompleted, Name: f.name, Ref: in.step, Payload: in.payload}
		if in.failure != nil {
			ev.Type, ev.Payload = history.EventActivityFailed, r.eng.encodeFailure(in.failure)
		}
		r.round.doneTasks = append(r.round.doneTasks, in.step)
		r.round.retry = append(r.round.retry, in)
		r.appendInput(ev)
		r.round.replies = append(r.round.replies, in)
	}
}

// becomeBlocked throws away the current round after workflow code failed
// live (a panic, a payload that does not encode): nothing of it is recorded,
// and the run's status says why it stopped.
func (r *Run) becomeBlocked(inputs []input) {
	e := r.eng
	reason := r.fatal
	created := r.round.create
	r.kill()
	r.round = round{}
	if created {
		// Nothing was ever recorded: the caller of Start gets the error.
		for _, in := range inputs {
			in.answer(reason)
		}
		r.reset()
		return
	}
	e.log.Error("chorus: run blocked", "run", r.id, "err", reason)
	r.blocked = reason
	r.loaded = false
	r.round.status = &history.StatusUpdate{Status: history.StatusBlocked, Failure: e.encodeFailure(FailureOf(reason))}
	r.round.outcome = &Outcome{Status: history.StatusBlocked, Blocked: reason}
	for _, in := range inputs {
		switch in.kind {
		case inCancel:
			in.answer(&BlockedError{RunID: r.id, Reason: reason.Error()})
		default:
			in.answer(nil)
		}
	}
}

// commitRound writes the round's batch and, once it is durable, dispatches
// the activities it scheduled and answers whoever waits.
func (r *Run) commitRound() {
	e := r.eng
	rd := &r.round
	if !rd.create && len(rd.events) == 0 && rd.status == nil {
		for _, in := range rd.replies {
			in.answer(nil)
		}
		return
	}
	b := &history.Batch{RunID: r.id, Time: e.clock.Now(), Events: rd.events, Status: rd.status, AddTasks: rd.addTasks, DoneTasks: rd.doneTasks}
	if rd.create {
		info := &history.RunInfo{ID: r.id, Workflow: r.spec.Name(), Status: history.StatusRunning}
		if rd.status != nil {
			info.Status, info.Result, info.Failure = rd.status.Status, rd.status.Result, rd.status.Failure
		}
		b.Create, b.Status = info, nil
	}
	err := e.w.submit(b)
	if err != nil {
		r.commitFailed(err)
		return
	}
	if rd.status != nil {
		r.status = rd.status.Status
	} else if rd.create {
		r.status = history.StatusRunning
	}
	for _, t := range rd.addTasks {
		if f := r.pending[t.Step]; f != nil && !f.ready {
			e.acts.dispatch(newActTask(t, r.spec.Name(), rd.events))
		}
	}
	for _, s := range rd.cancel {
		e.acts.cancel(r.id, s)
	}
	for _, in := range rd.replies {
		in.answer(nil)
	}
	if rd.outcome != nil {
		e.notify(r.id, *rd.outcome)
	}
}

// commitFailed undoes a round the store refused: the in-memory state is
// ahead of the journal, so it is thrown away and rebuilt on the next input.
func (r *Run) commitFailed(err error) {
	e := r.eng
	rd := r.round
	r.reset()
	for _, in := range rd.replies {
		if in.kind != inActivityResult {
			in.answer(err)
		}
	}
	if errors.Is(err, ErrEngineClosed) || errors.Is(err, history.ErrStoreClosed) {
		return
	}
	e.log.Error("chorus: commit failed; the run will be rebuilt from its journal", "run", r.id, "err", err)
	for _, in := range rd.retry {
		e.redeliverLater(r.id, in)
	}
}

// Outcome is how a run ended (or why it is blocked), as told to waiters.
type Outcome struct {
	Status  history.RunStatus
	Result  []byte
	Failure []byte
	Blocked error // why the run is blocked, when Status is StatusBlocked
}

// Scope is a cancellation scope of workflow code.
type Scope struct {
	parent   *Scope
	canceled bool
}

// Canceled reports whether s or one of its parents was canceled.
func (s *Scope) Canceled() bool {
	for x := s; x != nil; x = x.parent {
		if x.canceled {
			return true
		}
	}
	return false
}

// Future is the pending outcome of a command.
type Future struct {
	ready   bool
	payload []byte
	failure *history.Failure
	step    int64
	name    string
	scope   *Scope
}

func (f *Future) settle(payload []byte, fl *history.Failure) {
	f.ready, f.payload, f.failure = true, payload, fl
}

// Ready reports whether the outcome is known.
func (f *Future) Ready() bool { return f.ready }

// Step returns the journal position of the command, or 0 if none was issued.
func (f *Future) Step() int64 { return f.step }

// Outcome returns the encoded result, or the failure.
func (f *Future) Outcome() ([]byte, *history.Failure) { return f.payload, f.failure }

func canceledFailure() *history.Failure {
	return &history.Failure{Type: FailureTypeCanceled, Message: ErrCanceled.Error()}
}

func sortTasks(ts []history.Task) {
	slices.SortFunc(ts, func(a, b history.Task) int {
		return cmp.Or(cmp.Compare(a.RunID, b.RunID), cmp.Compare(a.Step, b.Step))
	})
}
