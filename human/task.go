package human

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// Task declares a kind of human task: its name, the type of the context a
// person decides from (In) and the type of their answer (Out). Declare it
// once, at package level.
type Task[In, Out any] struct{ name string }

// NewTask declares a task kind. It panics on an empty name, like
// workflow.New.
func NewTask[In, Out any](name string) *Task[In, Out] {
	if name == "" {
		panic("human.NewTask: empty name")
	}
	return &Task[In, Out]{name: name}
}

// Name returns the task kind's name.
func (t *Task[In, Out]) Name() string { return t.name }

// Input decodes a task's context payload as t's input type.
func (t *Task[In, Out]) Input(v TaskView) (In, error) {
	var in In
	err := json.Unmarshal(v.Input, &in)
	return in, err
}

// Outcome decodes a closed task's outcome as t's outcome type.
func (t *Task[In, Out]) Outcome(v TaskView) (Out, error) {
	var out Out
	err := decodeStrict(v.Outcome, &out)
	return out, err
}

// Options say who takes a task and what happens when nobody answers.
type Options struct {
	// Assign says who should take the task. Required.
	Assign Assignment
	// Fallback takes the task when Assign finds nobody available (an
	// absent user, a group with no available member). Defaults to the
	// user's first group for ToUser and to the group for RoundRobin;
	// without one, Ask fails with an error wrapping [ErrNoAssignee].
	Fallback *Assignment
	// Priority orders the inbox (higher first). Defaults to 0.
	Priority int
	// Deadline is the task's SLA, from its creation; when it passes the
	// task ends as OnTimeout says. Zero: no deadline.
	Deadline time.Duration
	// Escalate are steps taken while the task is open, each After its
	// creation, in increasing order of After, all before the Deadline.
	Escalate []Step
	// OnTimeout is what Ask returns when the deadline passes: [Default]
	// (a value) or [Fail] (the default: an error wrapping [ErrTimedOut]).
	OnTimeout Timeout
	// Title is a line for the inbox. Defaults to the task's name.
	Title string
}

// Step is an escalation: After the task's creation, if it is still open,
// it is reassigned (when Assign is set; a claim is dropped), its priority
// raised (when Priority is above the current one), and whoever holds it
// is notified.
type Step struct {
	After    time.Duration
	Assign   Assignment
	Priority int
}

// Timeout is the outcome of a task whose deadline passed; see [Default]
// and [Fail].
type Timeout struct {
	set   bool
	value any
}

// Default makes a task that times out answer v.
func Default[Out any](v Out) Timeout { return Timeout{set: true, value: v} }

// Fail makes a task that times out fail Ask with an error wrapping
// [ErrTimedOut]. It is the default.
func Fail() Timeout { return Timeout{} }

// State is where a task stands.
type State string

// The task states. Open and Claimed tasks take actions; the others are
// closed.
const (
	StateOpen      State = "open"
	StateClaimed   State = "claimed"
	StateCompleted State = "completed"
	StateTimedOut  State = "timed-out"
	StateCanceled  State = "canceled"
	StateFailed    State = "failed"
)

// Closed reports whether the state takes no more actions.
func (s State) Closed() bool { return s != StateOpen && s != StateClaimed }

func (o *Options) check() error {
	if o == nil {
		return errors.New("human.Ask: nil options (Options.Assign is required)")
	}
	if err := o.Assign.check(); err != nil {
		return fmt.Errorf("human.Ask: Options.Assign: %w", err)
	}
	if o.Fallback != nil {
		if err := o.Fallback.check(); err != nil {
			return fmt.Errorf("human.Ask: Options.Fallback: %w", err)
		}
	}
	if o.Deadline < 0 {
		return fmt.Errorf("human.Ask: Options.Deadline is negative (%v)", o.Deadline)
	}
	var last time.Duration
	for i, s := range o.Escalate {
		if s.After <= last {
			return fmt.Errorf("human.Ask: Options.Escalate[%d].After (%v) must be positive and after the step before", i, s.After)
		}
		if o.Deadline > 0 && s.After >= o.Deadline {
			return fmt.Errorf("human.Ask: Options.Escalate[%d].After (%v) is not before Options.Deadline (%v)", i, s.After, o.Deadline)
		}
		if s.Assign.Kind != "" {
			if err := s.Assign.check(); err != nil {
				return fmt.Errorf("human.Ask: Options.Escalate[%d].Assign: %w", i, err)
			}
		}
		last = s.After
	}
	return nil
}

// Ask creates a human task with the context in, assigns it, and waits
// durably for a person's answer (see [Inbox]), for the deadline, or for the
// run to be canceled. ctx must come from [Enable].
//
// Assignment, escalation and notification run as the activities that
// [Definitions] returns; the deadline and the escalations are durable
// timers. Everything is journaled: after a crash Ask goes on where it
// was. Ask returns the completed outcome, the OnTimeout default, an error
// wrapping [ErrTimedOut], workflow.ErrCanceled, or the assignment's error
// (wrapping [ErrNoAssignee] when nobody could take the task).
//
// Ask returns the answer only; [AskFor] also says who gave it and when.
func Ask[In, Out any](ctx workflow.Context, t *Task[In, Out], in In, opts *Options) (Out, error) {
	r, err := AskFor(ctx, t, in, opts)
	return r.Value, err
}

// Result is a task's answer with who gave it and when, as [AskFor]
// returns it. Every field comes from the run's own state, rebuilt from its
// journal on replay: reading it takes no activity.
type Result[Out any] struct {
	// Value is the answer: the outcome a person completed the task with,
	// or the OnTimeout default.
	Value Out `json:"value"`
	// By is the user who completed the task: the user the [Inbox]
	// authorized and journaled with the completion, whatever the answer
	// itself says. Empty when the task timed out.
	By string `json:"by,omitempty"`
	// TaskID names the task within its run ("claim-review-1").
	TaskID string `json:"task_id"`
	// TimedOut says that the deadline passed: Value is the OnTimeout
	// default (or, with [Fail], AskFor's error wraps [ErrTimedOut]).
	TimedOut bool `json:"timed_out,omitempty"`
	// Escalations counts the escalation steps taken while the task was
	// open (its "escalated" audit entries).
	Escalations int `json:"escalations,omitempty"`
	// CreatedAt is when the task was asked; DecidedAt when it was
	// completed or its deadline passed (zero when it did neither). Both
	// are the run's time.
	CreatedAt time.Time `json:"created_at"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
}

// AskFor is [Ask] returning the whole [Result]: the answer, the user who
// gave it, the task's ID, whether the deadline passed, how often the task
// escalated, and when it was asked and answered. It takes the same
// arguments and fails in the same ways as Ask; with an error, the result
// still carries what is known of the task (its ID, creation time,
// escalations, and for a deadline with [Fail], TimedOut and DecidedAt),
// and its Value is the zero value.
func AskFor[In, Out any](ctx workflow.Context, t *Task[In, Out], in In, opts *Options) (Result[Out], error) {
	var res Result[Out]
	d := deskOf(ctx)
	if err := opts.check(); err != nil {
		return res, err
	}
	var zero Out
	var def []byte
	if opts.OnTimeout.set {
		v, ok := opts.OnTimeout.value.(Out)
		if !ok {
			return res, fmt.Errorf("human.Ask: Options.OnTimeout is Default(%T), task %q answers %T", opts.OnTimeout.value, t.name, zero)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return res, fmt.Errorf("human.Ask: encode the default outcome: %w", err)
		}
		def = b
	}
	input, err := json.Marshal(in)
	if err != nil {
		return res, fmt.Errorf("human.Ask: encode the context of task %q: %w", t.name, err)
	}

	now := workflow.Now(ctx)
	d.seq++
	ts := &taskState{
		TaskView: TaskView{
			RunID: d.runID, ID: fmt.Sprintf("%s-%d", t.name, d.seq), Name: t.name, Title: opts.Title,
			State: StateOpen, Priority: opts.Priority, Created: now, Input: input,
		},
		done:   workflow.NewBufferedChannel[struct{}](ctx, 1),
		decode: func(b []byte) error { var out Out; return decodeStrict(b, &out) },
	}
	if ts.Title == "" {
		ts.Title = t.name
	}
	if opts.Deadline > 0 {
		ts.Due = now.Add(opts.Deadline)
	}
	d.add(ts)
	// result is what is known of the task when AskFor returns.
	result := func() Result[Out] {
		return Result[Out]{TaskID: ts.ID, By: ts.CompletedBy, TimedOut: ts.State == StateTimedOut,
			Escalations: ts.escalations(), CreatedAt: ts.Created, DecidedAt: ts.decidedAt()}
	}
	ts.record(ctx, "created", "", "assign "+opts.Assign.String())

	asg, err := d.assign(ctx, assignIn{Assign: opts.Assign, Fallback: opts.Fallback})
	if err != nil {
		ts.close(ctx, StateFailed)
		ts.record(ctx, "failed", "", err.Error())
		d.index(ctx)
		return result(), err
	}
	d.place(ctx, ts, asg, "assigned")

	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel() // the timers of an answered task are not left behind
	var deadline, esc workflow.Future[struct{}]
	if opts.Deadline > 0 { // counted from the creation, not from the end of the assignment
		deadline = workflow.NewTimer(tctx, ts.Due.Sub(workflow.Now(ctx)))
	}
	next := 0
	arm := func() {
		esc = nil
		if next < len(opts.Escalate) {
			esc = workflow.NewTimer(tctx, opts.Escalate[next].After-workflow.Now(ctx).Sub(ts.Created))
		}
	}
	arm()
	for {
		var fired string
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(ts.done, func() { ts.done.ReceiveAsync(); fired = "done" })
		if deadline != nil {
			sel.AddFuture(deadline, func() { fired = "deadline" })
		}
		if esc != nil {
			sel.AddFuture(esc, func() { fired = "escalate" })
		}
		sel.AddReceive(ctx.Done(), func() { fired = "canceled" })
		sel.Select(ctx)

		switch fired {
		case "done":
			res = result()
			if err := decodeStrict(ts.Outcome, &res.Value); err != nil {
				return result(), fmt.Errorf("human: decode the outcome of task %q: %w", ts.ID, err)
			}
			return res, nil
		case "canceled":
			dctx := workflow.NewDisconnectedContext(ctx)
			ts.close(dctx, StateCanceled)
			ts.record(dctx, "canceled", "", "the run was canceled")
			d.index(dctx)
			return result(), workflow.ErrCanceled
		case "deadline":
			ts.close(ctx, StateTimedOut)
			if def != nil {
				ts.Outcome = def
				ts.record(ctx, "timed-out", "", "deadline passed: default outcome "+string(def))
				d.index(ctx)
				res = result()
				_ = json.Unmarshal(def, &res.Value)
				return res, nil
			}
			ts.record(ctx, "timed-out", "", "deadline passed: failing")
			d.index(ctx)
			return result(), fmt.Errorf("%w: task %q (%s) after %v", ErrTimedOut, ts.ID, t.name, opts.Deadline)
		case "escalate":
			step := opts.Escalate[next]
			next++
			d.escalate(ctx, ts, next, step)
			arm()
		}
	}
}

// escalations counts the escalation steps the task took.
func (ts *taskState) escalations() int {
	n := 0
	for _, a := range ts.Audit {
		if a.Action == "escalated" {
			n++
		}
	}
	return n
}

// decidedAt is when the task got its answer: completed, or timed out.
func (ts *taskState) decidedAt() time.Time {
	if ts.State == StateCompleted || ts.State == StateTimedOut {
		return ts.Closed
	}
	return time.Time{}
}

// escalate takes escalation step n (1-based).
func (d *desk) escalate(ctx workflow.Context, ts *taskState, n int, step Step) {
	detail := fmt.Sprintf("step %d after %v", n, step.After)
	if step.Priority > ts.Priority {
		ts.Priority = step.Priority
		detail += fmt.Sprintf(", priority %d", step.Priority)
	}
	if step.Assign.Kind == "" {
		ts.record(ctx, "escalated", "", detail)
		d.index(ctx)
		d.notify(ctx, ts, "escalated")
		return
	}
	res, err := d.assign(ctx, assignIn{Assign: step.Assign})
	if ts.State.Closed() { // answered while the directory was asked
		return
	}
	if err != nil {
		ts.record(ctx, "escalation-failed", "", detail+": "+err.Error())
		d.index(ctx)
		return
	}
	if ts.ClaimedBy != "" {
		detail += ", claim of " + ts.ClaimedBy + " dropped"
	}
	ts.record(ctx, "escalated", "", detail+" to "+step.Assign.String())
	d.place(ctx, ts, res, "escalated")
}

// assign runs the assignment activity.
func (d *desk) assign(ctx workflow.Context, in assignIn) (assignOut, error) {
	actx := workflow.WithActivityOptions(ctx, assignOpts)
	res, err := workflow.ExecuteActivity(actx, assignAct, in).Get(ctx)
	if err != nil {
		var ae *activity.Error
		if errors.As(err, &ae) && ae.Type == noAssigneeType {
			return res, fmt.Errorf("%w: %s", ErrNoAssignee, ae.Message)
		}
		return res, err
	}
	return res, nil
}

// place gives the task to the assignment's result, records it and
// notifies.
func (d *desk) place(ctx workflow.Context, ts *taskState, res assignOut, event string) {
	ts.Assignee, ts.Group, ts.ClaimedBy = res.User, res.Group, ""
	ts.State = StateOpen
	if res.Fallback {
		ts.record(ctx, "fallback", "", res.Reason)
	}
	ts.record(ctx, "assigned", "", holder(res.User, res.Group))
	d.index(ctx)
	d.notify(ctx, ts, event)
}

func holder(user, group string) string {
	switch {
	case user != "" && group != "":
		return "user " + user + " (group " + group + ")"
	case user != "":
		return "user " + user
	default:
		return "group " + group
	}
}

// notify runs the notify activity in a goroutine of its own: Ask never
// waits for it, and its failure is only recorded.
func (d *desk) notify(ctx workflow.Context, ts *taskState, event string) {
	n := Notice{Event: event, RunID: d.runID, TaskID: ts.ID, Task: ts.Name, Assignee: ts.Assignee, Group: ts.Group, Priority: ts.Priority, Due: ts.Due}
	workflow.Go(ctx, func(ctx workflow.Context) {
		actx := workflow.WithActivityOptions(ctx, notifyOpts)
		if _, err := workflow.ExecuteActivity(actx, notifyAct, n).Get(ctx); err != nil {
			ts.record(ctx, "notify-failed", "", event+": "+err.Error())
			return
		}
		ts.record(ctx, "notified", "", event+" "+holder(n.Assignee, n.Group))
	})
}

// decodeStrict decodes one JSON value into v, refusing unknown fields,
// trailing data and an empty or null payload.
func decodeStrict(b []byte, v any) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return errors.New("empty outcome")
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the outcome")
	}
	return nil
}
