package chorustest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// errAttemptPanicked is the last error of an attempt that panicked.
var errAttemptPanicked = errors.New("the attempt panicked")

// attemptKey names an activity of a run: the run and its step.
type attemptKey struct {
	run  string
	step int64
}

// attemptState is what the env saw of an activity's attempts, for failure
// messages: the last attempt, whether it runs, the last error.
type attemptState struct {
	attempt int
	running bool
	lastErr error
}

// attemptStarted records the start of an attempt.
func (e *Env) attemptStarted(info activity.Info) attemptKey {
	k := attemptKey{info.RunID, info.Step}
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.attempts[k]
	if st == nil {
		st = &attemptState{}
		e.attempts[k] = st
	}
	st.attempt, st.running = info.Attempt, true
	return k
}

// attemptEnded records the end of an attempt. A success forgets the
// activity: its outcome is on its way to the journal.
func (e *Env) attemptEnded(k attemptKey, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		delete(e.attempts, k)
		return
	}
	if st := e.attempts[k]; st != nil {
		st.running, st.lastErr = false, err
	}
}

// unregisteredError is what an env wait returns when a run waits for a
// workflow or activity that is neither registered nor mocked.
type unregisteredError struct{ msg string }

func (e *unregisteredError) Error() string { return e.msg }

// Is makes errors.Is true for ErrStalled and chorus.ErrNotRegistered.
func (e *unregisteredError) Is(target error) bool {
	return target == ErrStalled || target == chorus.ErrNotRegistered
}

// checkUnregistered returns an error naming the work that waits for a
// registration, if any does.
func (e *Env) checkUnregistered(what string) error {
	us := e.core.Unregistered("")
	if len(us) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v: waiting for %s, but ", ErrStalled, what)
	for i, u := range us {
		if i > 0 {
			b.WriteString(", and ")
		}
		fmt.Fprintf(&b, "run %q waits for %s, which is not registered", u.Run, unregisteredText(u))
	}
	b.WriteString(": register it (Options.Definitions, Env.Register) or mock it (OnActivity, OnWorkflow) before the run needs it")
	return &unregisteredError{b.String()}
}

func unregisteredText(u engine.Unregistered) string {
	if u.Kind == "activity" {
		return fmt.Sprintf("activity %q (step %d, attempt %d)", u.Name, u.Step, u.Attempt)
	}
	return fmt.Sprintf("workflow %q of child run %q (step %d)", u.Name, u.Child, u.Step)
}

// describeRuns describes each run that has not ended and what it waits
// for, for a failure message.
func (e *Env) describeRuns(ctx context.Context) string {
	runs, err := e.eng.List(ctx, nil)
	if err != nil {
		return "list runs: " + err.Error()
	}
	store := e.core.Store()
	tasks, err := store.Tasks(ctx)
	if err != nil {
		return "list pending tasks: " + err.Error()
	}
	hruns, err := store.ListRuns(ctx, history.ListFilter{})
	if err != nil {
		return "list runs: " + err.Error()
	}
	byRun := map[string][]history.Task{}
	for _, t := range tasks {
		byRun[t.RunID] = append(byRun[t.RunID], t)
	}
	children := map[string][]history.RunInfo{}
	for _, r := range hruns {
		if r.Parent != "" && !r.Status.Ended() {
			children[r.Parent] = append(children[r.Parent], r)
		}
	}
	var open []string
	for _, r := range runs {
		if r.Status.Ended() {
			continue
		}
		s := fmt.Sprintf("%q (workflow %q) %s", r.ID, r.Workflow, r.Status)
		if r.Err != nil {
			s += ": " + r.Err.Error()
		}
		if r.Status == chorus.StatusRunning {
			s += ", waiting for: " + strings.Join(e.waits(r, byRun[r.ID], children[r.ID]), ", and ")
		}
		open = append(open, s)
	}
	if len(open) == 0 {
		return "every run has ended"
	}
	return "runs not ended: " + strings.Join(open, "; ")
}

// waits lists what a running run waits for: its pending tasks, its
// children that have not ended, and work that waits for a registration.
func (e *Env) waits(r chorus.RunInfo, tasks []history.Task, children []history.RunInfo) []string {
	var out []string
	parked := map[int64]bool{}
	for _, u := range r.Unregistered {
		out = append(out, u.String())
		if u.Kind == "activity" {
			parked[u.Step] = true
		}
	}
	now := e.mock.Now()
	for _, t := range tasks {
		switch t.Kind {
		case history.TaskActivity, 0:
			if !parked[t.Step] {
				out = append(out, e.activityWait(t, now))
			}
		case history.TaskTimer:
			out = append(out, fmt.Sprintf("timer (step %d) due at +%v", t.Step, t.NotBefore.Sub(e.start)))
		case history.TaskStartChild:
			out = append(out, fmt.Sprintf("the start of a child (step %d)", t.Step))
		case history.TaskSendSignal:
			out = append(out, fmt.Sprintf("the delivery of a signal to another run (step %d)", t.Step))
		case history.TaskCancelChild:
			out = append(out, fmt.Sprintf("the cancellation of a child (step %d)", -t.Step))
		case history.TaskNotifyParent:
			out = append(out, "the notification of its parent")
		default:
			out = append(out, fmt.Sprintf("%v task (step %d)", t.Kind, t.Step))
		}
	}
	for _, c := range children {
		out = append(out, fmt.Sprintf("child run %q (workflow %q, step %d)", c.ID, c.Workflow, c.ParentStep))
	}
	if len(out) == 0 {
		out = append(out, "nothing pending in its journal (a signal, a cancellation, or a condition of its own code)")
	}
	return out
}

// activityWait describes a pending activity: its attempt, whether it runs
// or when it is due, and the last error the env saw it return.
func (e *Env) activityWait(t history.Task, now time.Time) string {
	e.mu.Lock()
	st, seen := e.attempts[attemptKey{t.RunID, t.Step}]
	var cp attemptState
	if seen {
		cp = *st
	}
	e.mu.Unlock()
	s := fmt.Sprintf("activity %q (step %d) attempt ", t.Name, t.Step)
	switch {
	case seen && cp.running:
		s += fmt.Sprintf("%d running", cp.attempt)
	case t.NotBefore.After(now):
		s += fmt.Sprintf("%d due at +%v", t.Attempt, t.NotBefore.Sub(e.start))
	default:
		s += fmt.Sprintf("%d queued", t.Attempt)
	}
	if seen && cp.lastErr != nil {
		s += fmt.Sprintf(" (last error: %v)", cp.lastErr)
	}
	return s
}

// replayRun replays one run against its journal, giving up after
// Options.Timeout of wall time: replaying code that blocks outside the
// workflow API would otherwise hang the end of the test.
func (e *Env) replayRun(ctx context.Context, r chorus.RunInfo) (hung bool, err error) {
	done := make(chan error, 1)
	go func() { done <- e.core.ReplayRun(ctx, r.ID) }()
	timer := time.NewTimer(e.opts.Timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return false, err
	case <-timer.C:
		return true, fmt.Errorf("chorustest: replaying run %q (workflow %q) did not finish within %v of wall time "+
			"(Options.Timeout): its workflow code blocks outside the workflow API (a Go channel, a mutex, I/O, "+
			"time.Sleep) when it runs again", r.ID, r.Workflow, e.opts.Timeout)
	}
}
