package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/workflow"
)

// runTasks returns the pending tasks of run id in the engine's journal.
func runTasks(ctx context.Context, t *testing.T, eng *chorus.Engine, id string) []history.Task {
	t.Helper()
	all, err := hook.Core(eng).Store().Tasks(ctx)
	require.NoError(t, err)
	var out []history.Task
	for _, tk := range all {
		if tk.RunID == id {
			out = append(out, tk)
		}
	}
	return out
}

// TestRunEndDropsUnawaitedWork ends a run that never awaited an activity
// (whose attempt is running), a second activity (waiting for a retry) and a
// timer: the commit that ends the run removes their tasks, the running
// attempt sees its context canceled, and after a reopen nothing runs again.
func TestRunEndDropsUnawaitedWork(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var runs atomic.Int32
	started := make(chan struct{}, 8)
	stopped := make(chan error, 8)
	hang := activity.New("re-hang", func(ctx context.Context, _ int) (int, error) {
		runs.Add(1)
		started <- struct{}{}
		<-ctx.Done()
		stopped <- ctx.Err()
		return 0, ctx.Err()
	})
	var fails atomic.Int32
	failing := activity.New("re-fail", func(ctx context.Context, _ int) (int, error) {
		fails.Add(1)
		started <- struct{}{}
		return 0, fmt.Errorf("try again later")
	}).WithOptions(activity.Options{RetryPolicy: &activity.RetryPolicy{InitialInterval: time.Hour, MaximumAttempts: 5}})
	done := workflow.NewSignal[struct{}]("done")
	wf := workflow.New("re-unawaited", func(ctx workflow.Context, _ int) (string, error) {
		workflow.ExecuteActivity(ctx, hang, 1)
		workflow.ExecuteActivity(ctx, failing, 2)
		workflow.NewTimer(ctx, 24*time.Hour)
		workflow.GetSignalChannel(ctx, done).Receive(ctx)
		return "done", nil
	})
	eng, path := setup(t, nil, wf, hang, failing)
	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "re-1"})
	require.NoError(t, err)
	recv(t, started, "the first activity to start")
	recv(t, started, "the second activity's first attempt")
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), done, struct{}{}))
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "done", got)
	require.Empty(t, runTasks(ctx, t, eng, "re-1"), "the commit that ended the run removed its activity and timer tasks")
	require.ErrorIs(t, recv(t, stopped, "the running attempt to be canceled"), context.Canceled)
	closeEngine(t, eng)

	eng = openEngine(t, path, nil, wf, hang, failing)
	require.Empty(t, runTasks(ctx, t, eng, "re-1"))
	closeEngine(t, eng)
	require.EqualValues(t, 1, runs.Load(), "the un-awaited activity never runs again")
	require.EqualValues(t, 1, fails.Load(), "the un-awaited retry is never scheduled")
}

// TestRunEndWithoutWaitingDropsWork ends a run in the round that schedules
// an activity and a timer: neither is ever started.
func TestRunEndWithoutWaitingDropsWork(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var runs atomic.Int32
	act := activity.New("re-never", func(ctx context.Context, _ int) (int, error) {
		runs.Add(1)
		return 0, nil
	})
	wf := workflow.New("re-fire-and-forget", func(ctx workflow.Context, _ int) (int, error) {
		workflow.ExecuteActivity(ctx, act, 1)
		workflow.NewTimer(ctx, time.Hour)
		return 7, nil
	})
	eng, path := setup(t, nil, wf, act)
	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "re-2"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	require.Empty(t, runTasks(ctx, t, eng, "re-2"))
	closeEngine(t, eng)
	eng = openEngine(t, path, nil, wf, act)
	require.Empty(t, runTasks(ctx, t, eng, "re-2"))
	closeEngine(t, eng)
	require.Zero(t, runs.Load(), "the activity of a run that ended at once never runs")
}

// TestParentClosePolicy ends a parent that has three running children, one
// per policy: the default terminates its child, RequestCancel cancels it,
// Abandon leaves it running. The same holds when the parent is terminated.
func TestParentClosePolicy(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"complete", "terminate"} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			up := make(chan string, 16)
			release := workflow.NewSignal[int]("release")
			// The activity runs once the child's start is committed.
			report := activity.New("pc-up", func(ctx context.Context, _ int) (int, error) {
				up <- activity.GetInfo(ctx).RunID
				return 0, nil
			})
			child := workflow.New("pc-child", func(ctx workflow.Context, n int) (int, error) {
				if _, err := workflow.ExecuteActivity(ctx, report, 0).Get(ctx); err != nil {
					return 0, err
				}
				ch := workflow.GetSignalChannel(ctx, release)
				var v int
				workflow.NewSelector(ctx).
					AddReceive(ch, func() { v, _ = ch.ReceiveAsync() }).
					AddReceive(ctx.Done(), func() {}).
					Select(ctx)
				if err := ctx.Err(); err != nil {
					return 0, err
				}
				return n + v, nil
			})
			finish := workflow.NewSignal[struct{}]("finish")
			parent := workflow.New("pc-parent", func(ctx workflow.Context, _ int) (int, error) {
				p := workflow.GetInfo(ctx).RunID
				workflow.ExecuteChildWorkflow(ctx, child, 1, &workflow.ChildOptions{ID: p + "-term"})
				workflow.ExecuteChildWorkflow(ctx, child, 2, &workflow.ChildOptions{ID: p + "-cancel", ParentClosePolicy: workflow.ParentCloseRequestCancel})
				workflow.ExecuteChildWorkflow(ctx, child, 3, &workflow.ChildOptions{ID: p + "-abandon", ParentClosePolicy: workflow.ParentCloseAbandon})
				_, _ = workflow.GetSignalChannel(ctx, finish).Receive(ctx)
				return 0, nil
			})
			eng, _ := setup(t, nil, parent, child, report)
			id := "pc-" + end
			run, err := chorus.Start(ctx, eng, parent, 0, &chorus.StartOptions{ID: id})
			require.NoError(t, err)
			seen := map[string]bool{}
			for range 3 {
				seen[recv(t, up, "a child to start")] = true
			}
			require.Len(t, seen, 3)
			switch end {
			case "complete":
				require.NoError(t, chorus.Signal(ctx, eng, id, finish, struct{}{}))
			case "terminate":
				require.NoError(t, eng.Terminate(ctx, id, "stop"))
			}
			_, _ = run.Result(ctx)

			_, err = pmResult(ctx, t, eng, child, id+"-term")
			var we *chorus.WorkflowError
			require.ErrorAs(t, err, &we)
			require.True(t, we.Terminated, "the default policy terminates the child: %v", err)
			_, err = pmResult(ctx, t, eng, child, id+"-cancel")
			require.ErrorIs(t, err, chorus.ErrCanceled, "RequestCancel cancels the child")
			require.Equal(t, chorus.StatusRunning, pmStatus(ctx, t, eng, id+"-abandon"), "Abandon leaves the child running")
			require.NoError(t, chorus.Signal(ctx, eng, id+"-abandon", release, 10))
			got, err := pmResult(ctx, t, eng, child, id+"-abandon")
			require.NoError(t, err)
			require.Equal(t, 13, got)
		})
	}
}

// TestLeftoverTaskOfEndedRunIsDeleted opens a journal in which an ended run
// still has an activity task (as older versions left behind): the attempt
// that runs at Open is the last, its task is deleted.
func TestLeftoverTaskOfEndedRunIsDeleted(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "chorus.db")
	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	now := time.Now()
	errs, err := st.Commit(ctx, []*history.Batch{{
		RunID: "old", Time: now, Create: &history.RunInfo{Workflow: "re-old", Status: history.StatusCompleted, Result: []byte("1")},
		Events: []history.Event{
			{Seq: 1, Type: history.EventRunStarted, Name: "re-old", Payload: []byte("0"), Time: now},
			{Seq: 2, Type: history.EventActivityScheduled, Name: "re-left", Payload: []byte("0"), Time: now},
			{Seq: 3, Type: history.EventRunCompleted, Payload: []byte("1"), Time: now},
		},
		AddTasks: []history.Task{{Step: 2, Kind: history.TaskActivity, Name: "re-left", Input: []byte("0"), Attempt: 1}},
	}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	require.NoError(t, st.Close())

	var runs atomic.Int32
	act := activity.New("re-left", func(ctx context.Context, _ int) (int, error) {
		runs.Add(1)
		return 0, nil
	})
	wf := workflow.New("re-old", func(ctx workflow.Context, _ int) (int, error) {
		return workflow.ExecuteActivity(ctx, act, 0).Get(ctx)
	})
	eng := openEngine(t, path, nil, wf, act)
	require.Eventually(t, func() bool {
		tasks, err := hook.Core(eng).Store().Tasks(ctx)
		return err == nil && len(tasks) == 0
	}, testTimeout, time.Millisecond,
		"the leftover task is deleted once its attempt reports")
	closeEngine(t, eng)
	eng = openEngine(t, path, nil, wf, act)
	require.Empty(t, runTasks(ctx, t, eng, "old"))
	closeEngine(t, eng)
	require.EqualValues(t, 1, runs.Load())
}

// TestTerminatedBlockedParentClosesChildren terminates a blocked parent:
// its journal names the running child, which the default policy
// terminates.
func TestTerminatedBlockedParentClosesChildren(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	up := make(chan string, 4)
	report := activity.New("pcb-up", func(ctx context.Context, _ int) (int, error) {
		up <- activity.GetInfo(ctx).RunID
		return 0, nil
	})
	child := workflow.New("pcb-child", func(ctx workflow.Context, _ int) (int, error) {
		if _, err := workflow.ExecuteActivity(ctx, report, 0).Get(ctx); err != nil {
			return 0, err
		}
		workflow.Await(ctx, func() bool { return false })
		return 0, nil
	})
	boom := workflow.NewSignal[struct{}]("boom")
	parent := workflow.New("pcb-parent", func(ctx workflow.Context, _ int) (int, error) {
		workflow.ExecuteChildWorkflow(ctx, child, 0, &workflow.ChildOptions{ID: "pcb-c"})
		workflow.GetSignalChannel(ctx, boom).Receive(ctx)
		panic("parent bug")
	})
	eng, _ := setup(t, nil, parent, child, report)
	_, err := chorus.Start(ctx, eng, parent, 0, &chorus.StartOptions{ID: "pcb"})
	require.NoError(t, err)
	require.Equal(t, "pcb-c", recv(t, up, "the child to start"))
	var be *chorus.BlockedError
	require.ErrorAs(t, chorus.Signal(ctx, eng, "pcb", boom, struct{}{}), &be)
	require.NoError(t, eng.Terminate(ctx, "pcb", "give up"))
	_, err = pmResult(ctx, t, eng, child, "pcb-c")
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Terminated, "%v", err)
}

// TestTerminatedBlockedChildNotifiesParent terminates a blocked child: its
// parent learns that it was terminated.
func TestTerminatedBlockedChildNotifiesParent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	boom := workflow.NewSignal[struct{}]("boom")
	up := make(chan string, 4)
	report := activity.New("tbc-up", func(ctx context.Context, _ int) (int, error) {
		up <- activity.GetInfo(ctx).RunID
		return 0, nil
	})
	child := workflow.New("tbc-child", func(ctx workflow.Context, _ int) (int, error) {
		if _, err := workflow.ExecuteActivity(ctx, report, 0).Get(ctx); err != nil {
			return 0, err
		}
		workflow.GetSignalChannel(ctx, boom).Receive(ctx)
		panic("child bug")
	})
	parent := workflow.New("tbc-parent", func(ctx workflow.Context, _ int) (bool, error) {
		_, err := workflow.ExecuteChildWorkflow(ctx, child, 0, &workflow.ChildOptions{ID: "tbc-c"}).Get(ctx)
		var ae *activity.Error
		return errors.As(err, &ae) && ae.Type == "Terminated", nil
	})
	eng, _ := setup(t, nil, parent, child, report)
	run, err := chorus.Start(ctx, eng, parent, 0, &chorus.StartOptions{ID: "tbc"})
	require.NoError(t, err)
	require.Equal(t, "tbc-c", recv(t, up, "the child to start"))
	var be *chorus.BlockedError
	require.ErrorAs(t, chorus.Signal(ctx, eng, "tbc-c", boom, struct{}{}), &be)
	require.NoError(t, eng.Terminate(ctx, "tbc-c", "give up"))
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.True(t, got, "the parent saw its child terminated")
}

// TestContinueAsNewAppliesParentClosePolicy continues a run as new in the
// step that starts two children: the abandoned one runs, the one to
// terminate never starts.
func TestContinueAsNewAppliesParentClosePolicy(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	child := workflow.New("can-child", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	parent := workflow.New("can-parent", func(ctx workflow.Context, gen int) (int, error) {
		if gen == 1 {
			workflow.ExecuteChildWorkflow(ctx, child, 7, &workflow.ChildOptions{ID: "can-abandon", ParentClosePolicy: workflow.ParentCloseAbandon})
			workflow.ExecuteChildWorkflow(ctx, child, 8, &workflow.ChildOptions{ID: "can-term"})
			return 0, workflow.ContinueAsNewWith(ctx, 2)
		}
		return gen, nil
	})
	eng, _ := setup(t, nil, parent, child)
	run, err := chorus.Start(ctx, eng, parent, 1, &chorus.StartOptions{ID: "can-p"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, got)
	// Started by a task after the commit that ended the generation.
	require.Eventually(t, func() bool {
		_, err := eng.Describe(ctx, "can-abandon")
		return err == nil
	}, testTimeout, time.Millisecond, "the abandoned child to be started")
	n, err := pmResult(ctx, t, eng, child, "can-abandon")
	require.NoError(t, err, "the abandoned child was started")
	require.Equal(t, 7, n)
	_, err = eng.Describe(ctx, "can-term")
	require.ErrorIs(t, err, chorus.ErrRunNotFound, "the child to terminate was never started")
}

// TestUnknownParentClosePolicyIsRefused gives a child an unknown policy:
// its future fails with an error that names the option, nothing starts.
func TestUnknownParentClosePolicyIsRefused(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	child := workflow.New("upc-child", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	parent := workflow.New("upc-parent", func(ctx workflow.Context, _ int) (string, error) {
		_, err := workflow.ExecuteChildWorkflow(ctx, child, 1, &workflow.ChildOptions{ParentClosePolicy: 9}).Get(ctx)
		return fmt.Sprint(err), nil
	})
	eng, _ := setup(t, nil, parent, child)
	run, err := chorus.Start(ctx, eng, parent, 0, nil)
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Contains(t, got, "ChildOptions.ParentClosePolicy has unknown value 9")
}
