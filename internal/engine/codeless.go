package engine

import (
	"fmt"

	"github.com/chorusdev/chorus/history"
)

// journalWithoutCode takes a caller's cancel, signal or terminate for a
// run whose workflow is not registered in this process (an operator's
// tool that opened the file, or an application that no longer, or not
// yet, registers it), instead of refusing it, and reports whether it did;
// any other input waits for the registration or fails as before.
//
// A terminate needs no code: the run ends at once, as a blocked run does.
// A cancel or a signal must reach the code in order with what the code
// does, so it is queued durably: an InputQueued note in the journal holds
// it, and a TaskWake (its Step the note's Seq) says it waits. A process
// that registers the workflow delivers it to the run at Open, as if the
// caller sent it then, journaling a CancelRequested or SignalReceived
// whose Ref is the note's Seq. load has set lastSeq, firstSeq, histBytes
// and status from the journal, which is all this needs; the run stays
// unloaded.
func (r *Run) journalWithoutCode(in input, nr *NotRegisteredError) bool {
	if in.internal || in.kind != inCancel && in.kind != inSignal && in.kind != inTerminate {
		return false
	}
	if r.round.codeless == nil {
		r.round.codeless = nr
	}
	if in.kind == inTerminate {
		r.terminate(in)
		return true
	}
	q := history.InputQueued{Action: history.ActionCancel, Identity: in.identity}
	if in.kind == inSignal {
		if err := r.checkSignalRoom(in.payload); err != nil {
			r.round.late = append(r.round.late, lateAnswer{in, err})
			return true
		}
		q = history.InputQueued{Action: history.ActionSignal, Signal: in.name, Value: in.payload, Identity: in.identity}
	}
	note, err := history.EncodeInputQueued(q)
	if err != nil {
		in.answer(err)
		return true
	}
	r.appendNote(history.EventInputQueued, q.Action, 0, note)
	r.round.addTasks = append(r.round.addTasks, history.Task{RunID: r.id, Step: r.lastSeq, Kind: history.TaskWake})
	r.round.replies = append(r.round.replies, in)
	r.eng.log.Info("chorus: queued an input for a run whose workflow is not registered; a process that registers it delivers it",
		"run", r.id, "workflow", nr.Name, "input", q.Action)
	return true
}

// wake delivers to run t[0].RunID, as one input and in the order of their
// steps, the inputs its TaskWakes ts hold (the InputQueued notes at their
// steps): one input, so that no other input, nor the release of a parked
// one, comes between them. A run whose workflow is still not registered
// keeps them waiting for the registration.
func (e *Engine) wake(ts []history.Task) {
	var queued []input
	for _, t := range ts {
		q, err := e.queuedInput(t)
		if err != nil {
			e.log.Error("chorus: a queued input cannot be read; it waits", "run", t.RunID, "step", t.Step, "err", err)
			break // the later ones wait too: their order matters
		}
		in := input{internal: true, wake: t.Step, kind: inCancel, identity: q.Identity}
		if q.Action == history.ActionSignal {
			in.kind, in.name, in.payload = inSignal, q.Signal, q.Value
		}
		run, action := t.RunID, q.Action
		in.after = func(err error) {
			if err != nil && !stopping(err) {
				e.log.Error("chorus: a queued input was refused by its run", "run", run, "input", action, "err", err)
			}
		}
		queued = append(queued, in)
	}
	if len(queued) > 0 {
		_ = e.deliver(ts[0].RunID, input{kind: inWake, internal: true, queued: queued})
	}
}

// applyQueued applies, in order, the inputs a wake delivered.
func (r *Run) applyQueued(in input) {
	for _, q := range in.queued {
		r.apply(q)
	}
	r.round.replies = append(r.round.replies, in)
}

// queuedInput reads the InputQueued note a TaskWake points to.
func (e *Engine) queuedInput(t history.Task) (history.InputQueued, error) {
	events, err := e.store.Events(e.ctx, t.RunID, t.Step-1)
	if err != nil {
		return history.InputQueued{}, err
	}
	if len(events) == 0 || events[0].Seq != t.Step || events[0].Type != history.EventInputQueued {
		return history.InputQueued{}, fmt.Errorf("%w: run %q: wake task %d does not point to an InputQueued event", history.ErrCorrupt, t.RunID, t.Step)
	}
	return history.DecodeInputQueued(events[0].Payload)
}
