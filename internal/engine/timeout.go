package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/chorusdev/chorus/history"
)

// Timeouts bound how long a run may go on; a zero field means no bound.
type Timeouts struct {
	// Execution bounds the run from its start, across every generation
	// (continue-as-new keeps the deadline).
	Execution time.Duration `json:"execution,omitempty"`
	// Run bounds each generation from its own start.
	Run time.Duration `json:"run,omitempty"`
}

// IsZero reports whether no timeout is set.
func (t Timeouts) IsZero() bool { return t.Execution == 0 && t.Run == 0 }

// Check returns an error naming the field (prefix + ".ExecutionTimeout" or
// ".RunTimeout") when a timeout is negative.
func (t Timeouts) Check(prefix string) error {
	switch {
	case t.Execution < 0:
		return fmt.Errorf("chorus: %s.ExecutionTimeout is negative (%v); want 0 (no timeout) or more", prefix, t.Execution)
	case t.Run < 0:
		return fmt.Errorf("chorus: %s.RunTimeout is negative (%v); want 0 (no timeout) or more", prefix, t.Run)
	}
	return nil
}

// ErrWorkflowTimeout is wrapped by every *WorkflowTimeoutError.
var ErrWorkflowTimeout = errors.New("chorus: workflow timed out")

// FailureTypeWorkflowTimeout marks a run that passed its execution or run
// timeout; Details holds the *WorkflowTimeoutError as JSON.
const FailureTypeWorkflowTimeout = "WorkflowTimeout"

// WorkflowTimeoutError is why a run that timed out ended.
type WorkflowTimeoutError struct {
	// RunID is the run that timed out.
	RunID string `json:"run_id"`
	// Timeout is "execution" or "run": the timeout that passed.
	Timeout string `json:"timeout"`
	// Duration is that timeout's value.
	Duration time.Duration `json:"duration"`
}

func (e *WorkflowTimeoutError) Error() string {
	return fmt.Sprintf("chorus: run %q passed its %s timeout (%v)", e.RunID, e.Timeout, e.Duration)
}

// Unwrap returns ErrWorkflowTimeout.
func (e *WorkflowTimeoutError) Unwrap() error { return ErrWorkflowTimeout }

// Failure returns the error's stored form.
func (e *WorkflowTimeoutError) Failure() *history.Failure {
	d, _ := json.Marshal(e) // strings and a number
	return &history.Failure{Type: FailureTypeWorkflowTimeout, Message: e.Error(), NonRetryable: true, Details: d}
}

// workflowTimeoutCause rebuilds a *WorkflowTimeoutError from its stored
// form, or returns nil.
func workflowTimeoutCause(f *history.Failure) error {
	var we WorkflowTimeoutError
	if json.Unmarshal(f.Details, &we) != nil || we.Timeout == "" {
		return nil
	}
	return &we
}

// runTimeout is what a run-timeout task carries: the deadlines of one
// generation, as Unix nanoseconds (0 for none), and the timeouts, so the
// next generation of a run that continues as new gets its own run deadline
// and keeps the execution deadline.
type runTimeout struct {
	Step              int64         `json:"-"`
	ExecutionDeadline int64         `json:"execution_deadline,omitempty"`
	RunDeadline       int64         `json:"run_deadline,omitempty"`
	Execution         time.Duration `json:"execution,omitempty"`
	Run               time.Duration `json:"run,omitempty"`
}

// due returns the earlier deadline.
func (t *runTimeout) due() time.Time {
	d := t.RunDeadline
	if d == 0 || t.ExecutionDeadline != 0 && t.ExecutionDeadline < d {
		d = t.ExecutionDeadline
	}
	return time.Unix(0, d)
}

// deadline returns now+d as Unix nanoseconds, or 0 when d is 0 or the
// deadline is past what the journal can hold (2262): no bound.
func deadline(now time.Time, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	at := now.Add(d)
	if at.After(time.Unix(0, math.MaxInt64)) {
		return 0
	}
	return at.UnixNano()
}

// setTimeout bounds the generation whose RunStarted has Seq start: a task
// committed with it ends the run at its deadline. execDeadline carries the
// execution deadline of the generation before (0 for a new run).
func (r *Run) setTimeout(to Timeouts, execDeadline int64, start int64) {
	r.timeout = nil
	if to.IsZero() {
		return
	}
	t := &runTimeout{Step: -start, Execution: to.Execution, Run: to.Run,
		ExecutionDeadline: execDeadline, RunDeadline: deadline(r.liveNow, to.Run)}
	if t.ExecutionDeadline == 0 {
		t.ExecutionDeadline = deadline(r.liveNow, to.Execution)
	}
	if t.ExecutionDeadline == 0 && t.RunDeadline == 0 {
		return
	}
	r.timeout = t
	input, _ := json.Marshal(t) // numbers
	r.round.addTasks = append(r.round.addTasks, history.Task{RunID: r.id, Step: t.Step, Kind: history.TaskRunTimeout,
		Input: input, NotBefore: t.due()})
}

// dropTimeout, in the round that ends the current generation, deletes its
// timeout task and stops its timer after the commit.
func (r *Run) dropTimeout() {
	t := r.timeout
	if t == nil {
		return
	}
	r.timeout = nil
	r.round.addTasks = slices.DeleteFunc(r.round.addTasks, func(k history.Task) bool {
		return k.Kind == history.TaskRunTimeout && k.Step == t.Step
	})
	r.round.doneTasks = append(r.round.doneTasks, t.Step)
	r.round.stopTimeouts = append(r.round.stopTimeouts, t.Step)
}

// timeOut ends the run as timed out when the timer of its current
// generation's deadline fired; a timer of a generation or run that is over
// is dropped.
func (r *Run) timeOut(in input) {
	t := r.timeout
	if r.ended || t == nil || t.Step != in.step {
		if r.ended {
			r.eng.doneTask(r.id, in.step) // left behind; never to fire again
		}
		in.answer(nil)
		return
	}
	if due := t.due(); r.liveNow.Before(due) {
		// The clock went back since the timer was armed: arm it again.
		r.eng.timers.armInput(r.id, due, input{kind: inTimeout, step: t.Step, internal: true})
		in.answer(nil)
		return
	}
	we := &WorkflowTimeoutError{RunID: r.id, Timeout: "run", Duration: t.Run}
	if t.ExecutionDeadline != 0 && !r.liveNow.Before(time.Unix(0, t.ExecutionDeadline)) {
		we.Timeout, we.Duration = "execution", t.Execution
	}
	in.failure = we.Failure()
	r.end(in, history.StatusTimedOut)
	r.round.retry = append(r.round.retry, in)
}

// armTimeout arms the timer of a run-timeout task and remembers its
// deadlines for the run's next load.
func (e *Engine) armTimeout(t history.Task) {
	var rt runTimeout
	if err := json.Unmarshal(t.Input, &rt); err != nil {
		e.log.Error("chorus: corrupt run-timeout task", "run", t.RunID, "step", t.Step, "err", err)
		return
	}
	rt.Step = t.Step
	e.timers.mu.Lock()
	if e.timers.deadlines == nil {
		e.timers.deadlines = map[string]runTimeout{}
	}
	e.timers.deadlines[t.RunID] = rt
	e.timers.mu.Unlock()
	e.timers.armInput(t.RunID, t.NotBefore, input{kind: inTimeout, step: t.Step, internal: true})
}

// committedTimeout returns the deadlines of the run's committed generation,
// or nil.
func (e *Engine) committedTimeout(run string) *runTimeout {
	e.timers.mu.Lock()
	defer e.timers.mu.Unlock()
	rt, ok := e.timers.deadlines[run]
	if !ok {
		return nil
	}
	return &rt
}

// stopTimeout stops the timer of a generation that ended and forgets its
// deadlines.
func (e *Engine) stopTimeout(run string, step int64) {
	e.timers.stop(run, step)
	e.timers.mu.Lock()
	defer e.timers.mu.Unlock()
	if rt, ok := e.timers.deadlines[run]; ok && rt.Step == step {
		delete(e.timers.deadlines, run)
	}
}
