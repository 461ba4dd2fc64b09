package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// propCtx is a caller's context with a tenant and a user.
func propCtx(t *testing.T) context.Context {
	ctx := chorus.WithStringValue(testContext(t), "tenant", "acme")
	return chorus.WithStringValue(ctx, "user", "ann")
}

func propOpts() *chorus.Options {
	return &chorus.Options{ContextPropagators: []chorus.ContextPropagator{chorus.NewStringPropagator("tenant", "user")}}
}

// whoAct reports the tenant and user its attempt's context carries.
var whoAct = activity.New("prop-who", func(ctx context.Context, _ string) (string, error) {
	return chorus.StringValue(ctx, "tenant") + "/" + chorus.StringValue(ctx, "user"), nil
})

// propChild reports what its workflow code and its activity see.
var propChild = workflow.New("prop-child", func(ctx workflow.Context, _ string) (string, error) {
	act, err := workflow.ExecuteActivity(ctx, whoAct, "").Get(ctx)
	return "wf=" + chorus.StringValue(ctx, "tenant") + "/" + chorus.StringValue(ctx, "user") + " act=" + act, err
})

// TestPropagationIntoWorkflowActivityAndChild: the values on Start's context
// reach the workflow code, its activity, and a child run's code and
// activity; the header is journaled once, right after RunStarted.
func TestPropagationIntoWorkflowActivityAndChild(t *testing.T) {
	t.Parallel()
	wf := workflow.New("prop-parent", func(ctx workflow.Context, _ string) ([]string, error) {
		act, err := workflow.ExecuteActivity(ctx, whoAct, "").Get(ctx)
		if err != nil {
			return nil, err
		}
		child, err := workflow.ExecuteChildWorkflow(ctx, propChild, "", &workflow.ChildOptions{ID: "prop-1-child"}).Get(ctx)
		return []string{chorus.StringValue(ctx, "tenant") + "/" + chorus.StringValue(ctx, "user"), act, child}, err
	})
	eng, _ := setup(t, propOpts(), wf, propChild, whoAct)
	ctx := propCtx(t)
	run, err := chorus.Start(ctx, eng, wf, "", &chorus.StartOptions{ID: "prop-1"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"acme/ann", "acme/ann", "wf=acme/ann act=acme/ann"}, got)

	for _, id := range []string{"prop-1", "prop-1-child"} {
		x, err := chorus.History(ctx, eng, id)
		require.NoError(t, err)
		require.Equal(t, history.EventMarker, x.Events[1].Type, "run %s: the header follows RunStarted", id)
		require.Equal(t, engine.HeaderMarker, x.Events[1].Name)
		require.JSONEq(t, `{"tenant":"YWNtZQ==","user":"YW5u"}`, string(x.Events[1].Payload))
	}
}

// TestPropagationWithoutValuesJournalsNothing: a caller whose context has
// none of the keys starts a run whose journal is as without propagators.
func TestPropagationWithoutValuesJournalsNothing(t *testing.T) {
	t.Parallel()
	wf := workflow.New("prop-none", func(ctx workflow.Context, _ string) (string, error) {
		return workflow.ExecuteActivity(ctx, whoAct, "").Get(ctx)
	})
	eng, _ := setup(t, propOpts(), wf, whoAct)
	ctx := testContext(t)
	run, err := chorus.Start(ctx, eng, wf, "", &chorus.StartOptions{ID: "prop-none"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "/", got)
	x, err := chorus.History(ctx, eng, "prop-none")
	require.NoError(t, err)
	require.Equal(t, history.EventActivityScheduled, x.Events[1].Type)
}

// propReopenOut is what the run of TestPropagationSurvivesReopen reports.
type propReopenOut struct {
	Before, After, Act, Child string
}

// TestPropagationSurvivesReopen closes the engine while a run waits on a
// timer and opens the database again: the code (rebuilt by replay), the
// activity that runs after the timer and a child started after the reopen
// all still see the values of the original Start.
func TestPropagationSurvivesReopen(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock()
	mock.Set(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := propOpts()
	opts.Clock = mock
	wf := workflow.New("prop-reopen", func(ctx workflow.Context, _ string) (propReopenOut, error) {
		var out propReopenOut
		out.Before = chorus.StringValue(ctx, "tenant")
		if err := workflow.Sleep(ctx, time.Hour); err != nil {
			return out, err
		}
		out.After = chorus.StringValue(ctx, "tenant")
		var err error
		if out.Act, err = workflow.ExecuteActivity(ctx, whoAct, "").Get(ctx); err != nil {
			return out, err
		}
		out.Child, err = workflow.ExecuteChildWorkflow(ctx, propChild, "", &workflow.ChildOptions{ID: "prop-reopen-child"}).Get(ctx)
		return out, err
	})
	path := filepath.Join(t.TempDir(), "chorus.db")
	ctx := propCtx(t)
	eng, err := chorus.Open(ctx, path, opts)
	require.NoError(t, err)
	require.NoError(t, eng.Register(wf, propChild, whoAct))
	_, err = chorus.Start(ctx, eng, wf, "", &chorus.StartOptions{ID: "prop-reopen"})
	require.NoError(t, err, "Start returns once the run sleeps, durably")
	closeEngine(t, eng)

	eng = openEngine(t, path, opts, wf, propChild, whoAct)
	mock.Add(2 * time.Hour)
	run, err := chorus.Lookup(context.Background(), eng, wf, "prop-reopen")
	require.NoError(t, err)
	got, err := run.Result(testContext(t)) // a context without values
	require.NoError(t, err)
	require.Equal(t, propReopenOut{Before: "acme", After: "acme", Act: "acme/ann", Child: "wf=acme/ann act=acme/ann"}, got)
}

// TestPropagationReplay: the history of a run whose code branches on a
// propagated value replays with the propagators it was recorded with, and
// diverges without them, so replay.Replayer must be given them.
func TestPropagationReplay(t *testing.T) {
	t.Parallel()
	other := activity.New("prop-other", func(context.Context, string) (string, error) { return "other", nil })
	wf := workflow.New("prop-branch", func(ctx workflow.Context, _ string) (string, error) {
		if chorus.StringValue(ctx, "tenant") == "acme" {
			return workflow.ExecuteActivity(ctx, whoAct, "").Get(ctx)
		}
		return workflow.ExecuteActivity(ctx, other, "").Get(ctx)
	})
	eng, path := setup(t, propOpts(), wf, whoAct, other)
	ctx := propCtx(t)
	run, err := chorus.Start(ctx, eng, wf, "", &chorus.StartOptions{ID: "prop-branch"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "acme/ann", got)

	x, err := chorus.History(ctx, eng, "prop-branch")
	require.NoError(t, err)
	require.NoError(t, replay.Replayer{ContextPropagators: propOpts().ContextPropagators}.Run(ctx, x, wf))
	var nde *chorus.NonDeterminismError
	require.ErrorAs(t, replay.Run(ctx, x, wf), &nde, "without the propagator the code takes the other branch")
	require.NoError(t, hook.Core(eng).ReplayRun(ctx, "prop-branch"))
	closeEngine(t, eng)
	eng = openEngine(t, path, propOpts(), wf, whoAct, other)
	require.NoError(t, hook.Core(eng).ReplayRun(ctx, "prop-branch"))
}

// failingInject fails to read the caller's context.
type failingInject struct{ *chorus.StringPropagator }

func (failingInject) Inject(context.Context, chorus.Header) error {
	return errors.New("no trace context")
}

// TestPropagationInjectFailureWritesNothing: a propagator whose Inject fails
// makes Start (and SignalWithStart) fail with a *PropagatorError naming
// it, and no run is written.
func TestPropagationInjectFailureWritesNothing(t *testing.T) {
	t.Parallel()
	wf := workflow.New("prop-inject-fails", func(ctx workflow.Context, _ string) (string, error) { return "ran", nil })
	opts := &chorus.Options{ContextPropagators: []chorus.ContextPropagator{chorus.NewStringPropagator("tenant"), failingInject{chorus.NewStringPropagator()}}}
	eng, _ := setup(t, opts, wf)
	ctx := propCtx(t)
	_, err := chorus.Start(ctx, eng, wf, "", &chorus.StartOptions{ID: "prop-fail"})
	var pe *chorus.PropagatorError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 1, pe.Index)
	require.Equal(t, "Inject", pe.Op)
	require.Equal(t, "chorus_test.failingInject", pe.Propagator)
	require.ErrorContains(t, err, "chorus: context propagator 1 (chorus_test.failingInject): Inject: no trace context")

	sig := workflow.NewSignal[string]("prop-sig")
	_, err = chorus.SignalWithStart(ctx, eng, wf, "", &chorus.StartOptions{ID: "prop-fail"}, sig, "x")
	require.ErrorAs(t, err, &pe)

	_, err = eng.Describe(ctx, "prop-fail")
	require.ErrorIs(t, err, chorus.ErrRunNotFound)
	runs, err := eng.List(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, runs)
}

// TestPropagationSignalWithStartAndContinueAsNew: a run started by
// SignalWithStart gets the caller's values, and keeps them when it
// continues as new.
func TestPropagationSignalWithStartAndContinueAsNew(t *testing.T) {
	t.Parallel()
	sig := workflow.NewSignal[string]("prop-go")
	wf := workflow.New("prop-sws", func(ctx workflow.Context, gen int) (string, error) {
		if gen == 0 {
			workflow.GetSignalChannel(ctx, sig).Receive(ctx)
			return "", workflow.ContinueAsNewWith(ctx, 1)
		}
		return workflow.ExecuteActivity(ctx, whoAct, "").Get(ctx)
	})
	eng, _ := setup(t, propOpts(), wf, whoAct)
	ctx := propCtx(t)
	run, err := chorus.SignalWithStart(ctx, eng, wf, 0, &chorus.StartOptions{ID: "prop-sws"}, sig, "go")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "acme/ann", got)
	x, err := chorus.History(ctx, eng, "prop-sws")
	require.NoError(t, err)
	require.Equal(t, history.EventSignalReceived, x.Events[1].Type, "the start's signal comes first")
	require.Equal(t, engine.HeaderMarker, x.Events[2].Name)
	first := int(x.Run.FirstSeq) - 1
	require.Equal(t, history.EventRunStarted, x.Events[first].Type)
	require.Equal(t, engine.HeaderMarker, x.Events[first+1].Name, "the new generation journals the header again")
}

// badExtract fails to read the header back.
type badExtract struct {
	*chorus.StringPropagator
	workflow bool
}

func (b badExtract) Extract(ctx context.Context, h chorus.Header) (context.Context, error) {
	if b.workflow {
		return ctx, nil
	}
	return nil, errors.New("bad baggage")
}

func (b badExtract) ExtractToWorkflow(ctx workflow.Context, h chorus.Header) (workflow.Context, error) {
	if b.workflow {
		return nil, errors.New("bad baggage")
	}
	return ctx, nil
}

// TestPropagationExtractFailures: a propagator that cannot extract fails
// the activity at once (type ContextPropagation, no retry), or blocks the
// run when it is the workflow's context it cannot build.
func TestPropagationExtractFailures(t *testing.T) {
	t.Parallel()
	ctx := propCtx(t)
	wf := workflow.New("prop-extract", func(ctx workflow.Context, _ string) (string, error) {
		return workflow.ExecuteActivity(ctx, whoAct, "").Get(ctx)
	})

	eng, _ := setup(t, &chorus.Options{ContextPropagators: []chorus.ContextPropagator{badExtract{StringPropagator: chorus.NewStringPropagator()}}}, wf, whoAct)
	run, err := chorus.Start(ctx, eng, wf, "", &chorus.StartOptions{ID: "prop-act"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, chorus.FailureTypeContextPropagation, ae.Type)
	require.Contains(t, err.Error(), "Extract: bad baggage")

	eng, _ = setup(t, &chorus.Options{ContextPropagators: []chorus.ContextPropagator{badExtract{StringPropagator: chorus.NewStringPropagator(), workflow: true}}}, wf, whoAct)
	_, err = chorus.Start(ctx, eng, wf, "", &chorus.StartOptions{ID: "prop-wf"})
	var pe *chorus.PropagatorError
	require.ErrorAs(t, err, &pe, "a run whose code cannot get its context does not start")
	require.Equal(t, "ExtractToWorkflow", pe.Op)
}

// TestPropagationReservedMarkerName: workflow code cannot record a marker
// under the name the header is journaled under.
func TestPropagationReservedMarkerName(t *testing.T) {
	t.Parallel()
	wf := workflow.New("prop-marker", func(ctx workflow.Context, _ string) (string, error) {
		workflow.RecordMarker(ctx, engine.HeaderMarker, "x")
		return "", nil
	})
	eng, _ := setup(t, nil, wf)
	_, err := chorus.Start(testContext(t), eng, wf, "", nil)
	require.ErrorContains(t, err, fmt.Sprintf("a marker named %q, a name reserved", engine.HeaderMarker))
}
