package chorus_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// resetFixture is a three-step workflow whose third step has a bug until
// fixed is set, with every activity execution counted outside the journal.
type resetFixture struct {
	fixed      atomic.Bool
	mu         sync.Mutex
	counts     map[string]int
	wf         *workflow.Definition[string, string]
	defs       []chorus.Definition
	step1      *activity.Definition[string, string]
	step2      *activity.Definition[string, string]
	step3      *activity.Definition[string, string]
	eng        *chorus.Engine
	signalName *workflow.Signal[string]
}

func (f *resetFixture) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[name]
}

func newResetFixture(t *testing.T, prefix string) *resetFixture {
	f := &resetFixture{counts: map[string]int{}}
	act := func(name string, buggy bool) *activity.Definition[string, string] {
		return activity.New(prefix+"-"+name, func(ctx context.Context, in string) (string, error) {
			f.mu.Lock()
			f.counts[name]++
			f.mu.Unlock()
			if buggy && !f.fixed.Load() {
				return "", errors.New("bug in " + name)
			}
			return in + "+" + name, nil
		})
	}
	f.step1, f.step2, f.step3 = act("step1", false), act("step2", false), act("step3", true)
	f.signalName = workflow.NewSignal[string](prefix + "-note")
	f.wf = workflow.New(prefix+"-wf", func(ctx workflow.Context, in string) (string, error) {
		ctx = workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: fastRetry(2)})
		a, err := workflow.ExecuteActivity(ctx, f.step1, in).Get(ctx)
		if err != nil {
			return "", err
		}
		b, err := workflow.ExecuteActivity(ctx, f.step2, a).Get(ctx)
		if err != nil {
			return "", err
		}
		c, err := workflow.ExecuteActivity(ctx, f.step3, b).Get(ctx)
		if err != nil {
			return "", err
		}
		// Signals received so far are part of the result.
		for {
			s, ok := workflow.GetSignalChannel(ctx, f.signalName).ReceiveAsync()
			if !ok {
				break
			}
			c += "+" + s
		}
		return c, nil
	})
	f.defs = []chorus.Definition{f.wf, f.step1, f.step2, f.step3}
	return f
}

// stepOf returns the Seq of the first event of type typ named name.
func stepOf(t *testing.T, events []history.Event, typ history.EventType, name string) int64 {
	t.Helper()
	for _, ev := range events {
		if ev.Type == typ && ev.Name == name {
			return ev.Seq
		}
	}
	t.Fatalf("no %v %q in the journal", typ, name)
	return 0
}

func checkReplays(t *testing.T, ctx context.Context, eng *chorus.Engine, id string, defs ...chorus.Definition) *history.Export {
	t.Helper()
	x, err := chorus.History(ctx, eng, id)
	require.NoError(t, err)
	require.NoError(t, x.Validate())
	require.NoError(t, replay.Run(ctx, x, defs...))
	return x
}

func TestResetToFirstFailureRunsOnlyTheFailedStepAgain(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newResetFixture(t, "rs-first")
	eng, _ := setup(t, nil, f.defs...)
	run, err := chorus.Start(ctx, eng, f.wf, "x", &chorus.StartOptions{ID: "rs-first"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Error(t, err)
	require.Equal(t, 2, f.count("step3"))

	f.fixed.Store(true)
	res, err := eng.Reset(chorus.WithIdentity(ctx, "ops@example.com"), "rs-first", chorus.ResetOptions{ToFirstFailure: true, Reason: "fix deployed"})
	require.NoError(t, err)
	require.False(t, res.Terminated)
	require.Equal(t, int64(1), res.From)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "x+step1+step2+step3", out)
	require.Equal(t, 1, f.count("step1"))
	require.Equal(t, 1, f.count("step2"))
	require.Equal(t, 3, f.count("step3"))

	x := checkReplays(t, ctx, eng, "rs-first", f.defs...)
	require.Equal(t, res.FirstSeq, x.Run.FirstSeq)
	require.Equal(t, chorus.StatusCompleted, chorus.RunStatus(x.Run.Status))
	// The old generation is intact, before the new RunStarted.
	old := x.Events[:res.FirstSeq-1]
	require.Equal(t, history.EventRunFailed, old[len(old)-1].Type)
	require.Equal(t, res.Step, stepOf(t, old, history.EventActivityScheduled, "rs-first-step3"))
	// The reset note says who, why and where.
	var note *history.OperatorAction
	for _, ev := range x.Events[res.FirstSeq-1:] {
		if ev.Type == history.EventOperatorAction {
			a, err := history.DecodeOperatorAction(ev.Payload)
			require.NoError(t, err)
			note = &a
		}
	}
	require.NotNil(t, note)
	require.Equal(t, history.OperatorAction{Action: "reset", Identity: "ops@example.com", Reason: "fix deployed", Step: res.Step, From: 1}, *note)
}
