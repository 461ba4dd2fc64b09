package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/chorusdev/chorus/history"
)

// An update is a request into a running workflow that the caller waits on
// until the run's handler for it returns. Its validator runs first, like a
// query (it must not block or issue commands); refused, nothing is written.
// Accepted, the argument is journaled as an UpdateAccepted input and the
// handler starts as a coroutine of the run, which may block like any
// workflow code; what it returns is journaled as an UpdateCompleted or
// UpdateFailed command that names the UpdateAccepted in Ref. Replay starts
// the handler again at the UpdateAccepted, without the validator.
//
// Callers wait on the engine (updateWaiters), not on the run, which may be
// evicted and rebuilt while the handler waits: each commit of the run
// settles its waiters against the run's state (done, still running, or
// never going to finish).

// UpdateHandler is a run's handler of one update, on encoded values.
type UpdateHandler struct {
	// Validate, when set, may refuse the argument. It runs outside the
	// run's coroutines and must not block or issue commands.
	Validate func(arg []byte) error
	// Run handles an accepted update, as a coroutine of the run.
	Run func(arg []byte) ([]byte, error)
}

// ErrUnknownUpdate is wrapped by the error for an update the run has no
// handler for.
var ErrUnknownUpdate = errors.New("chorus: unknown update")

// ErrUpdateUnfinished is wrapped by the error a caller gets when the run
// ended (or continued as new) while the update's handler was still running:
// the update was accepted but never finished.
var ErrUpdateUnfinished = errors.New("chorus: update accepted but not finished")

// ErrUpdateIDReused is wrapped by the error for an update ID that the run
// already used for an update of another name.
var ErrUpdateIDReused = errors.New("chorus: update ID already used for another update")

// UpdateRejectedError is returned when the update's validator refused it.
// Nothing was written to the journal.
type UpdateRejectedError struct {
	RunID  string
	Update string // the update's name
	ID     string // the update ID
	Err    error  // what the validator returned
}

func (e *UpdateRejectedError) Error() string {
	return fmt.Sprintf("chorus: run %s refused update %q (ID %q): %v", QuoteID(e.RunID), e.Update, e.ID, e.Err)
}

func (e *UpdateRejectedError) Unwrap() error { return e.Err }

// UpdateOutcome is what the handler of an update returned: an encoded
// result, or a failure.
type UpdateOutcome struct {
	Result  []byte
	Failure *history.Failure
}

// updateCall is an update request's identity and the channel its outcome
// goes to.
type updateCall struct {
	id  string
	out chan updateResult
}

type updateResult struct {
	outcome UpdateOutcome
	err     error
}

// updateState is an accepted update of the run's current generation.
type updateState struct {
	name    string
	seq     int64 // its UpdateAccepted
	done    bool
	outcome UpdateOutcome
}

func updateEvent(t history.EventType) bool {
	return t == history.EventUpdateAccepted || t == history.EventUpdateCompleted || t == history.EventUpdateFailed
}

// updateBook is what a generation of a run knows of updates.
type updateBook struct {
	handlers map[string]UpdateHandler
	byID     map[string]*updateState
	running  int // accepted, handler not returned
}

func newUpdateBook() *updateBook {
	return &updateBook{handlers: map[string]UpdateHandler{}, byID: map[string]*updateState{}}
}

// state returns the update accepted under id, or nil.
func (b *updateBook) state(id string) *updateState {
	if b == nil {
		return nil
	}
	return b.byID[id]
}

// SetUpdateHandler registers h under name for the run; a later registration
// replaces an earlier one.
func (r *Run) SetUpdateHandler(name string, h UpdateHandler) {
	r.checkCommand("SetUpdateHandler")
	r.upd.handlers[name] = h
}

// UpdatesRunning returns how many accepted updates' handlers have not
// returned yet.
func (r *Run) UpdatesRunning() int {
	if r.upd == nil {
		return 0
	}
	return r.upd.running
}

// Update asks the run to handle the update name with ID updID and argument
// arg. It returns once the update is accepted and journaled (or refused);
// wait then returns what its handler returned. An update ID the run
// already accepted is not handled again: wait returns the recorded outcome
// (or waits for it).
func (e *Engine) Update(ctx context.Context, id, name, updID string, arg []byte) (wait func(context.Context) (UpdateOutcome, error), err error) {
	if err := e.CheckPayload(id, arg); err != nil {
		return nil, err
	}
	call := &updateCall{id: updID, out: make(chan updateResult, 1)}
	stop := func() { e.updates.remove(id, call) }
	if err := e.call(ctx, id, input{kind: inUpdate, name: name, payload: arg, upd: call}); err != nil {
		stop()
		return nil, err
	}
	return func(ctx context.Context) (UpdateOutcome, error) {
		defer stop()
		select {
		case res := <-call.out:
			return res.outcome, res.err
		case <-ctx.Done():
			return UpdateOutcome{}, fmt.Errorf("chorus: gave up waiting for update %q (ID %q) of run %s; call again with the same update ID for its outcome: %w",
				name, updID, QuoteID(id), ctx.Err())
		case <-e.closed:
			return UpdateOutcome{}, ErrEngineClosed
		}
	}, nil
}

// applyUpdate validates and accepts an update, or answers with the outcome
// of the one accepted before under the same ID.
func (r *Run) applyUpdate(in input) {
	refuse := func(err error) { r.round.late = append(r.round.late, lateAnswer{in, err}) }
	switch {
	case r.blocked != nil && !r.ended:
		refuse(&BlockedError{RunID: r.id, Reason: r.blocked.Error(), Cause: r.blocked})
		return
	case r.blocked != nil:
		refuse(fmt.Errorf("%w: run %q", ErrRunEnded, r.id))
		return
	}
	if st := r.upd.state(in.upd.id); st != nil {
		if st.name != in.name {
			refuse(fmt.Errorf("%w: run %s accepted update %q under ID %q, not %q", ErrUpdateIDReused, QuoteID(r.id), st.name, in.upd.id, in.name))
			return
		}
		r.eng.updates.add(r.id, in.upd)
		r.round.replies = append(r.round.replies, in)
		return
	}
	if r.ended {
		in.answer(fmt.Errorf("%w: run %q", ErrRunEnded, r.id))
		return
	}
	h, ok := r.upd.handlers[in.name]
	if !ok {
		names := make([]string, 0, len(r.upd.handlers))
		for n := range r.upd.handlers {
			names = append(names, n)
		}
		slices.Sort(names)
		refuse(fmt.Errorf("%w %q for run %s (it handles: %s)", ErrUnknownUpdate, in.name, QuoteID(r.id), strings.Join(names, ", ")))
		return
	}
	if h.Validate != nil {
		if err := r.callValidator(h.Validate, in.payload); err != nil {
			refuse(&UpdateRejectedError{RunID: r.id, Update: in.name, ID: in.upd.id, Err: err})
			return
		}
	}
	if err := r.checkHistoryRoom(history.EventUpdateAccepted, in.payload); err != nil {
		refuse(err)
		return
	}
	r.eng.updates.add(r.id, in.upd)
	r.noteAction(in, history.OperatorAction{Action: history.ActionUpdate, Update: in.name})
	r.appendInput(history.Event{Type: history.EventUpdateAccepted, Name: joinSignalName(in.name, in.upd.id), Payload: in.payload})
	r.round.replies = append(r.round.replies, in)
}

// callValidator runs a validator as a query runs: read-only.
func (r *Run) callValidator(v func([]byte) error, arg []byte) (err error) {
	r.inQuery = true
	r.control() // the validator may read the run, like a query handler
	defer func() {
		r.release()
		r.inQuery = false
		if p := recover(); p != nil {
			if m, ok := p.(errQueryMisuse); ok {
				err = fmt.Errorf("%w (the update validator called %s)", ErrQueryMisuse, m.what)
				return
			}
			err = fmt.Errorf("chorus: update validator panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return v(arg)
}

// startUpdate starts the handler of an accepted update, live or in replay.
func (r *Run) startUpdate(ev history.Event) {
	name, id := splitSignalName(ev.Name)
	h, ok := r.upd.handlers[name]
	if !ok || r.upd.byID[id] != nil {
		issued := "has no handler for it"
		if ok {
			issued = "has accepted an update with that ID already"
		}
		r.fatal = &NonDeterminismError{RunID: r.id, Workflow: r.spec.Name(), Step: ev.Seq, Recorded: describeEvent(ev), Issued: issued}
		return
	}
	st := &updateState{name: name, seq: ev.Seq}
	r.upd.byID[id] = st
	r.upd.running++
	arg := ev.Payload
	r.spawn(func() {
		out, err := h.Run(arg)
		r.finishUpdate(st, ev.Name, out, err)
	})
}

// finishUpdate journals what an update's handler returned.
func (r *Run) finishUpdate(st *updateState, evName string, out []byte, err error) {
	if err == nil && len(r.replay) == 0 {
		if lerr := r.eng.CheckPayload(r.id, out); lerr != nil {
			err = lerr // the result cannot be kept: the update fails, saying why
		}
	}
	typ, payload := history.EventUpdateCompleted, out
	var fl *history.Failure
	if err != nil {
		fl = FailureOf(err)
		typ, payload = history.EventUpdateFailed, r.eng.encodeFailure(fl)
	}
	if len(r.replay) > 0 {
		// Like an activity's, the recorded outcome stands: the handler
		// need not fail the same way (a limit may have changed).
		if next := r.replay[0]; next.Name == evName && (next.Type == history.EventUpdateCompleted || next.Type == history.EventUpdateFailed) {
			typ = next.Type
		}
	}
	if len(r.replay) == 0 {
		// Live, and never refused: the history limits kept room for it, and
		// a failure is the engine's own text, which MaxPayloadBytes does not
		// bound (as for an activity's).
		r.checkCommand(typ.String())
		r.replaying = false
		r.appendEvent(typ, evName, payload)
		r.round.events[len(r.round.events)-1].Ref = st.seq
	} else {
		r.command(typ, evName, nil)
		payload = r.lastPayload
		fl = nil
		if typ == history.EventUpdateFailed {
			var derr error
			if fl, derr = r.eng.decodeFailure(payload); derr != nil {
				r.Fail(&PayloadError{What: fmt.Sprintf("failure of update %q", st.name), Err: derr})
			}
		}
	}
	st.done = true
	r.upd.running--
	st.outcome = UpdateOutcome{Failure: fl}
	if fl == nil {
		st.outcome.Result = payload
	}
}

// settleUpdates answers, after a commit, the callers waiting on the run's
// updates whose fate is now known.
func (r *Run) settleUpdates() {
	calls := r.eng.updates.of(r.id)
	if len(calls) == 0 {
		return
	}
	for _, c := range calls {
		st := r.upd.state(c.id)
		var res updateResult
		switch {
		case st != nil && st.done:
			res.outcome = st.outcome
		case r.blocked != nil && !r.ended:
			res.err = &BlockedError{RunID: r.id, Reason: r.blocked.Error(), Cause: r.blocked}
		case r.ended || st == nil:
			what := "ended"
			if !r.ended {
				what = "continued as new"
			}
			r.eng.log.Warn("chorus: run "+what+" while an update handler was still running", "run", r.id, "update_id", c.id)
			res.err = fmt.Errorf("%w: run %s %s before the handler of update ID %q returned", ErrUpdateUnfinished, QuoteID(r.id), what, c.id)
		default:
			continue // still running
		}
		if r.eng.updates.remove(r.id, c) {
			c.out <- res
		}
	}
}

// updateWaiters holds the callers waiting for updates, by run.
type updateWaiters struct {
	mu sync.Mutex
	m  map[string][]*updateCall
}

func (w *updateWaiters) add(run string, c *updateCall) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string][]*updateCall{}
	}
	if !slices.Contains(w.m[run], c) {
		w.m[run] = append(w.m[run], c)
	}
}

// remove reports whether c was waiting.
func (w *updateWaiters) remove(run string, c *updateCall) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs := w.m[run]
	i := slices.Index(cs, c)
	if i < 0 {
		return false
	}
	cs = slices.Delete(cs, i, i+1)
	if len(cs) == 0 {
		delete(w.m, run)
	} else {
		w.m[run] = cs
	}
	return true
}

func (w *updateWaiters) of(run string) []*updateCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.m[run])
}
