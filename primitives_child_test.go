package chorus_test

// Child workflows; the pm* helpers are in primitives_more_test.go.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// ---------------------------------------------------------------------------
// Child workflows

func TestChildWorkflowReturnsTypedResultAndIsANormalRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	type childOut struct {
		Doubled int
		Note    string
	}
	type parentOut struct {
		FirstID, SecondID string
		First, Second     childOut
	}
	double := activity.New("pm-child-double", func(ctx context.Context, n int) (int, error) {
		c.inc(activity.GetInfo(ctx).RunID + "/double")
		return n * 2, nil
	})
	child := workflow.New("pm-child", func(ctx workflow.Context, n int) (childOut, error) {
		d, err := workflow.ExecuteActivity(ctx, double, n).Get(ctx)
		return childOut{Doubled: d, Note: fmt.Sprintf("from %d in %s", n, workflow.GetInfo(ctx).RunID)}, err
	})
	parent := workflow.New("pm-parent", func(ctx workflow.Context, n int) (parentOut, error) {
		var out parentOut
		f := workflow.ExecuteChildWorkflow(ctx, child, n+1, nil) // step 2
		first, err := f.Get(ctx)                                 // ChildCompleted is step 3
		if err != nil {
			return out, err
		}
		g := workflow.ExecuteChildWorkflow(ctx, child, first.Doubled, nil) // step 4
		second, err := g.Get(ctx)
		return parentOut{FirstID: f.RunID(), SecondID: g.RunID(), First: first, Second: second}, err
	})
	eng, _ := setup(t, nil, parent, child, double)

	run, err := chorus.Start(ctx, eng, parent, 20, &chorus.StartOptions{ID: "pm-p1"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, parentOut{
		FirstID: "pm-p1/2", SecondID: "pm-p1/4",
		First:  childOut{Doubled: 42, Note: "from 21 in pm-p1/2"},
		Second: childOut{Doubled: 84, Note: "from 42 in pm-p1/4"},
	}, got, "default child IDs are <parent>/<step of ChildStarted>")

	// Each child is a run like any other.
	for id, want := range map[string]childOut{"pm-p1/2": got.First, "pm-p1/4": got.Second} {
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err)
		require.Equal(t, chorus.StatusCompleted, info.Status)
		require.Equal(t, "pm-child", info.Workflow)
		require.EqualValues(t, 4, info.Events, "started, scheduled, completed, run completed")
		crun, err := chorus.Lookup(ctx, eng, child, id)
		require.NoError(t, err)
		require.Equal(t, id, crun.ID())
		cres, err := crun.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, want, cres)
		require.Equal(t, 1, c.get(id+"/double"), "the child's activity ran once, in the child run")
	}
	require.Zero(t, c.get("pm-p1/double"), "the parent ran no activity itself")
	_, err = chorus.Lookup(ctx, eng, parent, "pm-p1/2")
	require.ErrorContains(t, err, `belongs to workflow "pm-child"`)

	info, err := eng.Describe(ctx, "pm-p1")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCompleted, info.Status)
	require.EqualValues(t, 6, info.Events, "started, 2 x (child started, child completed), completed")
}

type pmChildErr struct {
	Workflow, RunID string
	Step            int64
	Type, Message   string
	Canceled        bool
}

func TestChildWorkflowErrorSurfacesTypedInParent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	child := workflow.New("pm-failing-child", func(ctx workflow.Context, n int) (int, error) {
		return 0, activity.NewError("child-broke", "cannot handle %d", n)
	})
	inspecting := workflow.New("pm-inspecting-parent", func(ctx workflow.Context, n int) (pmChildErr, error) {
		_, err := workflow.ExecuteChildWorkflow(ctx, child, n, nil).Get(ctx)
		var cwe *workflow.ChildWorkflowError
		if !errors.As(err, &cwe) {
			return pmChildErr{}, activity.NewError("unexpected", "child error %T %v is not a *workflow.ChildWorkflowError", err, err)
		}
		var ae *activity.Error
		if !errors.As(err, &ae) {
			return pmChildErr{}, activity.NewError("unexpected", "child error %v does not unwrap to an *activity.Error", err)
		}
		return pmChildErr{Workflow: cwe.Workflow, RunID: cwe.RunID, Step: cwe.Step, Type: ae.Type, Message: ae.Message,
			Canceled: errors.Is(err, workflow.ErrCanceled)}, nil
	})
	passing := workflow.New("pm-passing-parent", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteChildWorkflow(ctx, child, n, nil).Get(ctx)
	})
	eng, _ := setup(t, nil, inspecting, passing, child)

	run, err := chorus.Start(ctx, eng, inspecting, 7, &chorus.StartOptions{ID: "pm-fp"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "pm-failing-child", got.Workflow)
	require.Equal(t, "pm-fp/2", got.RunID)
	require.EqualValues(t, 2, got.Step)
	require.Equal(t, "child-broke", got.Type, "the child's recorded error type reaches the parent")
	require.Contains(t, got.Message, "cannot handle 7")
	require.False(t, got.Canceled)

	info, err := eng.Describe(ctx, "pm-fp/2")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusFailed, info.Status)
	_, err = pmResult(ctx, t, eng, child, "pm-fp/2")
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.Equal(t, "child-broke", we.Type)

	// A parent that returns the child's error fails with the child's type.
	run2, err := chorus.Start(ctx, eng, passing, 8, &chorus.StartOptions{ID: "pm-fp2"})
	require.NoError(t, err)
	_, err = run2.Result(ctx)
	require.ErrorAs(t, err, &we)
	require.False(t, we.Canceled)
	require.Equal(t, "child-broke", we.Type)
	require.Contains(t, we.Message, "cannot handle 8")
}

func TestChildWorkflowIDInUseFailsTheChildFuture(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	act := addOne(&c, "pm-inuse-act")
	hold := workflow.NewSignal[int]("pm-inuse-hold")
	child := workflow.New("pm-inuse-child", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, act, n).Get(ctx)
	})
	other := workflow.New("pm-inuse-other", func(ctx workflow.Context, n int) (int, error) {
		if n == 0 {
			return 7, nil
		}
		v, _ := workflow.GetSignalChannel(ctx, hold).Receive(ctx)
		return v, nil
	})
	parent := workflow.New("pm-inuse-parent", func(ctx workflow.Context, _ int) ([]string, error) {
		var out []string
		for _, id := range []string{"pm-taken-ended", "pm-taken-running"} {
			f := workflow.ExecuteChildWorkflow(ctx, child, 1, &workflow.ChildOptions{ID: id})
			_, err := f.Get(ctx)
			var cwe *workflow.ChildWorkflowError
			var ae *activity.Error
			if !errors.As(err, &cwe) || !errors.As(err, &ae) {
				return nil, activity.NewError("unexpected", "child %s: %T %v", id, err, err)
			}
			out = append(out, fmt.Sprintf("%s|%s|%s", f.RunID(), cwe.RunID, ae.Type))
		}
		return out, nil
	})
	eng, _ := setup(t, nil, parent, child, other, act)

	ended, err := chorus.Start(ctx, eng, other, 0, &chorus.StartOptions{ID: "pm-taken-ended"})
	require.NoError(t, err)
	v, err := ended.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, v)
	running, err := chorus.Start(ctx, eng, other, 1, &chorus.StartOptions{ID: "pm-taken-running"})
	require.NoError(t, err)
	before := map[string]chorus.RunInfo{}
	for _, id := range []string{"pm-taken-ended", "pm-taken-running"} {
		before[id], err = eng.Describe(ctx, id)
		require.NoError(t, err)
	}

	prun, err := chorus.Start(ctx, eng, parent, 0, &chorus.StartOptions{ID: "pm-inuse"})
	require.NoError(t, err)
	got, err := prun.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{
		"pm-taken-ended|pm-taken-ended|ChildIDInUse",
		"pm-taken-running|pm-taken-running|ChildIDInUse",
	}, got)

	for id, b := range before {
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "pm-inuse-other", info.Workflow, "the unrelated run %s is untouched", id)
		require.Equal(t, b.Status, info.Status, id)
		require.Equal(t, b.Events, info.Events, "nothing was appended to the journal of %s", id)
		require.Zero(t, c.get(id+"/pm-inuse-act"), "the child's code never ran as %s", id)
	}
	require.NoError(t, chorus.Signal(ctx, eng, "pm-taken-running", hold, 5))
	v, err = running.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 5, v, "the unrelated running run still works")
}

func TestCancelingParentCancelsChild(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	started := make(chan string, 4)
	stopped := make(chan error, 4)
	var execs atomic.Int32
	block := activity.New("pm-cc-block", func(ctx context.Context, n int) (int, error) {
		execs.Add(1)
		started <- activity.GetInfo(ctx).RunID
		<-ctx.Done()
		stopped <- ctx.Err()
		return 0, ctx.Err()
	})
	child := workflow.New("pm-cc-child", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, block, n).Get(ctx)
	})
	parent := workflow.New("pm-cc-parent", func(ctx workflow.Context, n int) (int, error) {
		v, err := workflow.ExecuteChildWorkflow(ctx, child, n, nil).Get(ctx)
		if err == nil {
			return v, nil
		}
		var cwe *workflow.ChildWorkflowError
		if errors.As(err, &cwe) && errors.Is(err, workflow.ErrCanceled) {
			return 0, fmt.Errorf("child %s canceled: %w", cwe.RunID, err)
		}
		return 0, activity.NewError("unexpected", "child future: %T %v", err, err)
	})
	eng, _ := setup(t, nil, parent, child, block)

	run, err := chorus.Start(ctx, eng, parent, 1, &chorus.StartOptions{ID: "pm-cc"})
	require.NoError(t, err)
	require.Equal(t, "pm-cc/2", recv(t, started, "the child's activity to start"))
	require.NoError(t, eng.Cancel(ctx, "pm-cc"))
	require.ErrorIs(t, recv(t, stopped, "the child's activity to see its context canceled"), context.Canceled)

	_, err = run.Result(ctx)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Canceled, "parent ends canceled: %v", err)
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.Contains(t, we.Message, "child pm-cc/2 canceled", "the parent's Get returned a ChildWorkflowError that is ErrCanceled")

	info, err := eng.Describe(ctx, "pm-cc/2")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCanceled, info.Status)
	_, err = pmResult(ctx, t, eng, child, "pm-cc/2")
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.EqualValues(t, 1, execs.Load())
}

func TestDetachedChildOutlivesCanceledParent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	started := make(chan string, 4)
	release := make(chan struct{})
	var execs atomic.Int32
	work := activity.New("pm-det-work", func(ctx context.Context, n int) (int, error) {
		execs.Add(1)
		started <- activity.GetInfo(ctx).RunID
		select {
		case <-release:
			if ctx.Err() != nil {
				return 0, activity.NonRetryable(fmt.Errorf("detached child's activity was canceled: %w", ctx.Err()))
			}
			return n + 1, nil
		case <-ctx.Done():
			return 0, activity.NonRetryable(fmt.Errorf("detached child's activity was canceled: %w", ctx.Err()))
		}
	}).WithOptions(activity.Options{RetryPolicy: fastRetry(1)})
	child := workflow.New("pm-det-child", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, work, n).Get(ctx)
	})
	parent := workflow.New("pm-det-parent", func(ctx workflow.Context, n int) (string, error) {
		f := workflow.ExecuteChildWorkflow(ctx, child, n, &workflow.ChildOptions{Detach: true})
		_, err := f.Get(ctx)
		if errors.Is(err, workflow.ErrCanceled) {
			return "", fmt.Errorf("gave up on %s: %w", f.RunID(), err)
		}
		return "", activity.NewError("unexpected", "detached child future: %v", err)
	})
	eng, _ := setup(t, nil, parent, child, work)

	run, err := chorus.Start(ctx, eng, parent, 41, &chorus.StartOptions{ID: "pm-det"})
	require.NoError(t, err)
	require.Equal(t, "pm-det/2", recv(t, started, "the detached child's activity to start"))
	require.NoError(t, eng.Cancel(ctx, "pm-det"))
	_, err = run.Result(ctx)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Canceled, "%v", err)
	require.Contains(t, we.Message, "gave up on pm-det/2", "the detached child's future failed with ErrCanceled at once")
	require.Equal(t, chorus.StatusRunning, pmStatus(ctx, t, eng, "pm-det/2"), "the detached child keeps running")

	close(release)
	got, err := pmResult(ctx, t, eng, child, "pm-det/2")
	require.NoError(t, err, "the detached child completes after its parent was canceled")
	require.Equal(t, 42, got)
	require.Equal(t, chorus.StatusCompleted, pmStatus(ctx, t, eng, "pm-det/2"))
	require.Equal(t, chorus.StatusCanceled, pmStatus(ctx, t, eng, "pm-det"))
	require.EqualValues(t, 1, execs.Load())
}

func TestChildWorkflowCompletesAcrossCloseAndReopen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	started := make(chan string, 4)
	work := activity.New("pm-rc-work", func(ctx context.Context, n int) (int, error) {
		id := activity.GetInfo(ctx).RunID
		if c.inc(id+"/work") == 1 {
			started <- id
			<-ctx.Done() // interrupted by Close: not recorded, runs again after reopen
			return 0, ctx.Err()
		}
		return n + 1, nil
	})
	child := workflow.New("pm-rc-child", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, work, n).Get(ctx)
	})
	parent := workflow.New("pm-rc-parent", func(ctx workflow.Context, n int) (string, error) {
		f := workflow.ExecuteChildWorkflow(ctx, child, n, nil)
		v, err := f.Get(ctx)
		return fmt.Sprintf("%s -> %d", f.RunID(), v), err
	})
	eng, path := setup(t, nil, parent, child, work)
	_, err := chorus.Start(ctx, eng, parent, 10, &chorus.StartOptions{ID: "pm-rc"})
	require.NoError(t, err)
	require.Equal(t, "pm-rc/2", recv(t, started, "the child's activity to start"))
	closeEngine(t, eng)

	eng = openEngine(t, path, nil, parent, child, work)
	got, err := pmResult(ctx, t, eng, parent, "pm-rc")
	require.NoError(t, err, "the child finished after reopen and told its parent (needs the store to keep the child's parent link)")
	require.Equal(t, "pm-rc/2 -> 11", got)
	require.Equal(t, 2, c.get("pm-rc/2/work"), "the interrupted attempt ran again once")
	require.Equal(t, chorus.StatusCompleted, pmStatus(ctx, t, eng, "pm-rc/2"))
}
