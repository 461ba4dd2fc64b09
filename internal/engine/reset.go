package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/chorusdev/chorus/history"
)

// Reset: a new generation of a run whose journal is a copy of the current
// generation's prefix up to a step.
//
// The reset happens in one round of the run's own goroutine, so nothing
// else touches the run meanwhile: the current generation is terminated if
// it has not ended, a RunStarted with the same input and time as the
// current generation's is appended, then a copy of every event before the
// reset point (with Seqs and Refs moved to follow it); the code replays
// that copy, goes live where it ends, and then gets, as live inputs, the
// outcomes recorded after the point of steps issued before it and (unless
// dropped) the signals received after it. The round commits as one batch
// that reuses the run's ID (history.Batch.Reuse), so the old generation
// stays in the journal, readable, before the new RunStarted.

// ErrResetRefused is wrapped by every *ResetError.
var ErrResetRefused = errors.New("chorus: reset refused")

// ResetError says why a run cannot be reset to a point.
type ResetError struct {
	RunID string
	// Step is the reset point asked for or found, 0 when there is none.
	Step int64
	// Reason says what is wrong.
	Reason string
	// Forceable says that ResetRequest.Force lets the reset through.
	Forceable bool
}

func (e *ResetError) Error() string {
	s := fmt.Sprintf("chorus: reset of run %s", QuoteID(e.RunID))
	if e.Step > 0 {
		s += fmt.Sprintf(" to step %d", e.Step)
	}
	s += " refused: " + e.Reason
	if e.Forceable {
		s += " (force overrides this)"
	}
	return s
}

// Unwrap returns ErrResetRefused.
func (e *ResetError) Unwrap() error { return ErrResetRefused }

// UnrepeatableMarker is the name of the marker workflow code records right
// after a step that must never run twice: a reset to a point before it is
// refused unless forced.
const UnrepeatableMarker = "chorus.unrepeatable"

// The saga package's marker names (part of the journal format).
const (
	sagaStart  = "saga.compensation.start"
	sagaDone   = "saga.compensation.done"
	sagaFailed = "saga.compensation.failed"
)

// DefaultResetIdentity is the identity a reset note names when the
// caller's context carries none.
const DefaultResetIdentity = "unidentified"

// ResetTarget says where a reset goes.
type ResetTarget uint8

// The reset targets.
const (
	// ResetToStep resets to ResetRequest.Step.
	ResetToStep ResetTarget = iota + 1
	// ResetToLastGoodStep resets to the first step issued after the last
	// successful outcome.
	ResetToLastGoodStep
	// ResetToFirstFailure resets to the step of the first activity or
	// child that failed.
	ResetToFirstFailure
	// ResetRetryFailed resets a failed run to the step of the last
	// activity that failed.
	ResetRetryFailed
)

// ResetRequest is a reset as the engine takes it.
type ResetRequest struct {
	Target      ResetTarget
	Step        int64
	Reason      string
	DropSignals bool
	Force       bool
	// Batch, when set, makes the reset idempotent: a run whose journal
	// holds a reset note with that batch ID is not reset again.
	Batch string
	// Identity is who asks; journaled in the reset note.
	Identity string
	// DryRun plans the reset and reports it without changing anything.
	DryRun bool
}

// ResetResult is what a reset did (or, for a dry run, would do).
type ResetResult struct {
	// Step is the reset point: the Seq, in the generation reset, of the
	// first step that runs again.
	Step int64
	// From is the Seq of the RunStarted of the generation reset.
	From int64
	// FirstSeq is the Seq of the new generation's RunStarted; 0 for a dry
	// run or a run the batch had reset already.
	FirstSeq int64
	// Kept is how many events of the old generation the new one copies
	// (its prefix and the outcomes recorded after the point of steps
	// issued before it).
	Kept int
	// Reapplied and Dropped count the signals received after the point.
	Reapplied, Dropped int
	// Terminated says that the run had not ended and the reset terminated
	// its old generation.
	Terminated bool
	// AlreadyDone says that the batch Batch had reset the run already:
	// nothing was changed.
	AlreadyDone bool
}

type resetCall struct {
	req    ResetRequest
	result ResetResult
}

// Reset starts a new generation of run id from a point of its current
// generation; see the package chorus documentation of Engine.Reset.
func (e *Engine) Reset(ctx context.Context, id string, req ResetRequest) (ResetResult, error) {
	switch req.Target {
	case ResetToStep:
		if req.Step < 1 {
			return ResetResult{}, &ResetError{RunID: id, Reason: fmt.Sprintf("step %d: a step is the Seq of a command of the run's current generation, 2 or more", req.Step)}
		}
	case ResetToLastGoodStep, ResetToFirstFailure, ResetRetryFailed:
	default:
		return ResetResult{}, fmt.Errorf("chorus: reset of run %s: unknown target %d", QuoteID(id), req.Target)
	}
	if req.Identity == "" {
		req.Identity = IdentityOf(ctx)
	}
	if req.Identity == "" {
		req.Identity = DefaultResetIdentity
	}
	if err := history.CheckIdentity(req.Identity); err != nil {
		return ResetResult{}, fmt.Errorf("%w: %v", ErrInvalidIdentity, err)
	}
	if len(req.Batch) > history.MaxIdentity {
		return ResetResult{}, fmt.Errorf("chorus: reset of run %s: batch ID is %d bytes, longer than %d", QuoteID(id), len(req.Batch), history.MaxIdentity)
	}
	rc := &resetCall{req: req}
	if err := e.call(ctx, id, input{kind: inReset, reset: rc}); err != nil {
		return ResetResult{}, err
	}
	return rc.result, nil
}

// resetPlan is a reset worked out from the current generation's events.
type resetPlan struct {
	step   int64
	start  history.Event   // the current generation's RunStarted
	prefix []history.Event // kept as they are (old Seqs)
	moved  []history.Event // applied live after the replay (old Seqs)
	res    ResetResult
}

// planReset works out a reset of the generation events (which begins with
// its RunStarted) of run id, whose status is status.
func (e *Engine) planReset(id string, status history.RunStatus, events []history.Event, req ResetRequest) (*resetPlan, error) {
	if len(events) == 0 || events[0].Type != history.EventRunStarted {
		return nil, fmt.Errorf("%w: run %q: the journal of its current generation does not begin with RunStarted", history.ErrCorrupt, id)
	}
	from := events[0].Seq
	at := func(seq int64) *history.Event {
		if i := seq - from; i >= 0 && i < int64(len(events)) {
			return &events[i]
		}
		return nil
	}
	// The first step that may be reset to: after the signals delivered
	// with the start and the propagated context, which belong to the start.
	first := from + 1
	for ev := at(first); ev != nil && (atStart(*ev, from) || ev.Type == history.EventMarker && ev.Name == HeaderMarker && ev.Seq == first); ev = at(first) {
		first++
	}
	refuse := func(step int64, forceable bool, format string, args ...any) error {
		return &ResetError{RunID: id, Step: step, Reason: fmt.Sprintf(format, args...), Forceable: forceable}
	}
	var n int64
	switch req.Target {
	case ResetToStep:
		n = req.Step
		ev := at(n)
		if ev == nil || !ev.Type.IsCommand() && ev.Type != history.EventRunTerminated || n < first {
			return nil, refuse(n, false, "it is not a step of the run's current generation, whose steps (the Seq of each command, as the history shows it) are %d to %d", first, events[len(events)-1].Seq)
		}
	case ResetToFirstFailure:
		for _, ev := range events {
			if ev.Type == history.EventActivityFailed || ev.Type == history.EventChildFailed {
				n = ev.Ref
				break
			}
		}
		if n == 0 {
			return nil, refuse(0, false, "no activity or child of its current generation failed")
		}
	case ResetRetryFailed:
		if status != history.StatusFailed {
			return nil, refuse(0, false, "retry resumes a failed run, and this one is %s", status)
		}
		for _, ev := range slices.Backward(events) {
			if ev.Type == history.EventActivityFailed {
				n = ev.Ref
				break
			}
		}
		if n == 0 {
			return nil, refuse(0, false, "it did not fail on an activity (no ActivityFailed in its current generation)")
		}
	case ResetToLastGoodStep:
		good := from
		for _, ev := range events {
			switch ev.Type {
			case history.EventActivityCompleted, history.EventChildCompleted, history.EventTimerFired:
				good = ev.Seq
			case history.EventSignalDelivered:
				if len(ev.Payload) == 0 {
					good = ev.Seq
				}
			}
		}
		for _, ev := range events {
			if ev.Seq > good && ev.Seq >= first && ev.Type.IsCommand() {
				n = ev.Seq
				break
			}
		}
		if last := events[len(events)-1]; n == 0 && last.Type == history.EventRunTerminated {
			n = last.Seq // a terminated run goes on where it was stopped
		}
		if n == 0 {
			return nil, refuse(0, false, "nothing was issued after its last successful step (%d)", good)
		}
	}

	p := &resetPlan{step: n, start: events[0]}
	p.res.Step, p.res.From = n, from
	outcome := map[int64]int64{} // step -> seq of its outcome
	for _, ev := range events {
		if _, ok := answeredBy[ev.Type]; ok {
			outcome[ev.Ref] = ev.Seq
		}
	}
	type sagaKey struct {
		saga  string
		index int
	}
	compensating := map[sagaKey]int64{}
	for i, ev := range events[1:] {
		switch {
		case ev.Seq < n:
			if ev.Type == history.EventActivityRetried {
				if next := at(ev.Seq + 1); next == nil || next.Seq >= n {
					continue // goes with an outcome recorded after the point
				}
			}
			p.prefix = append(p.prefix, ev)
			switch {
			case ev.Type == history.EventChildStarted:
				if _, ok := outcome[ev.Seq]; !ok {
					return nil, refuse(n, false, "the child started at step %d has no recorded outcome, and the reset generation could not hear from it; reset to step %d or earlier, or once the child has ended", ev.Seq, ev.Seq)
				}
			case ev.Type == history.EventMarker && (ev.Name == sagaStart || ev.Name == sagaDone || ev.Name == sagaFailed):
				var d struct {
					Saga  string `json:"saga"`
					Index int    `json:"index"`
				}
				if e.codec.Unmarshal(ev.Payload, &d) != nil {
					d.Index = -1
				}
				k := sagaKey{d.Saga, d.Index}
				if ev.Name == sagaStart {
					compensating[k] = ev.Seq
				} else {
					delete(compensating, k)
				}
			}
		case ev.Type == history.EventMarker && ev.Name == UnrepeatableMarker && ev.Seq > n && !req.Force:
			var what string
			_ = e.codec.Unmarshal(ev.Payload, &what)
			return nil, refuse(n, true, "the step before the unrepeatable marker at step %d (%q) would run again", ev.Seq, what)
		case answeredBy[ev.Type] != 0 && ev.Ref < n:
			if i > 0 && events[i].Type == history.EventActivityRetried && events[i].Ref == ev.Ref {
				p.moved = append(p.moved, events[i])
			}
			p.moved = append(p.moved, ev)
		case ev.Type == history.EventSignalReceived:
			if req.DropSignals {
				p.res.Dropped++
				continue
			}
			p.moved = append(p.moved, ev)
			p.res.Reapplied++
		}
	}
	if len(compensating) > 0 && !req.Force {
		var at int64
		for _, s := range compensating {
			if at == 0 || s < at {
				at = s
			}
		}
		return nil, refuse(n, true, "it is inside a saga's compensation (started at step %d and not finished before the point)", at)
	}
	p.res.Kept = len(p.prefix)
	for _, ev := range p.moved {
		if ev.Type != history.EventSignalReceived {
			p.res.Kept++
		}
	}
	return p, nil
}

// isResetNote reports whether ev is the note of a reset.
func isResetNote(ev history.Event) bool {
	return ev.Type == history.EventOperatorAction && ev.Name == history.ActionReset
}

// applyReset carries out a reset in the current round.
func (r *Run) applyReset(in input) {
	e := r.eng
	rc := in.reset
	if len(r.round.events) > 0 || r.round.create || r.round.restart != 0 {
		// Plan on a committed journal: in the next round.
		r.mu.Lock()
		r.inbox = append(r.inbox, in)
		r.mu.Unlock()
		return
	}
	fail := func(err error) { r.round.late = append(r.round.late, lateAnswer{in, err}) }
	if rc.req.Batch != "" {
		done, err := e.ActedBy(e.ctx, r.id, history.ActionReset, rc.req.Batch)
		if err != nil {
			fail(err)
			return
		}
		if done {
			rc.result.AlreadyDone = true
			fail(nil)
			return
		}
	}
	events, err := e.store.Events(e.ctx, r.id, max(r.firstSeq, 1)-1)
	if err != nil {
		fail(err)
		return
	}
	status := r.status
	if r.round.status != nil {
		status = r.round.status.Status
	}
	plan, err := e.planReset(r.id, status, events, rc.req)
	if err != nil {
		fail(err)
		return
	}
	rc.result = plan.res
	spec, ok := e.reg.workflow(plan.start.Name)
	if !ok {
		fail(&NotRegisteredError{Kind: "workflow", Name: plan.start.Name})
		return
	}
	if rc.req.DryRun {
		fail(nil)
		return
	}
	var to Timeouts
	if r.timeout != nil && !r.ended {
		to = Timeouts{Execution: r.timeout.Execution, Run: r.timeout.Run}
	}
	if !r.ended {
		r.end(input{kind: inTerminate, failure: &history.Failure{Type: FailureTypeTerminated,
			Message: "chorus: terminated to be reset: " + rc.req.Reason, NonRetryable: true}}, history.StatusTerminated)
		// The reset generation replaces this one: the parent hears how it
		// ends, not of this termination.
		r.round.addTasks = slices.DeleteFunc(r.round.addTasks, func(t history.Task) bool { return t.Kind == history.TaskNotifyParent })
		rc.result.Terminated = true
	}

	// The new generation: the same start, then the copied prefix.
	r.blocked = nil
	r.prepare(spec)
	r.replay, r.replaying = nil, false
	r.now = plan.start.Time
	r.histBytes = 0
	start := r.appendEvent(history.EventRunStarted, spec.Name(), plan.start.Payload)
	r.firstSeq = start
	r.setTimeout(to, 0, start)
	shift := start - plan.res.From
	gen := []history.Event{r.round.events[len(r.round.events)-1]}
	for _, ev := range plan.prefix {
		ev.Seq += shift
		if ev.Ref != 0 {
			ev.Ref += shift
		}
		r.lastSeq = ev.Seq
		r.histBytes += int64(len(ev.Payload)) + eventOverhead
		r.round.events = append(r.round.events, ev)
		gen = append(gen, ev)
	}
	r.round.restart = start
	r.round.status = &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: start}
	r.round.outcome = nil
	r.round.replies = append(r.round.replies, in)
	r.loaded = true
	rc.result.FirstSeq = start

	r.resetTasks = map[int64]history.Task{}
	r.replaying = true
	err = r.replayEvents(spec, gen)
	tasks := r.resetTasks
	r.resetTasks = nil
	if err != nil {
		r.fatal = &ResetError{RunID: r.id, Step: plan.step, Reason: "the registered code does not replay the steps kept: " + err.Error()}
		r.round.mark = nil
		return
	}
	r.replaying = false
	// Steps of the prefix still waiting for an outcome get their work
	// back, unless an outcome recorded after the point answers them.
	answered := map[int64]bool{}
	for _, ev := range plan.moved {
		if answeredBy[ev.Type] != 0 {
			answered[ev.Ref+shift] = true
		}
	}
	lastKept := start + int64(len(plan.prefix))
	var steps []int64
	for s, f := range r.pending {
		if s <= lastKept && !f.ready && !answered[s] {
			steps = append(steps, s)
		}
	}
	slices.Sort(steps)
	for _, s := range steps {
		f := r.pending[s]
		rec := gen[s-start]
		switch f.kind {
		case futActivity:
			if t, ok := tasks[s]; ok {
				r.round.addTasks = append(r.round.addTasks, t)
			}
		case futTimer:
			var tp timerPayload
			_ = json.Unmarshal(rec.Payload, &tp)
			r.round.addTasks = append(r.round.addTasks, history.Task{RunID: r.id, Step: s, Kind: history.TaskTimer, NotBefore: tp.FireAt})
		case futSignal:
			r.round.addTasks = append(r.round.addTasks, history.Task{RunID: r.id, Step: s, Kind: history.TaskSendSignal, Name: rec.Name, Input: rec.Payload})
		}
	}
	// What happened after the point to steps before it, and the signals.
	for i := 0; i < len(plan.moved) && r.fatal == nil && !r.ended; i++ {
		ev := plan.moved[i]
		ev.Seq = 0
		switch {
		case ev.Type == history.EventSignalReceived:
			ev.Ref = 0
			r.appendInput(ev)
		case ev.Type == history.EventActivityRetried:
			if f := r.pending[ev.Ref+shift]; f != nil && !f.ready && i+1 < len(plan.moved) {
				r.appendNote(ev.Type, ev.Name, ev.Ref+shift, ev.Payload)
			}
		default:
			ev.Ref += shift
			if f := r.pending[ev.Ref]; f != nil && !f.ready && f.kind == answeredBy[ev.Type] {
				r.appendInput(ev)
			}
		}
	}
	r.round.mark = nil
	if r.fatal != nil {
		return
	}
	note := history.OperatorAction{Action: history.ActionReset, Identity: rc.req.Identity, Reason: rc.req.Reason,
		Step: plan.step, From: plan.res.From, Batch: rc.req.Batch}
	b, err := history.EncodeOperatorAction(note)
	if err != nil {
		r.fatal = &ResetError{RunID: r.id, Step: plan.step, Reason: err.Error()}
		return
	}
	r.appendNote(history.EventOperatorAction, history.ActionReset, 0, b)
	if evs := r.round.events; len(evs) >= 2 && evs[len(evs)-2].Type.IsTerminal() {
		// The reset generation ended in this round: the note goes before
		// the event that ended it, the journal's last.
		end, note := evs[len(evs)-2], evs[len(evs)-1]
		note.Seq, end.Seq = end.Seq, note.Seq
		evs[len(evs)-2], evs[len(evs)-1] = note, end
		for i, t := range r.round.addTasks {
			switch t.Step {
			case note.Seq:
				r.round.addTasks[i].Step = end.Seq
			case -note.Seq:
				r.round.addTasks[i].Step = -end.Seq
			}
		}
	}
}
