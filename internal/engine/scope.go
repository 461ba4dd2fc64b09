package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/chorusdev/chorus/history"
)

// Scope is a cancellation scope of workflow code. Scopes form a tree rooted
// at the run's root scope; a disconnected scope has no parent, so canceling
// the run does not reach it (cleanup code runs in one).
type Scope struct {
	parent   *Scope
	canceled bool
}

// NewScope returns a child of s, or a disconnected scope when s is nil.
func NewScope(s *Scope) *Scope { return &Scope{parent: s} }

// Canceled reports whether s or one of its parents was canceled.
func (s *Scope) Canceled() bool {
	for x := s; x != nil; x = x.parent {
		if x.canceled {
			return true
		}
	}
	return false
}

type futureKind uint8

const (
	futActivity futureKind = iota + 1
	futTimer
	futChild
	futSignal
)

func (k futureKind) String() string {
	switch k {
	case futActivity:
		return "an activity"
	case futTimer:
		return "a timer"
	case futChild:
		return "a child workflow"
	case futSignal:
		return "a signal delivery"
	}
	return "nothing"
}

// answeredBy maps each input event that settles a future to the kind of
// future it settles.
var answeredBy = map[history.EventType]futureKind{
	history.EventActivityCompleted: futActivity, history.EventActivityFailed: futActivity,
	history.EventTimerFired:     futTimer,
	history.EventChildCompleted: futChild, history.EventChildFailed: futChild,
	history.EventSignalDelivered: futSignal,
}

// Future is the pending outcome of a command.
type Future struct {
	kind    futureKind
	ready   bool
	payload []byte
	failure *history.Failure
	step    int64
	name    string
	scope   *Scope
	// Children only: detach keeps the child running when the scope is
	// canceled; cancelSent records that the child was asked to cancel.
	detach      bool
	cancelSent  bool
	child       string
	closePolicy ParentClosePolicy

	// Activities only: waitCancel settles the future from the attempt's
	// outcome when its scope is canceled (cancelSent then records that the
	// attempt was told).
	waitCancel bool
	// at is the run's time when the command was issued, live or replayed.
	at time.Time
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

// ChildID returns the run ID of a child workflow's future.
func (f *Future) ChildID() string { return f.child }

func canceledFailure() *history.Failure {
	return &history.Failure{Type: FailureTypeCanceled, Message: ErrCanceled.Error()}
}

// CancelScope cancels s from workflow code: what waits in it is settled as
// canceled, in step order, so replay does the same.
func (r *Run) CancelScope(s *Scope) {
	if s.canceled {
		return
	}
	s.canceled = true
	r.settleCanceled()
}

// settleCanceled settles the pending futures whose scope is now canceled.
// Activities and timers are dropped at once (their attempts are stopped
// after the commit); a child is asked to cancel and its future waits for
// how the child ends, unless it was started detached.
func (r *Run) settleCanceled() {
	steps := make([]int64, 0, len(r.pending))
	for s, f := range r.pending {
		if f.scope.Canceled() {
			steps = append(steps, s)
		}
	}
	slices.Sort(steps)
	live := !r.IsReplaying() // code past the journal's end re-runs what was already recorded
	for _, s := range steps {
		f := r.pending[s]
		switch f.kind {
		case futActivity, futTimer:
			if f.waitCancel {
				if !f.cancelSent {
					f.cancelSent = true
					if live {
						r.round.cancel = append(r.round.cancel, f)
					}
				}
				continue
			}
			f.settle(nil, canceledFailure())
			delete(r.pending, s)
			if live {
				r.round.doneTasks = append(r.round.doneTasks, s)
				r.round.cancel = append(r.round.cancel, f)
			}
		case futChild:
			if f.detach {
				f.settle(nil, canceledFailure())
				delete(r.pending, s)
				continue
			}
			if !f.cancelSent {
				if r.cancelUnstarted(s, f) {
					continue
				}
				f.cancelSent = true
				if live {
					r.round.addTasks = append(r.round.addTasks, history.Task{
						RunID: r.id, Step: -s, Kind: history.TaskCancelChild, Input: []byte(f.child),
					})
				}
			}
		}
	}
}

// cancelUnstarted settles, as canceled, the future of a child whose start
// is not committed yet (started in this very round): the start is
// withdrawn, so the child never runs, and a ChildFailed event without a
// name records it right where the scope was canceled. Replay finds that
// event there and settles the future at the same point of the code. It
// reports false, doing nothing, for a child that may have started.
func (r *Run) cancelUnstarted(step int64, f *Future) bool {
	var fl *history.Failure
	if r.IsReplaying() {
		if len(r.replay) == 0 {
			return false
		}
		ev := r.replay[0]
		if ev.Type != history.EventChildFailed || ev.Ref != step || ev.Name != "" {
			return false
		}
		r.replay = r.replay[1:]
		var err error
		if fl, err = r.eng.decodeFailure(ev.Payload); err != nil {
			r.fatal = &PayloadError{What: fmt.Sprintf("failure recorded at step %d", ev.Seq), Err: err}
			return true
		}
	} else {
		i := slices.IndexFunc(r.round.addTasks, func(t history.Task) bool {
			return t.Kind == history.TaskStartChild && t.Step == step
		})
		if i < 0 {
			return false
		}
		r.round.addTasks = slices.Delete(r.round.addTasks, i, i+1)
		fl = &history.Failure{Type: FailureTypeCanceled, Message: "chorus: child workflow canceled before it started"}
		payload := r.eng.encodeFailure(fl)
		r.histBytes += int64(len(payload)) + eventOverhead
		r.lastSeq++
		r.round.events = append(r.round.events, history.Event{Seq: r.lastSeq, Type: history.EventChildFailed, Ref: step, Payload: payload, Time: r.now})
	}
	f.settle(nil, fl)
	delete(r.pending, step)
	return true
}
