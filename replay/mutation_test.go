package replay_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// The workflow of the mutation table. Its original code records, for run
// "flow-1" with input 1:
//
//	#1  RunStarted "flow"
//	#2  ActivityScheduled "a"       #3  ActivityCompleted
//	#4  ActivityScheduled "b"       #5  ActivityCompleted
//	#6  TimerScheduled (1h)         #7  TimerFired
//	                                #8  SignalReceived "go"
//	#9  ChildStarted "child"        #10 ChildCompleted
//	#11 ActivityScheduled "c"       #12 ActivityCompleted
//	#13 RunCompleted

func addN(name string, k int) *activity.Definition[int, int] {
	return activity.New(name, func(ctx context.Context, n int) (int, error) { return n + k, nil })
}

var (
	flowA  = addN("a", 1)
	flowB  = addN("b", 10)
	flowC  = addN("c", 100)
	flowD  = addN("d", 1000)
	flowB2 = addN("b-v2", 10)
	// flowANew is "a" with another implementation, which returns something
	// else: replay hands the code the recorded result, whatever it is now.
	flowANew = addN("a", 2)

	sigGo   = workflow.NewSignal[int]("go")
	sigStop = workflow.NewSignal[int]("stop")

	flowChild   = workflow.New("child", func(ctx workflow.Context, n int) (int, error) { return n * 2, nil })
	flowChildV2 = workflow.New("child-v2", func(ctx workflow.Context, n int) (int, error) { return n * 2, nil })

	flowProgress = workflow.NewQuery[struct{}, string]("progress")
)

// flow returns the workflow "flow" as changed by mutation m ("" is the
// original code).
func flow(m string) *workflow.Definition[int, int] {
	name := "flow"
	if m == "rename the workflow" {
		name = "flow-v2"
	}
	return workflow.New(name, func(ctx workflow.Context, n int) (int, error) {
		exec := func(a *activity.Definition[int, int], in int) int {
			v, err := workflow.ExecuteActivity(ctx, a, in).Get(ctx)
			if err != nil {
				panic(err)
			}
			return v
		}
		var x, y int
		switch m {
		case "reorder two activities":
			y = exec(flowB, n)
			x = exec(flowA, y)
		case "rename an activity":
			x = exec(flowA, n)
			y = exec(flowB2, x)
		case "remove an activity":
			x = exec(flowA, n)
			y = x
		case "add an activity":
			x = exec(flowA, n)
			_ = exec(flowD, x)
			y = exec(flowB, x)
		case "add a timer":
			x = exec(flowA, n)
			if err := workflow.Sleep(ctx, time.Minute); err != nil {
				return 0, err
			}
			y = exec(flowB, x)
		case "add a side effect":
			x = exec(flowA, n)
			_ = workflow.SideEffect(ctx, func() int { return 7 })
			y = exec(flowB, x)
		case "change an activity's input value":
			x = exec(flowA, n+1000)
			y = exec(flowB, x)
		case "change an activity's implementation":
			x = exec(flowANew, n)
			y = exec(flowB, x)
		case "add code that issues no command":
			status := "starting"
			workflow.SetQueryHandler(ctx, flowProgress, func(struct{}) (string, error) { return status, nil })
			x = exec(flowA, n)
			status = fmt.Sprintf("a done at %s", workflow.Now(ctx).Format(time.RFC3339))
			workflow.Logger(ctx).Info("between a and b", "x", x)
			if !workflow.IsReplaying(ctx) {
				status += " (live)"
			}
			done := workflow.NewChannel[int](ctx)
			workflow.Go(ctx, func(ctx workflow.Context) { done.Send(ctx, x*2) })
			double, _ := done.Receive(ctx)
			_ = double
			y = exec(flowB, x)
		case "add an activity guarded by GetVersion":
			x = exec(flowA, n)
			if workflow.GetVersion(ctx, "add-d", workflow.DefaultVersion, 1) == 1 {
				_ = exec(flowD, x)
			}
			y = exec(flowB, x)
		default:
			x = exec(flowA, n)
			y = exec(flowB, x)
		}

		switch m {
		case "remove a timer":
		case "change a timer's duration":
			if err := workflow.Sleep(ctx, 2*time.Hour); err != nil {
				return 0, err
			}
		default:
			if err := workflow.Sleep(ctx, time.Hour); err != nil {
				return 0, err
			}
		}

		sig := sigGo
		if m == "wait for another signal" {
			sig = sigStop
		}
		s, _ := workflow.GetSignalChannel(ctx, sig).Receive(ctx)

		child, childIn := flowChild, y+s
		switch m {
		case "change a child workflow's type":
			child = flowChildV2
		case "change a child workflow's input":
			childIn = -1
		}
		z, err := workflow.ExecuteChildWorkflow(ctx, child, childIn, nil).Get(ctx)
		if err != nil {
			return 0, err
		}

		if m == "remove the last activity" {
			return z, nil
		}
		w := exec(flowC, z)
		if m == "add an activity at the end" {
			w = exec(flowD, w)
		}
		return w, nil
	})
}

func flowDefs(m string) []chorus.Definition {
	return []chorus.Definition{flow(m), flowA, flowB, flowC, flowD, flowB2, flowChild, flowChildV2}
}

// recordFlow runs the original code of "flow" to the end and returns its
// history.
func recordFlow(t testing.TB) *history.Export {
	t.Helper()
	_, h := recordFlowOn(t)
	return h
}

// recordFlowOn is recordFlow, which also returns the recorder, whose
// engine holds the run and its child.
func recordFlowOn(t testing.TB) (*recorder, *history.Export) {
	t.Helper()
	r := newRecorder(t, flowDefs("")...)
	run, err := chorus.Start(r.ctx, r.eng, flow(""), 1, &chorus.StartOptions{ID: "flow-1"})
	require.NoError(t, err)
	r.waitLast("flow-1", history.EventTimerScheduled)
	r.mock.Add(time.Hour)
	r.waitLast("flow-1", history.EventTimerFired)
	require.NoError(t, chorus.Signal(r.ctx, r.eng, "flow-1", sigGo, 5))
	out, err := run.Result(r.ctx)
	require.NoError(t, err)
	require.Equal(t, (1+1+10+5)*2+100, out)
	return r, r.export("flow-1")
}

// TestMutationTable replays the history the original code recorded against
// each changed version of the code.
func TestMutationTable(t *testing.T) {
	t.Parallel()
	h := recordFlow(t)
	var types []string
	for _, e := range h.Events {
		types = append(types, fmt.Sprintf("#%d %s %s", e.Seq, e.Type, e.Name))
	}
	require.Len(t, h.Events, 13, "the recorded history:\n%s", strings.Join(types, "\n"))

	const waits = "waits for something else without issuing it"
	cases := []struct {
		change   string
		step     int64  // 0: replays cleanly
		recorded string // NonDeterminismError.Recorded
		issued   string // NonDeterminismError.Issued
		other    error  // another error than a NonDeterminismError
	}{
		{change: "reorder two activities", step: 2, recorded: `ActivityScheduled "a"`, issued: `issues ActivityScheduled "b"`},
		{change: "rename an activity", step: 4, recorded: `ActivityScheduled "b"`, issued: `issues ActivityScheduled "b-v2"`},
		{change: "remove an activity", step: 4, recorded: `ActivityScheduled "b"`, issued: `issues TimerScheduled`},
		{change: "add an activity", step: 4, recorded: `ActivityScheduled "b"`, issued: `issues ActivityScheduled "d"`},
		{change: "add an activity at the end", step: 13, recorded: `RunCompleted`, issued: `issues ActivityScheduled "d"`},
		{change: "remove the last activity", step: 11, recorded: `ActivityScheduled "c"`, issued: `issues RunCompleted`},
		{change: "add a timer", step: 4, recorded: `ActivityScheduled "b"`, issued: `issues TimerScheduled`},
		{change: "remove a timer", step: 6, recorded: `TimerScheduled`, issued: waits},
		{change: "add a side effect", step: 4, recorded: `ActivityScheduled "b"`, issued: `issues SideEffect "side-effect"`},
		{change: "wait for another signal", step: 9, recorded: `ChildStarted "child"`, issued: waits},
		{change: "change a child workflow's type", step: 9, recorded: `ChildStarted "child"`, issued: `issues ChildStarted "child-v2"`},
		{change: "rename the workflow", other: &chorus.NotRegisteredError{Kind: "workflow", Name: "flow"}},
		{change: "change an activity's input value"},
		{change: "change an activity's implementation"},
		{change: "add code that issues no command"},
		{change: "add an activity guarded by GetVersion"},
		{change: "change a timer's duration"},
		{change: "change a child workflow's input"},
	}
	rows := make([]string, len(cases))
	var mu sync.Mutex
	t.Cleanup(func() {
		// After every subtest: the table, in Markdown, to quote.
		var b strings.Builder
		b.WriteString("\n| change to the code | replaying the old history | step | journal holds | code now |\n|---|---|---|---|---|\n")
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
		t.Log(b.String())
	})
	for i, c := range cases {
		t.Run(c.change, func(t *testing.T) {
			t.Parallel()
			err := replay.Run(testContext(t), h, flowDefs(c.change)...)
			row := fmt.Sprintf("| %s | %s | | | |", c.change, "replays: not flagged")
			var nde *chorus.NonDeterminismError
			var nr *chorus.NotRegisteredError
			switch {
			case errors.As(err, &nde):
				row = fmt.Sprintf("| %s | `*NonDeterminismError` | %d | %s | %s |", c.change, nde.Step, nde.Recorded, nde.Issued)
			case errors.As(err, &nr):
				row = fmt.Sprintf("| %s | `*NotRegisteredError`: %s %q | | | |", c.change, nr.Kind, nr.Name)
			case err != nil:
				row = fmt.Sprintf("| %s | `%T`: %v | | | |", c.change, err, err)
			}
			mu.Lock()
			rows[i] = row
			mu.Unlock()

			switch {
			case c.other != nil:
				require.Equal(t, c.other, err)
			case c.step == 0:
				require.NoError(t, err)
			default:
				require.ErrorAs(t, err, &nde)
				require.Same(t, nde, err, "Run returns the NonDeterminismError itself, unwrapped")
				require.Equal(t, "flow-1", nde.RunID)
				require.Equal(t, "flow", nde.Workflow)
				require.Equal(t, c.step, nde.Step, "%v", err)
				require.Equal(t, c.recorded, nde.Recorded, "%v", err)
				require.Equal(t, c.issued, nde.Issued, "%v", err)
			}
		})
	}
}

// TestMutationInFlight shows the limit of matching commands: a change is
// found only where the code issues (or stops issuing) a command the journal
// holds. A run still waiting for its signal replays cleanly against code
// that waits for another signal, because receiving a signal issues no
// command; the divergence shows once the journal holds the next command.
func TestMutationInFlight(t *testing.T) {
	t.Parallel()
	h := recordFlow(t)
	// The journal of the run while it waited for its signal, and right
	// after the signal came.
	waiting, signaled := *h, *h
	waiting.Events, waiting.Run.Status, waiting.Run.Result = h.Events[:7], history.StatusRunning, nil
	signaled.Events, signaled.Run.Status, signaled.Run.Result = h.Events[:8], history.StatusRunning, nil
	waiting.Run.LastSeq, signaled.Run.LastSeq = 0, 0
	ctx := testContext(t)
	require.NoError(t, replay.Run(ctx, &waiting, flowDefs("wait for another signal")...))
	require.NoError(t, replay.Run(ctx, &signaled, flowDefs("wait for another signal")...),
		"the received signal is queued, not matched: nothing tells it is not awaited")
	// A structural change before the end of the journal is found as usual.
	var nde *chorus.NonDeterminismError
	require.ErrorAs(t, replay.Run(ctx, &waiting, flowDefs("remove a timer")...), &nde)
	require.EqualValues(t, 6, nde.Step)
	// A command added after the end of an in-flight journal is not a
	// divergence: the run will issue it live.
	require.NoError(t, replay.Run(ctx, &waiting, flowDefs("add an activity at the end")...))
}
