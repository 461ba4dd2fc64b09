package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/history"
)

// runTask starts the work a committed task promises. It is called after the
// commit that added the task, and at Open for every task left in the
// journal, so each kind must tolerate being run twice.
func (e *Engine) runTask(t history.Task, workflow string, events []history.Event) {
	switch t.Kind {
	case history.TaskActivity, 0:
		e.acts.dispatch(newActTask(t, workflow, events))
	case history.TaskTimer:
		e.timers.arm(t.RunID, t.Step, t.NotBefore)
	case history.TaskStartChild:
		e.startChild(t)
	case history.TaskNotifyParent:
		e.notifyParent(t)
	case history.TaskSendSignal:
		e.sendSignal(t)
	case history.TaskCancelChild:
		e.cancelChild(t)
	case history.TaskCloseChildren:
		e.closeChildren(t)
	case history.TaskRunTimeout:
		e.armTimeout(t)
	case history.TaskWake:
		e.wake([]history.Task{t})
	default:
		e.log.Error("chorus: unknown task kind", "run", t.RunID, "step", t.Step, "kind", t.Kind)
	}
}

// stopWork stops what a settled future no longer needs: a running activity
// attempt or an armed timer.
func (e *Engine) stopWork(run string, f *Future) {
	switch f.kind {
	case futActivity:
		if f.waitCancel && f.cancelSent && !f.ready {
			e.acts.cancelWait(run, f.step)
			return
		}
		e.acts.cancel(run, f.step)
	case futTimer:
		e.timers.stop(run, f.step)
	}
}

// doneTask deletes a task of another run than the one being processed, once
// what it promised is recorded. A failure only means the task runs again
// after the next Open, which every task kind tolerates.
func (e *Engine) doneTask(run string, step int64) {
	err := e.w.submit(&history.Batch{RunID: run, Time: e.clock.Now(), DoneTasks: []int64{step}})
	if err != nil && !errors.Is(err, history.ErrStoreClosed) {
		e.log.Warn("chorus: delete finished task", "run", run, "step", step, "err", err)
	}
}

// timers arms in-memory clock timers for journaled timer tasks; nothing
// polls.
type timers struct {
	e      *Engine
	mu     sync.Mutex
	armed  map[taskKey]armedTimer
	closed bool
	// deadlines holds, by run, those of the generation whose run-timeout
	// task was committed last.
	deadlines map[string]runTimeout
}

type armedTimer struct {
	t  *clock.Timer
	at time.Time
}

func newTimers(e *Engine) *timers {
	return &timers{e: e, armed: map[taskKey]armedTimer{}}
}

// next returns the earliest fire time of the armed timers.
func (ts *timers) next() (time.Time, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var first time.Time
	for _, a := range ts.armed {
		if first.IsZero() || a.at.Before(first) {
			first = a.at
		}
	}
	return first, !first.IsZero()
}

func (ts *timers) arm(run string, step int64, at time.Time) {
	ts.armInput(run, at, input{kind: inTimerFired, step: step})
}

// armInput delivers in to run at time at; the timer is known by in.step.
func (ts *timers) armInput(run string, at time.Time, in input) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	k := taskKey{run, in.step}
	if _, ok := ts.armed[k]; ts.closed || ok {
		return
	}
	// fire runs counted as busy, so the engine never looks idle between the
	// timer leaving armed and its input reaching the run.
	fire := func() {
		defer ts.e.settled()
		ts.mu.Lock()
		delete(ts.armed, k)
		closed := ts.closed
		ts.mu.Unlock()
		if !closed {
			_ = ts.e.deliver(run, in)
		}
	}
	d := at.Sub(ts.e.clock.Now())
	if d <= 0 {
		// Due while the process was down, or due now.
		ts.e.busy.Add(1)
		go fire()
		return
	}
	ts.armed[k] = armedTimer{ts.e.clock.AfterFunc(d, func() { ts.e.busy.Add(1); fire() }), at}
}

func (ts *timers) stop(run string, step int64) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	k := taskKey{run, step}
	if a, ok := ts.armed[k]; ok {
		a.t.Stop()
		delete(ts.armed, k)
	}
}

func (ts *timers) close() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.closed = true
	for k, a := range ts.armed {
		a.t.Stop()
		delete(ts.armed, k)
	}
}

// startChild creates the child run a ChildStarted event promised. If the ID
// is taken by a run that is not this child, the parent learns it as a
// failure of the child.
func (e *Engine) startChild(t history.Task) {
	var cp childPayload
	if err := json.Unmarshal(t.Input, &cp); err != nil {
		e.log.Error("chorus: corrupt start-child task", "run", t.RunID, "step", t.Step, "err", err)
		return
	}
	in := input{kind: inStart, name: cp.Workflow, payload: cp.Input, internal: true, startArgs: &startArgs{parent: cp.Parent, parentStep: cp.ParentStep}}
	if cp.Timeouts != nil {
		in.timeouts = *cp.Timeouts
	}
	in.spec, _ = e.reg.workflow(cp.Workflow)
	in.header = cp.Header
	in.after = func(err error) {
		switch {
		case err == nil:
		case errors.Is(err, history.ErrRunExists):
			info, rerr := e.store.Run(e.ctx, cp.ID)
			if rerr != nil || info.Parent == cp.Parent && info.ParentStep == cp.ParentStep {
				break // started before a crash: it is this child
			}
			_ = e.deliver(cp.Parent, input{kind: inChildResult, step: cp.ParentStep, failure: &history.Failure{
				Type: "ChildIDInUse", Message: fmt.Sprintf("chorus: cannot start child workflow %q: %v", cp.Workflow, err), NonRetryable: true,
			}})
			return
		case errors.Is(err, ErrEngineClosed), errors.Is(err, history.ErrStoreClosed):
			return
		default:
			var pe *PanicError
			if !errors.As(err, &pe) {
				e.log.Warn("chorus: start child; trying again", "parent", cp.Parent, "child", cp.ID, "err", err)
				e.runTaskLater(t)
				return
			}
			// The child's code panicked before its first wait: nothing of it
			// was recorded. Tell the parent instead of retrying forever.
			_ = e.deliver(cp.Parent, input{kind: inChildResult, step: cp.ParentStep, failure: FailureOf(err)})
			return
		}
		e.doneTask(t.RunID, t.Step)
	}
	_ = e.deliver(cp.ID, in)
}

// notifyParent tells a parent how its child ended.
func (e *Engine) notifyParent(t history.Task) {
	var np notifyPayload
	if err := json.Unmarshal(t.Input, &np); err != nil {
		e.log.Error("chorus: corrupt notify-parent task", "run", t.RunID, "step", t.Step, "err", err)
		return
	}
	in := input{kind: inChildResult, step: np.ParentStep, child: np.Child}
	switch np.Status {
	case history.StatusCompleted:
		in.payload = np.Result
	default:
		fl, err := e.decodeFailure(np.Failure)
		if err != nil {
			fl = &history.Failure{Message: fmt.Sprintf("child run %q ended as %v", np.Child, np.Status)}
		}
		if np.Status == history.StatusCanceled {
			fl = &history.Failure{Type: FailureTypeCanceled, Message: fl.Message, Cause: fl}
		}
		if np.Status == history.StatusTerminated {
			fl = &history.Failure{Type: FailureTypeTerminated, Message: fl.Message, NonRetryable: true}
		}
		in.failure = fl
	}
	in.after = func(err error) {
		switch {
		case err == nil || errors.Is(err, history.ErrRunNotFound) || errors.Is(err, ErrRunEnded):
			e.doneTask(t.RunID, t.Step)
		case !stopping(err):
			e.runTaskLater(t)
		}
	}
	_ = e.deliver(np.Parent, in)
}

// sendSignal delivers a signal a workflow sent, then tells the sender.
func (e *Engine) sendSignal(t history.Task) {
	var sp signalPayload
	if err := json.Unmarshal(t.Input, &sp); err != nil {
		e.log.Error("chorus: corrupt send-signal task", "run", t.RunID, "step", t.Step, "err", err)
		return
	}
	if e.interceptSignal(t, sp) {
		return
	}
	in := input{kind: inSignal, name: sp.Signal, payload: sp.Value, internal: true, key: fmt.Sprintf("%s/%d", sp.From, t.Step)}
	in.after = func(err error) {
		if stopping(err) {
			return
		}
		if err != nil && !definite(err) {
			// A store hiccup, not an answer: deliver the signal again later.
			e.runTaskLater(t)
			return
		}
		res := input{kind: inSignalDelivered, step: t.Step}
		if err != nil {
			res.failure = FailureOf(fmt.Errorf("chorus: signal %q to run %q: %w", sp.Signal, sp.Target, err))
			switch {
			case errors.Is(err, history.ErrRunNotFound):
				res.failure.Type = FailureTypeRunNotFound
			case errors.Is(err, ErrRunEnded):
				res.failure.Type = FailureTypeRunEnded
			}
		}
		_ = e.deliver(sp.From, res)
	}
	_ = e.deliver(sp.Target, in)
}

// cancelChild asks a child to cancel because its parent's scope was.
func (e *Engine) cancelChild(t history.Task) {
	child := string(t.Input)
	in := input{kind: inCancel, internal: true}
	in.after = func(err error) {
		var be *BlockedError
		switch {
		case err == nil, errors.Is(err, ErrRunEnded), errors.Is(err, history.ErrRunNotFound), errors.As(err, &be):
			// Done, or nothing left to cancel (a blocked child is the
			// operator's to terminate).
			e.doneTask(t.RunID, t.Step)
		case !stopping(err):
			e.log.Warn("chorus: cancel child; trying again", "parent", t.RunID, "child", child, "err", err)
			e.runTaskLater(t)
		}
	}
	_ = e.deliver(child, in)
}

// closeChildren terminates, or asks to cancel, the children a parent left
// running when it ended. The task is done once every child answered; a
// child that could not be reached makes the whole task run again later,
// which is harmless for those that answered (they have ended, or were asked
// already).
func (e *Engine) closeChildren(t history.Task) {
	var cp closePayload
	if err := json.Unmarshal(t.Input, &cp); err != nil {
		e.log.Error("chorus: corrupt close-children task", "run", t.RunID, "step", t.Step, "err", err)
		return
	}
	var mu sync.Mutex
	left, again, stop := len(cp.Children), false, false
	answered := func(child string, err error) {
		var be *BlockedError
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil, errors.Is(err, ErrRunEnded), errors.Is(err, history.ErrRunNotFound), errors.As(err, &be):
			// Done, or nothing left to do (a blocked child is the
			// operator's to terminate when it is only asked to cancel).
		case stopping(err):
			stop = true
		default:
			e.log.Warn("chorus: close child of ended parent; trying again", "parent", t.RunID, "child", child, "err", err)
			again = true
		}
		if left--; left > 0 {
			return
		}
		switch {
		case stop:
		case again:
			e.runTaskLater(t)
		default:
			e.doneTask(t.RunID, t.Step)
		}
	}
	if left == 0 {
		e.doneTask(t.RunID, t.Step)
		return
	}
	for _, c := range cp.Children {
		in := input{kind: inCancel, internal: true}
		if c.Terminate {
			in = input{kind: inTerminate, internal: true, failure: &history.Failure{Type: FailureTypeTerminated,
				Message: fmt.Sprintf("chorus: parent run %q ended (parent-close policy: terminate)", cp.Parent), NonRetryable: true}}
		}
		in.after = func(err error) { answered(c.ID, err) }
		_ = e.deliver(c.ID, in)
	}
}

// stopping reports an error that means the engine is shutting down: the
// task stays in the journal and runs after the next Open.
func stopping(err error) bool {
	return errors.Is(err, ErrEngineClosed) || errors.Is(err, history.ErrStoreClosed)
}

// definite reports an error that is the run's answer, as opposed to a
// failure to reach it (a store error) that is worth trying again.
func definite(err error) bool {
	var be *BlockedError
	var le *LimitError
	var nr *NotRegisteredError
	// ErrNotOwner: another engine sharing the store owns the run, and
	// trying again here cannot reach it (see adopt.go).
	return errors.Is(err, history.ErrRunNotFound) || errors.Is(err, ErrRunEnded) || errors.Is(err, history.ErrRunExists) ||
		errors.Is(err, history.ErrNotOwner) || errors.As(err, &be) || errors.As(err, &le) || errors.As(err, &nr)
}

// runTaskLater runs a task again after a pause, when reaching its target
// failed for a reason that may pass.
func (e *Engine) runTaskLater(t history.Task) {
	e.later(func() { e.runTask(t, t.Workflow, nil) })
}

// maxResyncAttempts bounds how long resyncLater keeps trying to read a run
// back (about 20 seconds at redeliverDelay); after that the run's work is
// picked up at the next Open.
const maxResyncAttempts = 200

// resyncLater reads a run whose last commit had an unknown outcome back
// from the store, and starts the work its journal promises (its pending
// tasks; every kind tolerates running twice) and tells waiters if it ended.
func (e *Engine) resyncLater(id string, attempt int) {
	if attempt >= maxResyncAttempts {
		return
	}
	e.later(func() {
		if err := e.resync(id); err != nil && !stopping(err) {
			e.resyncLater(id, attempt+1)
		}
	})
}

func (e *Engine) resync(id string) error {
	info, err := e.store.Run(e.ctx, id)
	if err != nil {
		return err
	}
	tasks, err := e.store.Tasks(e.ctx)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if t.RunID == id && t.Damaged == nil {
			e.runTask(t, info.Workflow, nil)
		}
	}
	switch {
	case info.Status.Ended():
		e.notify(id, Outcome{Status: info.Status, Workflow: info.Workflow, Result: info.Result, Failure: info.Failure})
	case info.Status == history.StatusBlocked:
		var reason error = errors.New("blocked")
		if f, err := e.decodeFailure(info.Failure); err == nil {
			if c := BlockedCause(f); c != nil {
				reason = c
			} else {
				reason = errors.New(f.Message)
			}
		}
		e.notify(id, Outcome{Status: info.Status, Blocked: reason})
	}
	return nil
}
