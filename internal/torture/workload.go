// Package torture is Chorus's kill-loop harness: a parent process runs a
// mixed workload of workflows in a child process, SIGKILLs the child at
// seeded random moments, restarts it on the same database file, again and
// again, and after every kill checks from a copy of the database that
// nothing acknowledged was lost, nothing was recorded twice, and no
// activity ran more often than the kills can explain. See RELIABILITY.md at
// the root of the repository, and cmd/chorus-torture for the command.
//
// The workload (this file) is also used by the root package's fault
// injection tests.
package torture

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// Kind is a kind of run in the workload.
type Kind string

// The kinds of run. A run's ID says its kind: "<kind>-<number>".
const (
	// KindActs runs three activities one after the other.
	KindActs Kind = "acts"
	// KindTimer runs an activity, sleeps TimerDelay, runs another.
	KindTimer Kind = "timer"
	// KindSignal waits for the signal Go, then runs an activity with it.
	KindSignal Kind = "signal"
	// KindSaga reserves twice, then fails to charge (not retryable), so
	// its saga releases both reservations, last first, and it fails.
	KindSaga Kind = "saga"
	// KindChild runs a KindActs workflow as a child and returns its result.
	KindChild Kind = "child"
	// KindPing signals itself with workflow.SignalExternal, receives the
	// signal, then runs an activity.
	KindPing Kind = "ping"
)

// Kinds lists every kind, in the order RunID cycles through them.
var Kinds = []Kind{KindActs, KindTimer, KindSignal, KindSaga, KindChild, KindPing}

// TimerDelay is how long a KindTimer run sleeps.
const TimerDelay = 20 * time.Millisecond

// RunID returns the ID of run number i of the workload.
func RunID(i int) string {
	return fmt.Sprintf("%s-%06d", Kinds[i%len(Kinds)], i)
}

// KindOf returns the kind of a run of the workload, from its ID; child
// runs (whose ID holds a "/") and other IDs have none.
func KindOf(id string) (Kind, bool) {
	if strings.Contains(id, "/") {
		return "", false
	}
	k, _, ok := strings.Cut(id, "-")
	for _, kk := range Kinds {
		if ok && Kind(k) == kk {
			return kk, true
		}
	}
	return "", false
}

// SignalValue is the value of the Go signal that run id receives.
func SignalValue(id string) string { return "v-" + id }

// Hooks let the caller count activity executions. Each is optional.
type Hooks struct {
	// Begin is called first thing in every activity execution; an error
	// fails the attempt.
	Begin func(ctx context.Context, act string, info activity.Info) error
	// End is called when the execution has done its work, just before it
	// returns.
	End func(ctx context.Context, act string, info activity.Info)
}

// Activity and workflow names.
const (
	ActA       = "torture-a"
	ActB       = "torture-b"
	ActC       = "torture-c"
	ActReserve = "torture-reserve"
	ActCharge  = "torture-charge"
	ActRelease = "torture-release"
)

// Workload holds the definitions of the workload's workflows and
// activities. Every process builds its own, under the same names.
type Workload struct {
	A, B, C, Reserve, Charge, Release *activity.Definition[string, string]
	workflows                         map[Kind]*workflow.Definition[string, string]
	// Go is the signal KindSignal runs wait for; Ping the one KindPing runs
	// send themselves.
	Go, Ping *workflow.Signal[string]
}

// New returns the workload's definitions, calling h around each activity
// execution.
func New(h Hooks) *Workload {
	w := &Workload{
		Go:        workflow.NewSignal[string]("torture-go"),
		Ping:      workflow.NewSignal[string]("torture-ping"),
		workflows: map[Kind]*workflow.Definition[string, string]{},
	}
	act := func(name string, fn func(in string) (string, error)) *activity.Definition[string, string] {
		return activity.New(name, func(ctx context.Context, in string) (string, error) {
			info := activity.GetInfo(ctx)
			if h.Begin != nil {
				if err := h.Begin(ctx, name, info); err != nil {
					return "", err
				}
			}
			out, err := fn(in)
			if h.End != nil {
				h.End(ctx, name, info)
			}
			return out, err
		})
	}
	suffix := func(name string) func(string) (string, error) {
		return func(in string) (string, error) { return in + "|" + name, nil }
	}
	w.A, w.B, w.C = act(ActA, suffix(ActA)), act(ActB, suffix(ActB)), act(ActC, suffix(ActC))
	w.Reserve = act(ActReserve, func(in string) (string, error) { return "res:" + in, nil })
	w.Charge = act(ActCharge, func(in string) (string, error) {
		return "", activity.NonRetryable(activity.NewError("declined", "card declined for %s", in))
	})
	w.Release = act(ActRelease, func(in string) (string, error) { return "released:" + in, nil })

	run := func(ctx workflow.Context, v string, acts ...*activity.Definition[string, string]) (string, error) {
		for _, a := range acts {
			var err error
			if v, err = workflow.ExecuteActivity(ctx, a, v).Get(ctx); err != nil {
				return "", err
			}
		}
		return v, nil
	}
	acts := workflow.New("torture-acts", func(ctx workflow.Context, in string) (string, error) {
		return run(ctx, in, w.A, w.B, w.C)
	})
	w.workflows[KindActs] = acts
	w.workflows[KindTimer] = workflow.New("torture-timer", func(ctx workflow.Context, in string) (string, error) {
		v, err := run(ctx, in, w.A)
		if err != nil {
			return "", err
		}
		if err := workflow.Sleep(ctx, TimerDelay); err != nil {
			return "", err
		}
		return run(ctx, v+"|slept", w.B)
	})
	w.workflows[KindSignal] = workflow.New("torture-signal", func(ctx workflow.Context, in string) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, w.Go).Receive(ctx)
		return run(ctx, in+"|sig="+v, w.A)
	})
	w.workflows[KindSaga] = workflow.New("torture-saga", func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)
		for _, item := range []string{"x", "y"} {
			r, err := workflow.ExecuteActivity(ctx, w.Reserve, in+"/"+item).Get(ctx)
			if err != nil {
				return "", err
			}
			if err := saga.Add(s, w.Release, r); err != nil {
				return "", err
			}
		}
		return workflow.ExecuteActivity(ctx, w.Charge, in).Get(ctx)
	})
	w.workflows[KindChild] = workflow.New("torture-child", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteChildWorkflow(ctx, acts, in+"/child", nil).Get(ctx)
	})
	w.workflows[KindPing] = workflow.New("torture-ping", func(ctx workflow.Context, in string) (string, error) {
		if _, err := workflow.SignalExternal(ctx, workflow.GetInfo(ctx).RunID, w.Ping, "pong").Get(ctx); err != nil {
			return "", err
		}
		v, _ := workflow.GetSignalChannel(ctx, w.Ping).Receive(ctx)
		return run(ctx, in+"|"+v, w.A)
	})
	return w
}

// Definitions returns every workflow and activity of the workload.
func (w *Workload) Definitions() []chorus.Definition {
	defs := []chorus.Definition{w.A, w.B, w.C, w.Reserve, w.Charge, w.Release}
	for _, k := range Kinds {
		defs = append(defs, w.workflows[k])
	}
	return defs
}

// Workflow returns the workflow of kind k.
func (w *Workload) Workflow(k Kind) *workflow.Definition[string, string] { return w.workflows[k] }

// Start starts run id (whose ID says its kind) with its ID as input, or
// attaches to it if it exists.
func (w *Workload) Start(ctx context.Context, eng *chorus.Engine, id string) (*chorus.Run[string], error) {
	k, ok := KindOf(id)
	if !ok {
		return nil, fmt.Errorf("torture: %q is not a run ID of the workload", id)
	}
	return chorus.Start(ctx, eng, w.workflows[k], id, &chorus.StartOptions{ID: id, IfExists: chorus.AttachIfExists})
}

// Expectation is how a run of the workload must end.
type Expectation struct {
	Status history.RunStatus
	// Result is the decoded result of a completed run.
	Result string
	// FailureContains is part of a failed run's recorded message.
	FailureContains string
}

// Expect returns how run id must end. It handles child runs too: their
// ID is "<parent>/<step>" and their input "<parent>/child".
func Expect(id string) Expectation {
	k, ok := KindOf(id)
	if !ok {
		parent, _, _ := strings.Cut(id, "/")
		return Expectation{Status: history.StatusCompleted, Result: parent + "/child|" + ActA + "|" + ActB + "|" + ActC}
	}
	switch k {
	case KindActs:
		return Expectation{Status: history.StatusCompleted, Result: id + "|" + ActA + "|" + ActB + "|" + ActC}
	case KindTimer:
		return Expectation{Status: history.StatusCompleted, Result: id + "|" + ActA + "|slept|" + ActB}
	case KindSignal:
		return Expectation{Status: history.StatusCompleted, Result: id + "|sig=" + SignalValue(id) + "|" + ActA}
	case KindSaga:
		return Expectation{Status: history.StatusFailed, FailureContains: "card declined for " + id}
	case KindChild:
		return Expectation{Status: history.StatusCompleted, Result: id + "/child|" + ActA + "|" + ActB + "|" + ActC}
	case KindPing:
		return Expectation{Status: history.StatusCompleted, Result: id + "|pong|" + ActA}
	}
	return Expectation{}
}

// Describe renders a run's outcome from its index row, in one line.
func Describe(info history.RunInfo) string {
	switch {
	case info.Status == history.StatusCompleted:
		var s string
		if err := json.Unmarshal(info.Result, &s); err != nil {
			return fmt.Sprintf("completed %q (undecodable: %v)", info.Result, err)
		}
		return "completed " + s
	case info.Status.Ended() || info.Status == history.StatusBlocked:
		var f history.Failure
		if err := json.Unmarshal(info.Failure, &f); err != nil {
			return fmt.Sprintf("%v %q (undecodable: %v)", info.Status, info.Failure, err)
		}
		return fmt.Sprintf("%v %s", info.Status, f.Message)
	}
	return info.Status.String()
}

// CheckOutcome returns why a run's index row does not show the outcome
// Expect(info.ID) wants, or nil.
func CheckOutcome(info history.RunInfo) error {
	want := Expect(info.ID)
	if info.Status != want.Status {
		return fmt.Errorf("run %s: %s; want status %v", info.ID, Describe(info), want.Status)
	}
	switch want.Status {
	case history.StatusCompleted:
		var s string
		if err := json.Unmarshal(info.Result, &s); err != nil || s != want.Result {
			return fmt.Errorf("run %s: %s; want result %q", info.ID, Describe(info), want.Result)
		}
	case history.StatusFailed:
		var f history.Failure
		if err := json.Unmarshal(info.Failure, &f); err != nil || !strings.Contains(f.Message, want.FailureContains) {
			return fmt.Errorf("run %s: %s; want a failure saying %q", info.ID, Describe(info), want.FailureContains)
		}
	}
	return nil
}

// answers maps each input type that answers a step to the command type of
// that step.
var answers = map[history.EventType]history.EventType{
	history.EventActivityCompleted: history.EventActivityScheduled,
	history.EventActivityFailed:    history.EventActivityScheduled,
	history.EventTimerFired:        history.EventTimerScheduled,
	history.EventChildCompleted:    history.EventChildStarted,
	history.EventChildFailed:       history.EventChildStarted,
	history.EventSignalDelivered:   history.EventSignalSent,
}

// CheckJournal returns what is wrong with a run's journal at any moment of
// its life: Seqs that do not count 1, 2, 3...; a step answered twice, or
// answered by an input of the wrong kind, or before it was issued; a
// signal value received twice; more than one terminal event or events
// after one. (The workload never continues as new.)
func CheckJournal(id string, events []history.Event) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("run %s: ", id)+fmt.Sprintf(format, args...))
	}
	issued := map[int64]history.EventType{}
	answered := map[int64]int64{}
	signals := map[string]int64{}
	var terminal int64
	for i, ev := range events {
		if ev.Seq != int64(i+1) {
			bad("event %d has Seq %d", i+1, ev.Seq)
		}
		if terminal != 0 {
			bad("%v follows the terminal event #%d", ev, terminal)
		}
		switch {
		case ev.Type.IsCommand():
			issued[ev.Seq] = ev.Type
		case answers[ev.Type] != 0:
			if prev, ok := answered[ev.Ref]; ok {
				bad("step %d answered twice: #%d and %v", ev.Ref, prev, ev)
			}
			answered[ev.Ref] = ev.Seq
			if t, ok := issued[ev.Ref]; !ok || t != answers[ev.Type] {
				bad("%v answers step %d, which is %v", ev, ev.Ref, t)
			}
		case ev.Type == history.EventSignalReceived:
			k := ev.Name + "=" + string(ev.Payload)
			if prev, ok := signals[k]; ok {
				bad("signal %s received twice: #%d and #%d", k, prev, ev.Seq)
			}
			signals[k] = ev.Seq
		}
		if ev.Type.IsTerminal() {
			terminal = ev.Seq
		}
	}
	return problems
}

// CheckFinal returns what is wrong with the journal of a run that must
// have ended: CheckJournal's findings, an outcome other than the expected
// one, a step never answered, and for a saga the compensation markers.
func CheckFinal(info history.RunInfo, events []history.Event) []string {
	problems := CheckJournal(info.ID, events)
	if err := CheckOutcome(info); err != nil {
		problems = append(problems, err.Error())
	}
	answered := map[int64]bool{}
	for _, ev := range events {
		if answers[ev.Type] != 0 {
			answered[ev.Ref] = true
		}
	}
	var markers []string
	for _, ev := range events {
		switch {
		case ev.Type == history.EventMarker:
			var d saga.MarkerDetails
			_ = json.Unmarshal(ev.Payload, &d)
			markers = append(markers, fmt.Sprintf("%s %d", ev.Name, d.Index))
		case ev.Type.IsCommand() && !ev.Type.IsTerminal() && ev.Type != history.EventMarker && !answered[ev.Seq]:
			problems = append(problems, fmt.Sprintf("run %s: step %v never answered", info.ID, ev))
		}
	}
	if k, _ := KindOf(info.ID); k == KindSaga {
		want := []string{saga.MarkerStart + " 1", saga.MarkerDone + " 1", saga.MarkerStart + " 0", saga.MarkerDone + " 0"}
		if strings.Join(markers, ",") != strings.Join(want, ",") {
			problems = append(problems, fmt.Sprintf("run %s: saga markers %v; want %v", info.ID, markers, want))
		}
	}
	return problems
}
