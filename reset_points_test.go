package chorus_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// failedFixtureRun runs the fixture's workflow to its failure at step 3.
func failedFixtureRun(t *testing.T, ctx context.Context, prefix, id string) (*resetFixture, *chorus.Engine, *chorus.Run[string]) {
	t.Helper()
	f := newResetFixture(t, prefix)
	eng, _ := setup(t, nil, f.defs...)
	run, err := chorus.Start(ctx, eng, f.wf, "x", &chorus.StartOptions{ID: id})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Error(t, err)
	f.eng = eng
	return f, eng, run
}

func TestResetToStepRunsThatStepAndTheRestAgain(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f, eng, run := failedFixtureRun(t, ctx, "rs-step", "rs-step")
	f.fixed.Store(true)
	x, err := chorus.History(ctx, eng, "rs-step")
	require.NoError(t, err)
	step2 := stepOf(t, x.Events, history.EventActivityScheduled, "rs-step-step2")

	res, err := eng.Reset(ctx, "rs-step", chorus.ResetOptions{ToStep: step2})
	require.NoError(t, err)
	require.Equal(t, step2, res.Step)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "x+step1+step2+step3", out)
	require.Equal(t, 1, f.count("step1"))
	require.Equal(t, 2, f.count("step2"))
	checkReplays(t, ctx, eng, "rs-step", f.defs...)

	// A completed run can be reset too; its generation is the reset one.
	x2, err := chorus.History(ctx, eng, "rs-step")
	require.NoError(t, err)
	step3 := stepOf(t, x2.Events[x2.Run.FirstSeq-1:], history.EventActivityScheduled, "rs-step-step3")
	res2, err := eng.Reset(ctx, "rs-step", chorus.ResetOptions{ToStep: step3})
	require.NoError(t, err)
	require.Equal(t, x2.Run.FirstSeq, res2.From)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, f.count("step1"))
	require.Equal(t, 2, f.count("step2"))
	require.Equal(t, 4, f.count("step3"))
	x3 := checkReplays(t, ctx, eng, "rs-step", f.defs...)
	starts := 0
	for _, ev := range x3.Events {
		if ev.Type == history.EventRunStarted {
			starts++
		}
	}
	require.Equal(t, 3, starts, "every generation stays in the journal")
}

func TestResetToLastGoodStepAndRetry(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"last-good", "retry"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			f, eng, run := failedFixtureRun(t, ctx, "rs-"+mode, "rs-"+mode)
			x, err := chorus.History(ctx, eng, "rs-"+mode)
			require.NoError(t, err)
			step3 := stepOf(t, x.Events, history.EventActivityScheduled, "rs-"+mode+"-step3")
			f.fixed.Store(true)
			var res chorus.ResetResult
			if mode == "retry" {
				res, err = eng.Retry(ctx, "rs-"+mode, &chorus.RetryOptions{Reason: "fixed"})
			} else {
				res, err = eng.Reset(ctx, "rs-"+mode, chorus.ResetOptions{ToLastGoodStep: true})
			}
			require.NoError(t, err)
			require.Equal(t, step3, res.Step)
			_, err = run.Result(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, f.count("step1"))
			require.Equal(t, 1, f.count("step2"))
			checkReplays(t, ctx, eng, "rs-"+mode, f.defs...)

			// Retry is for failed runs only.
			_, err = eng.Retry(ctx, "rs-"+mode, nil)
			var re *chorus.ResetError
			require.ErrorAs(t, err, &re)
			require.ErrorIs(t, err, chorus.ErrResetRefused)
			require.Contains(t, re.Reason, "completed")
		})
	}
}

func TestResetRefusesBadPoints(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f, eng, _ := failedFixtureRun(t, ctx, "rs-bad", "rs-bad")
	x, err := chorus.History(ctx, eng, "rs-bad")
	require.NoError(t, err)
	completed := stepOf(t, x.Events, history.EventActivityCompleted, "rs-bad-step1")
	for _, step := range []int64{1, completed, int64(len(x.Events)) + 5} {
		_, err := eng.Reset(ctx, "rs-bad", chorus.ResetOptions{ToStep: step})
		var re *chorus.ResetError
		require.ErrorAs(t, err, &re, "step %d", step)
		require.Equal(t, step, re.Step)
		require.False(t, re.Forceable)
		require.Contains(t, re.Reason, "not a step")
	}
	_, err = eng.Reset(ctx, "rs-bad", chorus.ResetOptions{})
	require.ErrorContains(t, err, "exactly one")
	_, err = eng.Reset(ctx, "rs-bad", chorus.ResetOptions{ToStep: 2, ToFirstFailure: true})
	require.ErrorContains(t, err, "exactly one")
	_, err = eng.Reset(ctx, "nope", chorus.ResetOptions{ToFirstFailure: true})
	require.ErrorIs(t, err, chorus.ErrRunNotFound)
	_, err = eng.Reset(chorus.WithIdentity(ctx, "bad\x01"), "rs-bad", chorus.ResetOptions{ToFirstFailure: true})
	require.ErrorIs(t, err, chorus.ErrInvalidIdentity)
	// Nothing changed.
	x2, err := chorus.History(ctx, eng, "rs-bad")
	require.NoError(t, err)
	require.Equal(t, x.Events, x2.Events)
	require.Equal(t, 1, f.count("step1"))
	// A dry run changes nothing either.
	plan, err := eng.PlanReset(ctx, "rs-bad", chorus.ResetOptions{ToFirstFailure: true})
	require.NoError(t, err)
	require.Zero(t, plan.FirstSeq)
	require.Equal(t, stepOf(t, x.Events, history.EventActivityScheduled, "rs-bad-step3"), plan.Step)
	x3, err := chorus.History(ctx, eng, "rs-bad")
	require.NoError(t, err)
	require.Equal(t, x.Events, x3.Events)
}

// signalFixture: step1, then step2 (which waits for gate), then the
// signals received so far are the result.
func TestResetSignalsAfterThePoint(t *testing.T) {
	t.Parallel()
	for _, drop := range []bool{false, true} {
		name := "reapply"
		if drop {
			name = "drop"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			prefix := "rs-sig-" + name
			gate := make(chan struct{})
			var step2 atomic.Int32
			started := make(chan struct{}, 4)
			act2 := activity.New(prefix+"-step2", func(ctx context.Context, in string) (string, error) {
				if step2.Add(1) == 1 {
					started <- struct{}{}
					select {
					case <-gate:
					case <-ctx.Done():
						return "", ctx.Err()
					}
				}
				return in + "+step2", nil
			})
			sig := workflow.NewSignal[string](prefix + "-sig")
			wf := workflow.New(prefix+"-wf", func(ctx workflow.Context, in string) (string, error) {
				out, err := workflow.ExecuteActivity(ctx, act2, in).Get(ctx)
				if err != nil {
					return "", err
				}
				ch := workflow.GetSignalChannel(ctx, sig)
				for {
					s, ok := ch.ReceiveAsync()
					if !ok {
						return out, nil
					}
					out += "+" + s
				}
			})
			eng, _ := setup(t, nil, wf, act2)
			run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: prefix})
			require.NoError(t, err)
			recv(t, started, "step2 to start")
			require.NoError(t, chorus.Signal(ctx, eng, prefix, sig, "hello"))
			close(gate)
			out, err := run.Result(ctx)
			require.NoError(t, err)
			require.Equal(t, "x+step2+hello", out)

			x, err := chorus.History(ctx, eng, prefix)
			require.NoError(t, err)
			step := stepOf(t, x.Events, history.EventActivityScheduled, prefix+"-step2")
			opts := chorus.ResetOptions{ToStep: step}
			if drop {
				opts.Signals = chorus.ResetDropSignals
			}
			res, err := eng.Reset(ctx, prefix, opts)
			require.NoError(t, err)
			out, err = run.Result(ctx)
			require.NoError(t, err)
			if drop {
				require.Equal(t, 1, res.Dropped)
				require.Equal(t, "x+step2", out)
			} else {
				require.Equal(t, 1, res.Reapplied)
				require.Equal(t, "x+step2+hello", out)
			}
			require.Equal(t, int32(2), step2.Load())
			checkReplays(t, ctx, eng, prefix, wf, act2)
		})
	}
}

// A running run with a child that completed and a timer still pending
// before the point: the reset terminates the old generation, keeps the
// child's outcome and sets the timer again.
func TestResetRunningRunWithChildAndTimer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var childRuns, step1Runs atomic.Int32
	gate := make(chan struct{})
	started := make(chan struct{}, 4)
	child := workflow.New("rs-run-child", func(ctx workflow.Context, in string) (string, error) {
		childRuns.Add(1) // counts executions of its code, replays included
		return in + "+child", nil
	})
	step1 := activity.New("rs-run-step1", func(ctx context.Context, in string) (string, error) {
		step1Runs.Add(1)
		return in + "+step1", nil
	})
	var step2Runs atomic.Int32
	step2 := activity.New("rs-run-step2", func(ctx context.Context, in string) (string, error) {
		if step2Runs.Add(1) == 1 {
			started <- struct{}{}
			select {
			case <-gate:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return in + "+step2", nil
	})
	wf := workflow.New("rs-run-wf", func(ctx workflow.Context, in string) (string, error) {
		c, err := workflow.ExecuteChildWorkflow(ctx, child, in, nil).Get(ctx)
		if err != nil {
			return "", err
		}
		timer := workflow.NewTimer(ctx, 50*time.Millisecond)
		a, err := workflow.ExecuteActivity(ctx, step1, c).Get(ctx)
		if err != nil {
			return "", err
		}
		b, err := workflow.ExecuteActivity(ctx, step2, a).Get(ctx)
		if err != nil {
			return "", err
		}
		if _, err := timer.Get(ctx); err != nil {
			return "", err
		}
		return b, nil
	})
	eng, _ := setup(t, nil, wf, child, step1, step2)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "rs-run"})
	require.NoError(t, err)
	recv(t, started, "step2 to start")
	x, err := chorus.History(ctx, eng, "rs-run")
	require.NoError(t, err)
	step := stepOf(t, x.Events, history.EventActivityScheduled, "rs-run-step2")
	require.Equal(t, chorus.StatusRunning, chorus.RunStatus(x.Run.Status))

	res, err := eng.Reset(chorus.WithIdentity(ctx, "ops"), "rs-run", chorus.ResetOptions{ToStep: step, Reason: "stuck"})
	require.NoError(t, err)
	require.True(t, res.Terminated)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "x+child+step1+step2", out)
	require.Equal(t, int32(1), step1Runs.Load())
	require.Equal(t, int32(2), step2Runs.Load())
	x = checkReplays(t, ctx, eng, "rs-run", wf, child, step1, step2)
	old := x.Events[:res.FirstSeq-1]
	require.Equal(t, history.EventRunTerminated, old[len(old)-1].Type)
	children, err := eng.List(ctx, &chorus.ListOptions{Workflow: "rs-run-child"})
	require.NoError(t, err)
	require.Len(t, children, 1, "the child kept its outcome and was not started again")
}

func TestResetRefusesChildWithoutOutcome(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wait := workflow.NewSignal[string]("rs-kid-go")
	child := workflow.New("rs-kid-child", func(ctx workflow.Context, in string) (string, error) {
		s, _ := workflow.GetSignalChannel(ctx, wait).Receive(ctx)
		return s, nil
	})
	step1 := activity.New("rs-kid-step1", func(ctx context.Context, in string) (string, error) { return in, nil })
	wf := workflow.New("rs-kid-wf", func(ctx workflow.Context, in string) (string, error) {
		f := workflow.ExecuteChildWorkflow(ctx, child, in, nil)
		if _, err := workflow.ExecuteActivity(ctx, step1, in).Get(ctx); err != nil {
			return "", err
		}
		return f.Get(ctx)
	})
	eng, _ := setup(t, nil, wf, child, step1)
	_, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "rs-kid"})
	require.NoError(t, err)
	var x *history.Export
	require.NoError(t, testutil.Await(ctx, eng, "step1 to complete", func() (bool, error) {
		var err error
		x, err = chorus.History(ctx, eng, "rs-kid")
		if err != nil {
			return false, err
		}
		for _, ev := range x.Events {
			if ev.Type == history.EventActivityCompleted {
				return true, nil
			}
		}
		return false, nil
	}))
	step := stepOf(t, x.Events, history.EventActivityScheduled, "rs-kid-step1")
	_, err = eng.Reset(ctx, "rs-kid", chorus.ResetOptions{ToStep: step, Force: true})
	var re *chorus.ResetError
	require.ErrorAs(t, err, &re)
	require.Contains(t, re.Reason, "child")
	require.False(t, re.Forceable)
	// The child's own step is a point the reset takes: the child belongs
	// to the old generation, which the reset terminates with its children.
	cstep := stepOf(t, x.Events, history.EventChildStarted, "rs-kid-child")
	res, err := eng.Reset(ctx, "rs-kid", chorus.ResetOptions{ToStep: cstep})
	require.NoError(t, err)
	require.True(t, res.Terminated)
	// The old child was terminated with the old generation; the reset
	// generation started one of its own (its default ID names its step).
	oldChild := "rs-kid/" + strconv.FormatInt(cstep, 10)
	newChild := "rs-kid/" + strconv.FormatInt(res.FirstSeq+cstep-res.From, 10)
	require.NoError(t, testutil.AwaitStatus(ctx, eng, oldChild, chorus.StatusTerminated))
	require.NoError(t, testutil.AwaitStatus(ctx, eng, newChild, chorus.StatusRunning))
	require.NoError(t, chorus.Signal(ctx, eng, newChild, wait, "done"))
	require.NoError(t, testutil.AwaitStatus(ctx, eng, "rs-kid", chorus.StatusCompleted))
	checkReplays(t, ctx, eng, "rs-kid", wf, child, step1)
}

func TestResetRefusesInsideCompensationAndBeforeUnrepeatable(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var undos, charges atomic.Int32
	book := activity.New("rs-saga-book", func(ctx context.Context, in string) (string, error) { return in, nil })
	undo := activity.New("rs-saga-undo", func(ctx context.Context, in string) (string, error) {
		undos.Add(1)
		return in, nil
	})
	charge := activity.New("rs-saga-charge", func(ctx context.Context, in string) (string, error) {
		charges.Add(1)
		return in, nil
	})
	fail := activity.New("rs-saga-fail", func(ctx context.Context, in string) (string, error) {
		return "", activity.NonRetryable(errors.New("no"))
	})
	wf := workflow.New("rs-saga-wf", func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)
		if _, err := workflow.ExecuteActivity(ctx, book, in).Get(ctx); err != nil {
			return "", err
		}
		if err := saga.Add(s, undo, in); err != nil {
			return "", err
		}
		if _, err := workflow.ExecuteActivity(ctx, charge, in).Get(ctx); err != nil {
			return "", err
		}
		workflow.MarkUnrepeatable(ctx, "the charge")
		_, err = workflow.ExecuteActivity(ctx, fail, in).Get(ctx)
		return "", err
	})
	eng, _ := setup(t, nil, wf, book, undo, charge, fail)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "rs-saga"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Error(t, err)
	require.Equal(t, int32(1), undos.Load())
	x, err := chorus.History(ctx, eng, "rs-saga")
	require.NoError(t, err)

	// Inside the compensation: between its start and done markers.
	inside := stepOf(t, x.Events, history.EventActivityScheduled, "rs-saga-undo")
	_, err = eng.Reset(ctx, "rs-saga", chorus.ResetOptions{ToStep: inside})
	var re *chorus.ResetError
	require.ErrorAs(t, err, &re)
	require.True(t, re.Forceable)
	require.Contains(t, re.Reason, "compensation")

	// Before the unrepeatable charge.
	chargeStep := stepOf(t, x.Events, history.EventActivityScheduled, "rs-saga-charge")
	_, err = eng.Reset(ctx, "rs-saga", chorus.ResetOptions{ToStep: chargeStep})
	require.ErrorAs(t, err, &re)
	require.True(t, re.Forceable)
	require.Contains(t, re.Reason, "the charge")
	require.Equal(t, int32(1), charges.Load())

	// After it, the failure is fine; and Force overrides the refusals.
	_, err = eng.Reset(ctx, "rs-saga", chorus.ResetOptions{ToFirstFailure: true})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Error(t, err)
	require.Equal(t, int32(1), charges.Load())
	require.Equal(t, int32(2), undos.Load())
	_, err = eng.Reset(ctx, "rs-saga", chorus.ResetOptions{ToLastGoodStep: true, Force: true})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Error(t, err)
	checkReplays(t, ctx, eng, "rs-saga", wf, book, undo, charge, fail)
}

// Parallel steps: resetting to the second of two activities started
// together keeps the first one's outcome, recorded after the point (with
// the note of its retries), and runs only the second again.
func TestResetKeepsOutcomesRecordedAfterThePoint(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var aRuns, bRuns atomic.Int32
	bStarted := make(chan struct{}, 4)
	releaseB := make(chan struct{})
	a := activity.New("rs-par-a", func(ctx context.Context, in string) (string, error) {
		if aRuns.Add(1) == 1 {
			return "", errors.New("first attempt fails")
		}
		return in + "+a", nil
	})
	b := activity.New("rs-par-b", func(ctx context.Context, in string) (string, error) {
		if bRuns.Add(1) == 1 {
			bStarted <- struct{}{}
			select {
			case <-releaseB:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return in + "+b", nil
	})
	wf := workflow.New("rs-par-wf", func(ctx workflow.Context, in string) (string, error) {
		ctx = workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: fastRetry(3)})
		fa := workflow.ExecuteActivity(ctx, a, in)
		fb := workflow.ExecuteActivity(ctx, b, in)
		ra, err := fa.Get(ctx)
		if err != nil {
			return "", err
		}
		rb, err := fb.Get(ctx)
		if err != nil {
			return "", err
		}
		return ra + rb, nil
	})
	eng, _ := setup(t, nil, wf, a, b)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "rs-par"})
	require.NoError(t, err)
	recv(t, bStarted, "b to start")
	require.NoError(t, testutil.Await(ctx, eng, "a to complete", func() (bool, error) {
		x, err := chorus.History(ctx, eng, "rs-par")
		if err != nil {
			return false, err
		}
		for _, ev := range x.Events {
			if ev.Type == history.EventActivityCompleted {
				return true, nil
			}
		}
		return false, nil
	}))
	close(releaseB)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "x+ax+b", out)
	x, err := chorus.History(ctx, eng, "rs-par")
	require.NoError(t, err)
	stepB := stepOf(t, x.Events, history.EventActivityScheduled, "rs-par-b")
	require.Less(t, stepB, stepOf(t, x.Events, history.EventActivityCompleted, "rs-par-a"), "a completed after b was scheduled")

	res, err := eng.Reset(ctx, "rs-par", chorus.ResetOptions{ToStep: stepB})
	require.NoError(t, err)
	out, err = run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "x+ax+b", out)
	require.Equal(t, int32(2), aRuns.Load(), "a is answered from the journal")
	require.Equal(t, int32(2), bRuns.Load())
	x = checkReplays(t, ctx, eng, "rs-par", wf, a, b)
	var retried bool
	for _, ev := range x.Events[res.FirstSeq-1:] {
		if ev.Type == history.EventActivityRetried {
			retried = true
		}
	}
	require.True(t, retried, "the note of a's retries came along with its outcome")
}

// An activity issued before the point and still running at the reset is
// started again in the reset generation (its old attempt is interrupted).
func TestResetRestartsPendingActivityBeforeThePoint(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var aRuns atomic.Int32
	aStarted := make(chan int32, 4)
	a := activity.New("rs-pend-a", func(ctx context.Context, in string) (string, error) {
		n := aRuns.Add(1)
		aStarted <- n
		if n == 1 {
			<-ctx.Done() // the reset interrupts it
			return "", ctx.Err()
		}
		return in + "+a", nil
	})
	b := activity.New("rs-pend-b", func(ctx context.Context, in string) (string, error) { return in + "+b", nil })
	wf := workflow.New("rs-pend-wf", func(ctx workflow.Context, in string) (string, error) {
		fa := workflow.ExecuteActivity(ctx, a, in)
		rb, err := workflow.ExecuteActivity(ctx, b, in).Get(ctx)
		if err != nil {
			return "", err
		}
		ra, err := fa.Get(ctx)
		if err != nil {
			return "", err
		}
		return ra + rb, nil
	})
	eng, _ := setup(t, nil, wf, a, b)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "rs-pend"})
	require.NoError(t, err)
	require.Equal(t, int32(1), recv(t, aStarted, "a to start"))
	var x *history.Export
	require.NoError(t, testutil.Await(ctx, eng, "b to complete", func() (bool, error) {
		x, err = chorus.History(ctx, eng, "rs-pend")
		if err != nil {
			return false, err
		}
		return x.Events[len(x.Events)-1].Type == history.EventActivityCompleted, nil
	}))
	// The last step: nothing was issued after b's outcome.
	_, err = eng.Reset(ctx, "rs-pend", chorus.ResetOptions{ToLastGoodStep: true})
	var re *chorus.ResetError
	require.ErrorAs(t, err, &re)
	stepB := stepOf(t, x.Events, history.EventActivityScheduled, "rs-pend-b")
	res, err := eng.Reset(ctx, "rs-pend", chorus.ResetOptions{ToStep: stepB})
	require.NoError(t, err)
	require.True(t, res.Terminated)
	require.Equal(t, int32(2), recv(t, aStarted, "a to start again"))
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "x+ax+b", out)
	checkReplays(t, ctx, eng, "rs-pend", wf, a, b)
}

// A terminated run goes on where it was stopped: its steps are kept and it
// waits again for what it waited for.
func TestResetTerminatedRunGoesOn(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var step1 atomic.Int32
	act := activity.New("rs-term-step1", func(ctx context.Context, in string) (string, error) {
		step1.Add(1)
		return in + "+step1", nil
	})
	sig := workflow.NewSignal[string]("rs-term-go")
	wf := workflow.New("rs-term-wf", func(ctx workflow.Context, in string) (string, error) {
		out, err := workflow.ExecuteActivity(ctx, act, in).Get(ctx)
		if err != nil {
			return "", err
		}
		s, _ := workflow.GetSignalChannel(ctx, sig).Receive(ctx)
		return out + "+" + s, nil
	})
	eng, _ := setup(t, nil, wf, act)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "rs-term"})
	require.NoError(t, err)
	require.NoError(t, testutil.Await(ctx, eng, "step1 to complete", func() (bool, error) {
		x, err := chorus.History(ctx, eng, "rs-term")
		return err == nil && len(x.Events) >= 3, err
	}))
	require.NoError(t, eng.Terminate(ctx, "rs-term", "by mistake"))
	_, err = run.Result(ctx)
	require.Error(t, err)

	res, err := eng.Reset(ctx, "rs-term", chorus.ResetOptions{ToLastGoodStep: true, Reason: "terminated by mistake"})
	require.NoError(t, err)
	require.False(t, res.Terminated)
	require.NoError(t, testutil.AwaitStatus(ctx, eng, "rs-term", chorus.StatusRunning))
	require.NoError(t, chorus.Signal(ctx, eng, "rs-term", sig, "go"))
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "x+step1+go", out)
	require.Equal(t, int32(1), step1.Load())
	checkReplays(t, ctx, eng, "rs-term", wf, act)
}
