package chorus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// parkedRun starts a run of the two-step workflow "order" (activities "a"
// then "b") on a new database, waits until "b" is running, and closes the
// engine so the run is left in the journal waiting for "b".
func parkedRun(t *testing.T, c *counter) string {
	t.Helper()
	ctx := testContext(t)
	started := make(chan struct{}, 1)
	a := addOne(c, "a")
	b := activity.New("b", func(ctx context.Context, n int) (int, error) {
		c.inc("b")
		started <- struct{}{}
		<-ctx.Done() // interrupted by Close: not recorded
		return 0, ctx.Err()
	})
	wf := orderWorkflow(a, b)
	eng, path := setup(t, nil, wf, a, b)
	_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "order-1"})
	require.NoError(t, err)
	recv(t, started, `activity "b" to start`)
	closeEngine(t, eng)
	return path
}

func orderWorkflow(first, second *activity.Definition[int, int]) *workflow.Definition[int, int] {
	return workflow.New("order", func(ctx workflow.Context, n int) (int, error) {
		n, err := workflow.ExecuteActivity(ctx, first, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		return workflow.ExecuteActivity(ctx, second, n).Get(ctx)
	})
}

func TestNonDeterminismBlocksRunAndFixedCodeResumesIt(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	path := parkedRun(t, &c)

	// New code schedules "c" where the journal recorded "a".
	a, bDone, cAct := addOne(&c, "a"), addOne(&c, "b"), addOne(&c, "c")
	changed := orderWorkflow(cAct, bDone)
	eng := openEngine(t, path, nil, changed, a, bDone, cAct)
	run, err := chorus.Lookup(ctx, eng, changed, "order-1")
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var be *chorus.BlockedError
	require.ErrorAs(t, err, &be)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
	var nde *chorus.NonDeterminismError
	require.ErrorAs(t, err, &nde)
	require.Equal(t, "order-1", nde.RunID)
	require.Equal(t, "order", nde.Workflow)
	require.EqualValues(t, 2, nde.Step)
	require.Equal(t, `ActivityScheduled "a"`, nde.Recorded)
	require.Equal(t, `issues ActivityScheduled "c"`, nde.Issued)
	require.Contains(t, nde.Error(), `run "order-1"`)

	info, err := eng.Describe(ctx, "order-1")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusBlocked, info.Status)
	require.ErrorAs(t, info.Err, &nde, "the stored reason is rebuilt as a NonDeterminismError")
	require.EqualValues(t, 2, nde.Step)
	require.EqualValues(t, 4, info.Events, "the journal is untouched: started, a scheduled, a completed, b scheduled")
	require.Zero(t, c.get("order-1/c"), "diverging code issued nothing")
	closeEngine(t, eng)

	// The original code resumes the run where it stopped.
	original := orderWorkflow(a, bDone)
	eng = openEngine(t, path, nil, original, a, bDone)
	run, err = chorus.Lookup(ctx, eng, original, "order-1")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	if errors.Is(err, chorus.ErrRunBlocked) {
		// Result may read the row before the resumed replay rewrote it.
		got, err = waitResult(ctx, t, run)
	}
	require.NoError(t, err)
	require.Equal(t, 3, got)
	require.Equal(t, 1, c.get("order-1/a"), "a completed before the first close and never ran again")
	info, err = eng.Describe(ctx, "order-1")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCompleted, info.Status)
}

// waitResult waits for the run to leave the blocked state and returns its
// result.
func waitResult(ctx context.Context, t *testing.T, run *chorus.Run[int]) (int, error) {
	t.Helper()
	for {
		got, err := run.Result(ctx)
		if !errors.Is(err, chorus.ErrRunBlocked) || ctx.Err() != nil {
			return got, err
		}
		runtimeGosched()
	}
}

func TestNonDeterminismWhenCodeStopsIssuingACommand(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	path := parkedRun(t, &c)

	a, b := addOne(&c, "a"), addOne(&c, "b")
	shorter := workflow.New("order", func(ctx workflow.Context, n int) (int, error) {
		return n, nil // no longer schedules anything
	})
	eng := openEngine(t, path, nil, shorter, a, b)
	run, err := chorus.Lookup(ctx, eng, shorter, "order-1")
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var nde *chorus.NonDeterminismError
	require.ErrorAs(t, err, &nde)
	require.EqualValues(t, 2, nde.Step)
	require.Equal(t, `ActivityScheduled "a"`, nde.Recorded)
	require.Equal(t, `issues RunCompleted`, nde.Issued)
}

func TestPanicInWorkflow(t *testing.T) {
	t.Parallel()

	t.Run("at start nothing is recorded", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		wf := workflow.New("panics", func(ctx workflow.Context, n int) (int, error) { panic("bad input handling") })
		eng, _ := setup(t, nil, wf)
		_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "p"})
		var pe *chorus.PanicError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, "bad input handling", pe.Value)
		require.Contains(t, pe.Stack, "determinism_test.go")
		_, err = eng.Describe(ctx, "p")
		require.ErrorIs(t, err, chorus.ErrRunNotFound)
	})

	t.Run("mid-run blocks and a fix resumes", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		var c counter
		a := addOne(&c, "a")
		buggy := workflow.New("wf", func(ctx workflow.Context, n int) (int, error) {
			n, err := workflow.ExecuteActivity(ctx, a, n).Get(ctx)
			if err != nil {
				return 0, err
			}
			var m map[string]int
			//lint:ignore SA5000 the nil map write is the bug under test
			m["boom"] = n
			return n, nil
		})
		eng, path := setup(t, nil, buggy, a)
		run, err := chorus.Start(ctx, eng, buggy, 1, &chorus.StartOptions{ID: "p"})
		require.NoError(t, err)
		_, err = run.Result(ctx)
		var pe *chorus.PanicError
		require.ErrorAs(t, err, &pe)
		require.ErrorIs(t, err, chorus.ErrRunBlocked)
		info, err := eng.Describe(ctx, "p")
		require.NoError(t, err)
		require.Equal(t, chorus.StatusBlocked, info.Status)
		require.ErrorContains(t, info.Err, "assignment to entry in nil map")
		require.ErrorAs(t, info.Err, &pe, "the stored reason is rebuilt as a PanicError")
		require.Contains(t, pe.Stack, "determinism_test.go")
		// The step that panicked (a's completion and what the code did with
		// it) is not recorded: the journal keeps only started + scheduled.
		require.EqualValues(t, 2, info.Events)
		closeEngine(t, eng)

		fixed := workflow.New("wf", func(ctx workflow.Context, n int) (int, error) {
			n, err := workflow.ExecuteActivity(ctx, a, n).Get(ctx)
			return n * 10, err
		})
		eng = openEngine(t, path, nil, fixed, a)
		run, err = chorus.Lookup(ctx, eng, fixed, "p")
		require.NoError(t, err)
		got, err := waitResult(ctx, t, run)
		require.NoError(t, err)
		require.Equal(t, 20, got)
		require.Equal(t, 2, c.get("p/a"), "a's outcome was lost with the panicking step, so a ran again (at least once)")
	})
}

func TestCheckRegistrationsNamesWhatTheJournalNeeds(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	path := parkedRun(t, &c)

	eng := openEngine(t, path, nil)
	err := eng.CheckRegistrations(ctx)
	var nre *chorus.NotRegisteredError
	require.ErrorAs(t, err, &nre)
	require.ErrorIs(t, err, chorus.ErrNotRegistered)
	require.Equal(t, `chorus: activity "b" is not registered with this engine (call Engine.Register with its definition)`+"\n"+
		`chorus: workflow "order" is not registered with this engine (call Engine.Register with its definition)`, err.Error())

	a, b := addOne(&c, "a"), addOne(&c, "b")
	wf := orderWorkflow(a, b)
	require.NoError(t, eng.Register(wf, a, b))
	require.NoError(t, eng.CheckRegistrations(ctx))
	run, err := chorus.Lookup(ctx, eng, wf, "order-1")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, got, "the work that waited for registration went on")
}
