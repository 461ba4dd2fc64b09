package chorus_test

// Crash-durability tests of asynchronous activity completion and of
// heartbeat details. They use the child processes and counter file of
// crash_primitives_test.go.

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

func init() {
	childModes["async-pending"] = asyncPendingChild
	childModes["async-heartbeat"] = asyncHeartbeatChild
	childModes["async-waitcancel"] = asyncWaitCancelChild
}

type asyncCrashDefs struct {
	wf  *workflow.Definition[string, string]
	act *activity.Definition[string, string]
}

func (d asyncCrashDefs) all() []chorus.Definition { return []chorus.Definition{d.wf, d.act} }

// newAsyncPendingDefs: the workflow runs async-approve, which hands its key
// over (announcing it) and returns activity.ErrResultPending.
func newAsyncPendingDefs(env primEnv) asyncCrashDefs {
	var d asyncCrashDefs
	d.act = primActivity(env, "async-approve", func(_ context.Context, info activity.Info, _ string) error {
		env.report("key %s", info.IdempotencyKey)
		return activity.ErrResultPending
	}, appendName("async-approve"))
	act := d.act
	d.wf = workflow.New("async-pending-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	return d
}

// pendingWatch is a store that announces, on the child's stdout, every
// committed task update that marks an attempt pending: from then on the
// pending state is durable.
type pendingWatch struct {
	history.Store
	say func(format string, args ...any)
}

func (s pendingWatch) Commit(ctx context.Context, bs []*history.Batch) ([]error, error) {
	errs, err := s.Store.Commit(ctx, bs)
	for i, b := range bs {
		if err != nil || errs[i] != nil {
			continue
		}
		for _, k := range b.UpdateTasks {
			if !k.Pending.IsZero() {
				s.say("pending %s/%d", b.RunID, k.Step)
			}
			if k.Heartbeat != nil {
				s.say("heartbeat %s/%d %s", b.RunID, k.Step, k.Heartbeat)
			}
			if k.Canceled {
				s.say("canceled %s/%d", b.RunID, k.Step)
			}
		}
	}
	return errs, err
}

func (p *primProc) openWatched() *chorus.Engine {
	st, err := sqlite.Open(p.ctx, p.db, nil)
	if err != nil {
		p.Fail("open store: %v", err)
	}
	eng, err := chorus.OpenStore(p.ctx, pendingWatch{Store: st, say: p.Say}, nil)
	if err != nil {
		p.Fail("open: %v", err)
	}
	return eng
}

// asyncPendingChild starts one run whose activity goes pending, and waits
// to be killed.
func asyncPendingChild() {
	p := newPrimProc()
	eng := p.openWatched()
	d := newAsyncPendingDefs(p.env)
	p.register(eng, d.all()...)
	id := p.prefix + "-1"
	if _, err := chorus.Start(p.ctx, eng, d.wf, "in", &chorus.StartOptions{ID: id}); err != nil {
		p.Fail("start %s: %v", id, err)
	}
	p.Say("started %s", id)
	p.awaitKill()
}

// TestAsyncCompletionCrash kills the process after an activity returned
// "result pending" and that state was committed; the engine that reopens
// the file neither retries nor reruns the activity, and completing it by
// its key finishes the run. The activity body ran exactly once.
func TestAsyncCompletionCrash(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	id := "async-crash-1"
	c := primStartChild(t, "async-pending", s, "1", "async-crash")
	var key string
	killed := primKillWhen(t, c, func(l string) bool {
		if k, ok := strings.CutPrefix(l, "key "); ok {
			key = k
		}
		return strings.HasPrefix(l, "pending ")
	})
	require.True(t, killed, c.Report())
	require.Equal(t, id+"/2", key, "the key is the run ID and the step of ActivityScheduled")

	// The pending state is in the task row.
	cp, err := testutil.CopyDatabase(s.db, t.TempDir())
	require.NoError(t, err)
	st, err := sqlite.Open(context.Background(), cp, nil)
	require.NoError(t, err)
	tasks, err := st.Tasks(context.Background())
	require.NoError(t, err)
	require.NoError(t, st.Close())
	require.Len(t, tasks, 1)
	require.False(t, tasks[0].Pending.IsZero(), "task %+v", tasks[0])
	require.Equal(t, 1, tasks[0].Attempt)

	ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
	defer cancel()
	d := newAsyncPendingDefs(primEnv{counter: s.counter, gen: "final"})
	eng, closeEng := primOpen(t, s, nil, d.all()...)
	require.NoError(t, chorus.CompleteActivity(ctx, eng, d.act, key, "approved"))
	out, err := primResult(t, ctx, eng, s, d.wf, id)
	require.NoError(t, err)
	require.Equal(t, "approved", out)
	require.ErrorIs(t, chorus.CompleteActivity(ctx, eng, d.act, key, "again"), chorus.ErrActivityCompleted)
	closeEng()

	require.Equal(t, map[string]int{"1": 1}, crashCountExecs(s.execs(t), id, "async-approve"), s.counterText(t))
}

// newAsyncHeartbeatDefs: the workflow runs async-progress, whose first
// attempt heartbeats with details {Done: 7} and then blocks until the
// process dies; a later attempt returns the details it found.
func newAsyncHeartbeatDefs(env primEnv) asyncCrashDefs {
	var d asyncCrashDefs
	d.act = activity.New("async-progress", func(ctx context.Context, in string) (string, error) {
		info := activity.GetInfo(ctx)
		if err := testutil.AppendLine(env.counter, env.gen+" "+info.RunID+" async-progress"); err != nil {
			return "", activity.NonRetryable(err)
		}
		var prev struct{ Done int }
		if activity.HeartbeatDetails(ctx, &prev) {
			return "resumed at " + string(rune('0'+prev.Done)), nil
		}
		if env.say == nil {
			return "no details", nil
		}
		activity.Heartbeat(ctx, struct{ Done int }{7})
		env.report("beat %s", info.IdempotencyKey)
		<-ctx.Done()
		return "", ctx.Err()
	})
	act := d.act
	d.wf = workflow.New("async-heartbeat-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	return d
}

func asyncHeartbeatChild() {
	p := newPrimProc()
	eng := p.openWatched()
	d := newAsyncHeartbeatDefs(p.env)
	p.register(eng, d.all()...)
	id := p.prefix + "-1"
	if _, err := chorus.Start(p.ctx, eng, d.wf, "in", &chorus.StartOptions{ID: id}); err != nil {
		p.Fail("start %s: %v", id, err)
	}
	p.awaitKill()
}

// TestHeartbeatDetailsCrash kills the process while an activity runs, after
// it recorded a heartbeat with details; the attempt that runs after the
// reopen reads those details.
func TestHeartbeatDetailsCrash(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	id := "async-hb-1"
	c := primStartChild(t, "async-heartbeat", s, "1", "async-hb")
	killed := primKillWhen(t, c, func(l string) bool { return strings.HasPrefix(l, "beat ") })
	require.True(t, killed, c.Report())

	ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
	defer cancel()
	d := newAsyncHeartbeatDefs(primEnv{counter: s.counter, gen: "final"})
	eng, closeEng := primOpen(t, s, nil, d.all()...)
	out, err := primResult(t, ctx, eng, s, d.wf, id)
	require.NoError(t, err)
	require.Equal(t, "resumed at 7", out, "the attempt after the crash sees the details of the last heartbeat")
	closeEng()
	lines, err := testutil.ReadLines(s.counter)
	require.NoError(t, err)
	require.Equal(t, []string{"1 " + id + " async-progress", "final " + id + " async-progress"}, lines)
}

var asyncStop = workflow.NewSignal[string]("stop")

// newAsyncWaitCancelDefs: the workflow runs async-cleanup with
// WaitForCancellation, cancels it when signaled, and returns whether its
// future failed as canceled. In the child, the activity's cleanup never
// ends (the process dies during it); in the final process, a new attempt
// returns "ran again".
func newAsyncWaitCancelDefs(env primEnv, running chan<- struct{}) asyncCrashDefs {
	var d asyncCrashDefs
	d.act = primActivity(env, "async-cleanup", func(ctx context.Context, info activity.Info, _ string) error {
		if env.say == nil {
			return nil
		}
		running <- struct{}{}
		<-ctx.Done()
		env.report("cleanup %s", info.IdempotencyKey)
		select {} // a cleanup that the crash cuts short
	}, func(string) string { return "ran again" }).WithOptions(activity.Options{WaitForCancellation: true})
	act := d.act
	d.wf = workflow.New("async-waitcancel-wf", func(ctx workflow.Context, in string) (string, error) {
		sub, cancel := workflow.WithCancel(ctx)
		f := workflow.ExecuteActivity(sub, act, in)
		workflow.GetSignalChannel(ctx, asyncStop).Receive(ctx)
		cancel()
		out, err := f.Get(ctx)
		if errors.Is(err, workflow.ErrCanceled) {
			return "canceled", nil
		}
		return out, err
	})
	return d
}

func asyncWaitCancelChild() {
	p := newPrimProc()
	eng := p.openWatched()
	running := make(chan struct{}, 1)
	d := newAsyncWaitCancelDefs(p.env, running)
	p.register(eng, d.all()...)
	id := p.prefix + "-1"
	if _, err := chorus.Start(p.ctx, eng, d.wf, "in", &chorus.StartOptions{ID: id}); err != nil {
		p.Fail("start %s: %v", id, err)
	}
	<-running
	if err := chorus.Signal(p.ctx, eng, id, asyncStop, "now"); err != nil {
		p.Fail("signal %s: %v", id, err)
	}
	p.awaitKill()
}

// TestWaitForCancellationCrash kills the process while the workflow waits
// for a canceled activity's cleanup; after the reopen the activity is not
// run again (its cancellation was journaled), and the workflow's future
// fails as canceled.
func TestWaitForCancellationCrash(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	id := "async-wc-1"
	c := primStartChild(t, "async-waitcancel", s, "1", "async-wc")
	var marked, cleanup bool
	killed := primKillWhen(t, c, func(l string) bool {
		switch {
		case strings.HasPrefix(l, "canceled "):
			marked = true
		case strings.HasPrefix(l, "cleanup "):
			cleanup = true
		}
		return marked && cleanup
	})
	require.True(t, killed, c.Report())

	ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
	defer cancel()
	d := newAsyncWaitCancelDefs(primEnv{counter: s.counter, gen: "final"}, nil)
	eng, closeEng := primOpen(t, s, nil, d.all()...)
	out, err := primResult(t, ctx, eng, s, d.wf, id)
	require.NoError(t, err)
	require.Equal(t, "canceled", out)
	closeEng()
	require.Equal(t, map[string]int{"1": 1}, crashCountExecs(s.execs(t), id, "async-cleanup"), s.counterText(t))
}
