package saga_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// tripDefs is a workflow that runs len(books) steps, registering undos[i]
// (called with the step's result) after step i succeeded, and then the step
// last, which is expected to fail.
type tripDefs struct {
	books []*activity.Definition[string, string]
	undos []*activity.Definition[string, struct{}]
	last  *activity.Definition[string, string]
}

func (d tripDefs) defs(wfs ...chorus.Definition) []chorus.Definition {
	out := append([]chorus.Definition(nil), wfs...)
	for _, b := range d.books {
		out = append(out, b)
	}
	for _, u := range d.undos {
		out = append(out, u)
	}
	return append(out, d.last)
}

// newTrip returns steps book-0..n-1 compensated by undo-0..n-1 and a last
// step that fails with type "unavailable"; hooks[i], if set, runs in undo-i.
func newTrip(rec *recorder, n int, hooks map[int]func(context.Context, int) error) tripDefs {
	var d tripDefs
	for i := range n {
		d.books = append(d.books, book(rec, fmt.Sprintf("book-%d", i)))
		d.undos = append(d.undos, undo(rec, fmt.Sprintf("undo-%d", i), hooks[i]))
	}
	d.last = fail(rec, "last", "unavailable")
	return d
}

// runSteps runs the trip's steps, adding each compensation to s, then the
// last step, and returns its error.
func (d tripDefs) runSteps(ctx workflow.Context, s *saga.Saga, in string) error {
	for i, b := range d.books {
		id, err := workflow.ExecuteActivity(ctx, b, in).Get(ctx)
		if err != nil {
			return err
		}
		if err := saga.Add(s, d.undos[i], id); err != nil {
			return err
		}
	}
	_, err := workflow.ExecuteActivity(ctx, d.last, in).Get(ctx)
	return err
}

// deferred is the trip as a workflow that compensates with a deferred
// CompensateOnError.
func (d tripDefs) deferred(name string, opts *saga.Options) *workflow.Definition[string, string] {
	return workflow.New(name, func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, opts)
		defer s.CompensateOnError(&err)
		return "", d.runSteps(ctx, s, in)
	})
}

// outcome is what an explicit Compensate returned, as the workflow saw it.
type outcome struct {
	Failed  []failedStep
	Skipped []saga.Step
	Message string
}

type failedStep struct {
	Index    int
	Name     string
	Activity string // from the *workflow.ActivityError
	Type     string // from the *activity.Error it unwraps to
}

// explicit is the trip as a workflow that calls Compensate itself and
// returns what it saw.
func (d tripDefs) explicit(name string, opts *saga.Options) *workflow.Definition[string, outcome] {
	return workflow.New(name, func(ctx workflow.Context, in string) (outcome, error) {
		s := saga.New(ctx, opts)
		if err := d.runSteps(ctx, s, in); err == nil {
			return outcome{}, errors.New("the last step should have failed")
		}
		return describe(s.Compensate(ctx))
	})
}

func describe(err error) (outcome, error) {
	if err == nil {
		return outcome{}, nil
	}
	var ce *saga.CompensationError
	if !errors.As(err, &ce) {
		return outcome{}, fmt.Errorf("Compensate returned %T, want *saga.CompensationError: %w", err, err)
	}
	o := outcome{Skipped: ce.Skipped, Message: ce.Error()}
	for _, f := range ce.Failed {
		fs := failedStep{Index: f.Index, Name: f.Name}
		var ae *workflow.ActivityError
		if errors.As(f.Err, &ae) {
			fs.Activity = ae.Activity
		}
		var e *activity.Error
		if errors.As(f.Err, &e) {
			fs.Type = e.Type
		}
		o.Failed = append(o.Failed, fs)
	}
	return o, nil
}

func TestCompensatesInReverseOrder(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 3, nil)
	wf := d.deferred("trip", nil)
	eng, _ := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Equal(t, []string{"book-0", "book-1", "book-2", "last", "undo-2", "undo-1", "undo-0"}, rec.list())

	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.False(t, we.Canceled)
	require.Equal(t, "unavailable", we.Type, "the recorded type is the failed step's")
	require.Contains(t, we.Message, "last is not possible for t1")
	require.Contains(t, we.Message, "saga compensated 3 step(s)")
}

func TestParallelCompensationsOverlap(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	// Every compensation waits until all three are running: run one after
	// the other, they would fail.
	var arrived atomic.Int32
	all := make(chan struct{})
	barrier := func(ctx context.Context, _ int) error {
		if arrived.Add(1) == 3 {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(testTimeout / 2):
			return activity.NonRetryable(errors.New("the other compensations did not run at the same time"))
		}
	}
	d := newTrip(&rec, 3, map[int]func(context.Context, int) error{0: barrier, 1: barrier, 2: barrier})
	wf := d.explicit("trip", &saga.Options{Parallel: true})
	eng, db := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, outcome{}, out, "every compensation completed")
	require.ElementsMatch(t, []string{"undo-0", "undo-1", "undo-2"}, rec.list()[4:])

	// Every compensation was started before any finished, highest index
	// first.
	ms := markerStrings(markers(t, journal(t, eng, db, "t1")))
	require.Equal(t, []string{"start 2 undo-2", "start 1 undo-1", "start 0 undo-0"}, ms[:3])
	require.ElementsMatch(t, []string{"done 2 undo-2", "done 1 undo-1", "done 0 undo-0"}, ms[3:])
}

func TestMaxParallelCapsConcurrency(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	var mu sync.Mutex
	running, peak := 0, 0
	both := make(chan struct{})
	var arrived atomic.Int32
	track := func(wait bool) func(context.Context, int) error {
		return func(ctx context.Context, _ int) error {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			defer func() { mu.Lock(); running--; mu.Unlock() }()
			if !wait {
				return nil
			}
			// The first two (undo-3, undo-2) wait for each other: the cap
			// lets two run together.
			if arrived.Add(1) == 2 {
				close(both)
			}
			select {
			case <-both:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	d := newTrip(&rec, 4, map[int]func(context.Context, int) error{3: track(true), 2: track(true), 1: track(false), 0: track(false)})
	wf := d.explicit("trip", &saga.Options{Parallel: true, MaxParallel: 2})
	eng, db := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, outcome{}, out)
	require.ElementsMatch(t, []string{"undo-0", "undo-1", "undo-2", "undo-3"}, rec.list()[5:])
	mu.Lock()
	require.Equal(t, 2, peak, "two compensations ran at once, never more")
	mu.Unlock()

	// In the journal too: never more than two started and not finished.
	ms := markers(t, journal(t, eng, db, "t1"))
	open, most := 0, 0
	for _, m := range ms {
		if m.Name == saga.MarkerStart {
			open++
		} else {
			open--
		}
		most = max(most, open)
	}
	require.Equal(t, 2, most, "markers: %v", markerStrings(ms))
	require.Len(t, ms, 8)
}

func TestContinueOnErrorCollectsEveryFailure(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 3, map[int]func(context.Context, int) error{2: failHook, 0: failHook})
	wf := d.explicit("trip", &saga.Options{ContinueOnError: true})
	eng, _ := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", nil)
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"undo-2", "undo-1", "undo-0"}, rec.list()[4:], "every compensation ran, in reverse order")
	require.Equal(t, []failedStep{
		{Index: 2, Name: "undo-2", Activity: "undo-2", Type: "undo-refused"},
		{Index: 0, Name: "undo-0", Activity: "undo-0", Type: "undo-refused"},
	}, out.Failed)
	require.Empty(t, out.Skipped)
	require.Contains(t, out.Message, `saga: 2 of 3 compensation(s) failed: #2 "undo-2": activity "undo-2"`)
	require.Contains(t, out.Message, `; #0 "undo-0": activity "undo-0"`)
	require.Contains(t, out.Message, "undo-refused: the remote system refused")
}

func TestContinueOnErrorInParallel(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 3, map[int]func(context.Context, int) error{2: failHook, 0: failHook})
	wf := d.explicit("trip", &saga.Options{Parallel: true, ContinueOnError: true})
	eng, _ := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", nil)
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"undo-2", "undo-1", "undo-0"}, rec.list()[4:])
	require.Equal(t, []failedStep{
		{Index: 2, Name: "undo-2", Activity: "undo-2", Type: "undo-refused"},
		{Index: 0, Name: "undo-0", Activity: "undo-0", Type: "undo-refused"},
	}, out.Failed, "failures are listed in the order the compensations started")
}

func TestParallelStartsNoMoreAfterAFailure(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 4, map[int]func(context.Context, int) error{3: failHook})
	wf := d.explicit("trip", &saga.Options{Parallel: true, MaxParallel: 1})
	eng, db := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"undo-3"}, rec.list()[5:], "the compensations waiting for a slot were not started")
	require.Equal(t, []failedStep{{Index: 3, Name: "undo-3", Activity: "undo-3", Type: "undo-refused"}}, out.Failed)
	require.Equal(t, []saga.Step{{Index: 2, Name: "undo-2"}, {Index: 1, Name: "undo-1"}, {Index: 0, Name: "undo-0"}}, out.Skipped)
	require.Equal(t, []string{"start 3 undo-3", "failed 3 undo-3", "skipped 2 undo-2", "skipped 1 undo-1", "skipped 0 undo-0"},
		markerStrings(markers(t, journal(t, eng, db, "t1"))))
}

func TestStopsAtFirstFailedCompensation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 3, map[int]func(context.Context, int) error{2: failHook})
	wf := d.explicit("trip", nil)
	eng, db := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"book-0", "book-1", "book-2", "last", "undo-2"}, rec.list(), "nothing ran after the failed compensation")
	require.Equal(t, []failedStep{{Index: 2, Name: "undo-2", Activity: "undo-2", Type: "undo-refused"}}, out.Failed)
	require.Equal(t, []saga.Step{{Index: 1, Name: "undo-1"}, {Index: 0, Name: "undo-0"}}, out.Skipped)
	require.Contains(t, out.Message, `saga: 1 of 3 compensation(s) failed: #2 "undo-2"`)
	require.Contains(t, out.Message, `; not run: #1 "undo-1", #0 "undo-0"`)

	require.Equal(t, []string{"start 2 undo-2", "failed 2 undo-2", "skipped 1 undo-1", "skipped 0 undo-0"},
		markerStrings(markers(t, journal(t, eng, db, "t1"))))
}

func TestCompensationRetriedOnTransientErrors(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	flaky := func(_ context.Context, attempt int) error {
		if attempt < 3 {
			return fmt.Errorf("hotel API unavailable (attempt %d)", attempt)
		}
		return nil
	}
	d := newTrip(&rec, 2, map[int]func(context.Context, int) error{1: flaky})
	d.undos[1] = d.undos[1].WithOptions(activity.Options{RetryPolicy: fastRetry(5)})
	wf := d.deferred("trip", nil)
	eng, _ := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", nil)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.Contains(t, we.Message, "saga compensated 2 step(s)")
	require.NotContains(t, we.Message, "compensation(s) failed")
	require.Equal(t, 3, rec.count("undo-1"), "failed twice, succeeded the third time")
	require.Equal(t, 1, rec.count("undo-0"))
	require.Equal(t, []string{"undo-1", "undo-1", "undo-1", "undo-0"}, rec.list()[3:])
}

func TestCancelRunsCompensationsAndEndsCanceled(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 2, nil)
	started := make(chan struct{}, 1)
	d.last = activity.New("last", func(ctx context.Context, in string) (string, error) {
		rec.add("last")
		started <- struct{}{}
		<-ctx.Done() // a long call, interrupted by the cancellation
		return "", ctx.Err()
	})
	wf := d.deferred("trip", nil)
	eng, _ := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	recv(t, started, "the last step to start")
	require.NoError(t, eng.Cancel(ctx, "t1"))
	_, err = run.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrCanceled)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Canceled)
	require.Contains(t, we.Message, "saga compensated 2 step(s)", "the compensation outcome is in the recorded error")
	require.Equal(t, []string{"undo-1", "undo-0"}, rec.list()[3:], "the canceled run compensated")

	info, err := eng.Describe(ctx, "t1")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCanceled, info.Status)
}

func TestCancelWhileCompensatingFailsReportsBoth(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 2, map[int]func(context.Context, int) error{1: failHook})
	started := make(chan struct{}, 1)
	d.last = activity.New("last", func(ctx context.Context, in string) (string, error) {
		started <- struct{}{}
		<-ctx.Done()
		return "", ctx.Err()
	})
	wf := d.deferred("trip", nil)
	eng, _ := setup(t, nil, d.defs(wf)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", nil)
	require.NoError(t, err)
	recv(t, started, "the last step to start")
	require.NoError(t, run.Cancel(ctx))
	_, err = run.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrCanceled, "the run still ends as canceled")
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Canceled)
	require.Contains(t, we.Message, `saga: 1 of 2 compensation(s) failed: #1 "undo-1"`)
	require.Contains(t, we.Message, `not run: #0 "undo-0"`)
}

func TestNothingToCompensateIsANoOp(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	step := book(&rec, "step")
	plain := workflow.New("plain", func(ctx workflow.Context, in string) (string, error) {
		if _, err := workflow.ExecuteActivity(ctx, step, in).Get(ctx); err != nil {
			return "", err
		}
		return "", errors.New("gave up")
	})
	withSaga := workflow.New("with-saga", func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)
		if _, err := workflow.ExecuteActivity(ctx, step, in).Get(ctx); err != nil {
			return "", err
		}
		return "", errors.New("gave up")
	})
	explicit := workflow.New("explicit", func(ctx workflow.Context, in string) (string, error) {
		s := saga.New(ctx, &saga.Options{Parallel: true})
		if _, err := workflow.ExecuteActivity(ctx, step, in).Get(ctx); err != nil {
			return "", err
		}
		if err := s.Compensate(ctx); err != nil {
			return "", err
		}
		return "", errors.New("gave up")
	})
	eng, _ := setup(t, nil, plain, withSaga, explicit, step)

	var events []int64
	for _, wf := range []*workflow.Definition[string, string]{plain, withSaga, explicit} {
		run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: wf.Name()})
		require.NoError(t, err)
		_, err = run.Result(ctx)
		var we *chorus.WorkflowError
		require.ErrorAs(t, err, &we)
		require.Equal(t, "gave up", we.Message, "%s: the error is left alone", wf.Name())
		info, err := eng.Describe(ctx, wf.Name())
		require.NoError(t, err)
		events = append(events, info.Events)
	}
	// RunStarted, ActivityScheduled, ActivityCompleted, RunFailed: no marker.
	require.Equal(t, []int64{4, 4, 4}, events)
}

func TestCompensateOnErrorWithoutErrorDoesNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 1, nil)
	wf := workflow.New("ok", func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)
		defer s.CompensateOnError(nil)
		id, err := workflow.ExecuteActivity(ctx, d.books[0], in).Get(ctx)
		if err != nil {
			return "", err
		}
		if err := saga.Add(s, d.undos[0], id); err != nil {
			return "", err
		}
		return id, nil
	})
	eng, _ := setup(t, nil, d.defs(wf)...)
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "ok"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "book-0/x", got)
	require.Equal(t, []string{"book-0"}, rec.list())
	info, err := eng.Describe(ctx, "ok")
	require.NoError(t, err)
	require.EqualValues(t, 4, info.Events, "no marker")
}

func TestAddAfterCompensationStarted(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 1, nil)
	type misuse struct{ AddDuring, AddAfter, AddChildAfter, AddFuncAfter, CompensateAgain string }
	child := workflow.New("child", func(ctx workflow.Context, in string) (string, error) { return in, nil })
	wf := workflow.New("misuse", func(ctx workflow.Context, in string) (misuse, error) {
		var m misuse
		s := saga.New(ctx, nil)
		if err := saga.Add(s, d.undos[0], in); err != nil {
			return m, err
		}
		// A compensation that tries to add another one while the saga
		// compensates.
		if err := saga.AddFunc(s, "add-during", func(ctx workflow.Context) error {
			m.AddDuring = fmt.Sprint(saga.Add(s, d.undos[0], "again"))
			return nil
		}); err != nil {
			return m, err
		}
		if err := s.Compensate(ctx); err != nil {
			return m, err
		}
		m.AddAfter = fmt.Sprint(saga.Add(s, d.undos[0], "late"))
		m.AddChildAfter = fmt.Sprint(saga.AddChild(s, child, "late", nil))
		m.AddFuncAfter = fmt.Sprint(saga.AddFunc(s, "late", func(workflow.Context) error { return nil }))
		err := s.Compensate(ctx)
		m.CompensateAgain = fmt.Sprint(err)
		if !errors.Is(err, saga.ErrCompensationStarted) {
			return m, fmt.Errorf("second Compensate: %v", err)
		}
		if !errors.Is(saga.Add(s, d.undos[0], "late"), saga.ErrCompensationStarted) {
			return m, errors.New("Add after Compensate is not ErrCompensationStarted")
		}
		return m, nil
	})
	eng, _ := setup(t, nil, d.defs(wf, child)...)
	run, err := chorus.Start(ctx, eng, wf, "x", nil)
	require.NoError(t, err)
	m, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, misuse{
		AddDuring:       `saga: compensation already started: cannot add compensation "undo-0"`,
		AddAfter:        `saga: compensation already started: cannot add compensation "undo-0"`,
		AddChildAfter:   `saga: compensation already started: cannot add compensation "child"`,
		AddFuncAfter:    `saga: compensation already started: cannot add compensation "late"`,
		CompensateAgain: `saga: compensation already started: Compensate was called before`,
	}, m)
	require.Equal(t, 1, rec.count("undo-0"), "the compensation added in time ran once; the late ones never")
}

func TestChildWorkflowCompensation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 2, nil)
	notify := undo(&rec, "notify-customer", nil)
	refund := workflow.New("refund", func(ctx workflow.Context, in string) (string, error) {
		// The compensation is itself a process of two steps.
		if _, err := workflow.ExecuteActivity(ctx, d.undos[0], in).Get(ctx); err != nil {
			return "", err
		}
		_, err := workflow.ExecuteActivity(ctx, notify, in).Get(ctx)
		return "refunded " + in, err
	})
	wf := workflow.New("trip", func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)
		id, err := workflow.ExecuteActivity(ctx, d.books[0], in).Get(ctx)
		if err != nil {
			return "", err
		}
		if err := saga.AddChild(s, refund, id, &workflow.ChildOptions{ID: "refund-" + in}); err != nil {
			return "", err
		}
		id, err = workflow.ExecuteActivity(ctx, d.books[1], in).Get(ctx)
		if err != nil {
			return "", err
		}
		if err := saga.Add(s, d.undos[1], id); err != nil {
			return "", err
		}
		_, err = workflow.ExecuteActivity(ctx, d.last, in).Get(ctx)
		return "", err
	})
	eng, db := setup(t, nil, d.defs(wf, refund, notify)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.ErrorContains(t, err, "saga compensated 2 step(s)")
	require.Equal(t, []string{"undo-1", "undo-0", "notify-customer"}, rec.list()[3:])

	info, err := eng.Describe(ctx, "refund-t1")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCompleted, info.Status, "the compensation ran as a child run")

	evs := journal(t, eng, db, "t1")
	ms := markers(t, evs)
	require.Equal(t, []string{"start 1 undo-1", "done 1 undo-1", "start 0 refund", "done 0 refund"}, markerStrings(ms))
	require.Equal(t, saga.KindChildWorkflow, ms[2].Kind)
	next := evs[ms[2].Seq] // the event after the start marker (Seq is 1-based)
	require.Equal(t, history.EventChildStarted, next.Type)
	require.Equal(t, "refund", next.Name)
}

func TestNestedSagaCompensatesInsideChild(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 2, nil)
	// The child books hotel (book-1), registers its own compensation, then
	// its last step fails: it compensates before it fails.
	sub := workflow.New("sub", func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, &saga.Options{Name: "sub"})
		defer s.CompensateOnError(&err)
		id, err := workflow.ExecuteActivity(ctx, d.books[1], in).Get(ctx)
		if err != nil {
			return "", err
		}
		if err := saga.Add(s, d.undos[1], id); err != nil {
			return "", err
		}
		_, err = workflow.ExecuteActivity(ctx, d.last, in).Get(ctx)
		return "", err
	})
	parent := workflow.New("parent", func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, &saga.Options{Name: "parent"})
		defer s.CompensateOnError(&err)
		id, err := workflow.ExecuteActivity(ctx, d.books[0], in).Get(ctx)
		if err != nil {
			return "", err
		}
		if err := saga.Add(s, d.undos[0], id); err != nil {
			return "", err
		}
		_, err = workflow.ExecuteChildWorkflow(ctx, sub, in, &workflow.ChildOptions{ID: "sub-" + in}).Get(ctx)
		var cwe *workflow.ChildWorkflowError
		if err != nil && !errors.As(err, &cwe) {
			return "", fmt.Errorf("want a *workflow.ChildWorkflowError, got %T: %w", err, err)
		}
		return "", err
	})
	eng, db := setup(t, nil, d.defs(parent, sub)...)

	run, err := chorus.Start(ctx, eng, parent, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Equal(t, []string{"book-0", "book-1", "last", "undo-1", "undo-0"}, rec.list(),
		"the child compensated its step before the parent compensated its own")
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.Contains(t, we.Message, `child workflow "sub"`)
	require.Contains(t, we.Message, "saga compensated 1 step(s); saga compensated 1 step(s)",
		"the child's outcome, then the parent's")

	child, err := eng.Describe(ctx, "sub-t1")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusFailed, child.Status)

	closeEngine(t, eng)
	p := copyDB(t, db)
	childMs, parentMs := markers(t, readEvents(t, p, "sub-t1")), markers(t, readEvents(t, p, "t1"))
	require.Equal(t, []string{"start 0 undo-1", "done 0 undo-1"}, markerStrings(childMs), "the child's journal holds its own saga")
	require.Equal(t, []string{"start 0 undo-0", "done 0 undo-0"}, markerStrings(parentMs))
	for _, m := range childMs {
		require.Equal(t, "sub", m.Saga)
	}
	for _, m := range parentMs {
		require.Equal(t, "parent", m.Saga)
	}
}

var progress = workflow.NewQuery[struct{}, string]("progress")

func TestMarkersInJournal(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 4, map[int]func(context.Context, int) error{3: failHook})
	refund := workflow.New("refund", func(ctx workflow.Context, in string) (string, error) {
		_, err := workflow.ExecuteActivity(ctx, d.undos[2], in).Get(ctx)
		return "", err
	})
	wf := workflow.New("trip", func(ctx workflow.Context, in string) (_ string, err error) {
		status := "booking"
		workflow.SetQueryHandler(ctx, progress, func(struct{}) (string, error) { return status, nil })
		s := saga.New(ctx, &saga.Options{Name: "trip", ContinueOnError: true})
		defer s.CompensateOnError(&err)
		ids := make([]string, 4)
		for i := range 4 {
			if ids[i], err = workflow.ExecuteActivity(ctx, d.books[i], in).Get(ctx); err != nil {
				return "", err
			}
			switch i {
			case 0:
				err = saga.Add(s, d.undos[0], ids[0])
			case 1:
				// Workflow code as a compensation: two activities.
				err = saga.AddFunc(s, "release-seats", func(ctx workflow.Context) error {
					for _, seat := range []string{"1A", "1B"} {
						if _, err := workflow.ExecuteActivity(ctx, d.undos[1], seat).Get(ctx); err != nil {
							return err
						}
					}
					return nil
				})
			case 2:
				err = saga.AddChild(s, refund, ids[2], nil)
			case 3:
				err = saga.Add(s, d.undos[3], ids[3])
			}
			if err != nil {
				return "", err
			}
		}
		status = "compensating"
		_, err = workflow.ExecuteActivity(ctx, d.last, in).Get(ctx)
		return "", err
	})
	eng, db := setup(t, nil, d.defs(wf, refund)...)

	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.ErrorContains(t, err, `saga: 1 of 4 compensation(s) failed: #3 "undo-3": activity "undo-3"`)
	require.Equal(t, []string{"undo-3", "undo-2", "undo-1", "undo-1", "undo-0"}, rec.list()[5:])

	// A query on the ended run replays all of it, compensation included.
	got, err := chorus.Query(ctx, eng, "t1", progress, struct{}{})
	require.NoError(t, err, "the saga replays deterministically")
	require.Equal(t, "compensating", got)
	info, err := eng.Describe(ctx, "t1")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusFailed, info.Status)

	evs := journal(t, eng, db, "t1")
	ms := markers(t, evs)
	require.Equal(t, []string{
		"start 3 undo-3", "failed 3 undo-3",
		"start 2 refund", "done 2 refund",
		"start 1 release-seats", "done 1 release-seats",
		"start 0 undo-0", "done 0 undo-0",
	}, markerStrings(ms))
	kinds := map[int]string{3: saga.KindActivity, 2: saga.KindChildWorkflow, 1: saga.KindFunc, 0: saga.KindActivity}
	next := map[int]history.EventType{3: history.EventActivityScheduled, 2: history.EventChildStarted, 1: history.EventActivityScheduled, 0: history.EventActivityScheduled}
	for _, m := range ms {
		require.Equal(t, "trip", m.Saga)
		require.Equal(t, kinds[m.Index], m.Kind, "%v", m)
		if m.Name == saga.MarkerFailed {
			require.Contains(t, m.Error, `activity "undo-3"`)
			require.Contains(t, m.Error, "undo-refused: the remote system refused")
		} else {
			require.Empty(t, m.Error, "%v", m)
		}
		if m.Name == saga.MarkerStart {
			ev := evs[m.Seq] // the event right after the marker; Seq counts from 1
			require.Equal(t, next[m.Index], ev.Type, "after %v", m)
		}
	}
	// The exact stored form, which tools read.
	for _, ev := range evs {
		if ev.Type == history.EventMarker && ev.Name == saga.MarkerDone {
			require.JSONEq(t, `{"saga":"trip","index":2,"step":"refund","kind":"child-workflow"}`, string(ev.Payload))
			break
		}
	}
}

// fallbackTrip books a flight, registers its cancellation, then tries a
// hotel that fails and falls back to one that blocks until canceled: while
// it waits, the workflow's named error is not nil.
func fallbackTrip(rec *recorder, started chan<- struct{}, afterFailure func()) ([]chorus.Definition, *workflow.Definition[string, string]) {
	d := newTrip(rec, 1, nil)
	blocked := activity.New("blocked", func(ctx context.Context, in string) (string, error) {
		started <- struct{}{}
		<-ctx.Done()
		return "", ctx.Err()
	})
	wf := workflow.New("fallback", func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)
		id, err := workflow.ExecuteActivity(ctx, d.books[0], in).Get(ctx)
		if err != nil {
			return "", err
		}
		if err := saga.Add(s, d.undos[0], id); err != nil {
			return "", err
		}
		if _, err = workflow.ExecuteActivity(ctx, d.last, in).Get(ctx); err != nil {
			if afterFailure != nil {
				afterFailure()
			}
			_, err = workflow.ExecuteActivity(ctx, blocked, in).Get(ctx)
		}
		return "", err
	})
	return d.defs(wf, blocked), wf
}

func TestTerminateDoesNotCompensate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	started := make(chan struct{}, 1)
	defs, wf := fallbackTrip(&rec, started, nil)
	eng, db := setup(t, nil, defs...)

	_, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	recv(t, started, "the fallback step to start")
	require.NoError(t, eng.Terminate(ctx, "t1", "operator: stop"))
	info, err := eng.Describe(ctx, "t1")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusTerminated, info.Status)

	evs := journal(t, eng, db, "t1")
	require.Empty(t, markers(t, evs), "termination runs no more workflow code, deferred or not")
	require.Equal(t, history.EventRunTerminated, evs[len(evs)-1].Type)
	require.Equal(t, history.EventActivityScheduled, evs[len(evs)-2].Type)
	require.Equal(t, "blocked", evs[len(evs)-2].Name)
	require.Zero(t, rec.count("undo-0"))
}

func TestPanicDoesNotCompensate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	defs, wf := fallbackTrip(&rec, make(chan struct{}, 1), func() { panic("bug in the fallback path") })
	eng, db := setup(t, nil, defs...)

	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: "t1"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var be *chorus.BlockedError
	require.ErrorAs(t, err, &be, "a panic blocks the run")
	var pe *chorus.PanicError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "bug in the fallback path", fmt.Sprint(pe.Value), "the panic value is kept")
	require.Contains(t, pe.Stack, "saga_test.fallbackTrip", "the stack still shows where it panicked")

	require.Empty(t, markers(t, journal(t, eng, db, "t1")), "nothing was compensated")
	require.Zero(t, rec.count("undo-0"))
}

func TestContinueAsNewDoesNotCompensate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var rec recorder
	d := newTrip(&rec, 1, nil)
	var wf *workflow.Definition[int, string]
	wf = workflow.New("loop", func(ctx workflow.Context, gen int) (_ string, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)
		id, err := workflow.ExecuteActivity(ctx, d.books[0], fmt.Sprint(gen)).Get(ctx)
		if err != nil {
			return "", err
		}
		if err := saga.Add(s, d.undos[0], id); err != nil {
			return "", err
		}
		if gen < 2 {
			return "", workflow.ContinueAsNew(ctx, wf, gen+1)
		}
		return id, nil
	})
	eng, _ := setup(t, nil, d.defs(wf)...)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "book-0/2", got)
	require.Equal(t, []string{"book-0", "book-0", "book-0"}, rec.list(), "continuing as new is not a failure")
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	var nilOpts *saga.Options
	require.NoError(t, nilOpts.Validate())
	require.NoError(t, (&saga.Options{}).Validate())
	require.NoError(t, (&saga.Options{Parallel: true, MaxParallel: 3, ContinueOnError: true, Name: "x"}).Validate())
	require.EqualError(t, (&saga.Options{Parallel: true, MaxParallel: -1}).Validate(), "saga: Options.MaxParallel is negative (-1)")
	require.EqualError(t, (&saga.Options{MaxParallel: 2}).Validate(), "saga: Options.MaxParallel is 2 but Parallel is not set")
}

func TestInvalidOptionsBlockTheRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("bad-options", func(ctx workflow.Context, _ string) (string, error) {
		saga.New(ctx, &saga.Options{MaxParallel: -1})
		return "", nil
	})
	eng, _ := setup(t, nil, wf)
	_, err := chorus.Start(ctx, eng, wf, "", nil)
	var pe *chorus.PanicError
	require.ErrorAs(t, err, &pe, "a programming error: the run is not recorded")
	require.Contains(t, fmt.Sprint(pe.Value), "saga: Options.MaxParallel is negative (-1)")
}
