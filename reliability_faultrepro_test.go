package chorus_test

// Minimal reproductions of the engine bugs that the fault-injection and
// kill-loop tests found, one fault each, aimed with faultstore's Only and
// MaxFaults or a small store wrapper. Each says what it expects and what
// the engine did; see RELIABILITY.md ("Bugs found") for the B numbers.
// Those marked fixed are regression tests now.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/faultstore"
	"github.com/chorusdev/chorus/internal/torture"
	"github.com/chorusdev/chorus/workflow"
)

// reproWait is how long a repro waits for a run that should end in
// milliseconds.
const reproWait = 2 * time.Second

// reproEngine opens an engine with the workload (and extra definitions) on
// a faulty in-memory store whose faults start disabled.
func reproEngine(t *testing.T, rates faultstore.Rates, hooks torture.Hooks, extra ...chorus.Definition) (*chorus.Engine, *faultstore.Store, *sqlite.Store, *torture.Workload) {
	t.Helper()
	inner, err := sqlite.Open(context.Background(), ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	fs := faultstore.Wrap(keepOpen{inner}, 1, rates)
	fs.Disable()
	w := torture.New(hooks)
	eng, err := chorus.OpenStore(context.Background(), fs, &chorus.Options{Definitions: append(w.Definitions(), extra...)})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	return eng, fs, inner, w
}

// reproResult waits reproWait for run's result; on a timeout it reports
// the run's journal and whether a new engine on the same journal, without
// faults, finishes it.
func reproResult(t *testing.T, eng *chorus.Engine, inner *sqlite.Store, w *torture.Workload, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), reproWait)
	defer cancel()
	run, err := w.Start(ctx, eng, id)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	if ctx.Err() == nil {
		info, rerr := inner.Run(context.Background(), id)
		require.NoError(t, rerr)
		require.NoError(t, torture.CheckOutcome(info), "Result returned %v", err)
		return
	}
	info, _ := inner.Run(context.Background(), id)
	evs, _ := inner.Events(context.Background(), id, 0)
	all, _ := inner.Tasks(context.Background())
	var tasks []string
	for _, k := range all {
		tasks = append(tasks, fmt.Sprintf("%s step %d %v %s", k.RunID, k.Step, k.Kind, k.Name))
	}
	closeEngine(t, eng)
	eng2, err := chorus.OpenStore(context.Background(), keepOpen{inner}, &chorus.Options{Definitions: w.Definitions()})
	require.NoError(t, err)
	defer closeEngine(t, eng2)
	ctx2, cancel2 := context.WithTimeout(context.Background(), reproWait)
	defer cancel2()
	run2, err := w.Start(ctx2, eng2, id)
	require.NoError(t, err)
	_, err2 := run2.Result(ctx2)
	after, _ := inner.Run(context.Background(), id)
	t.Errorf("run %s did not end within %v: the row says %s, the journal holds %d events %v, pending tasks %v;\n"+
		"after a reopen on the same journal, without faults: %s (Result: %v)",
		id, reproWait, torture.Describe(info), len(evs), evs, tasks, torture.Describe(after), err2)
}

// TestFaultReproChildStartNotRetried (B1, fixed in 726b885): the commit
// that creates a child run fails once, before writing anything (the store
// says so). Expected: the start-child task is retried and the parent
// completes. Was: the task's completion callback (startChild's in.after)
// only logged "start child" and returned, so the child was never started
// by this process and the parent waited until the next Open.
func TestFaultReproChildStartNotRetried(t *testing.T) {
	t.Parallel()
	parent := torture.RunID(4) // a KindChild run
	eng, fs, inner, w := reproEngine(t, faultstore.Rates{BatchError: 1, MaxFaults: 1,
		Only: func(id string) bool { return id == parent+"/2" }}, torture.Hooks{})
	fs.Enable()
	reproResult(t, eng, inner, w, parent)
	require.Equal(t, 1, fs.Stats().Total(), "one fault: %v", fs.Faults())
}

// TestFaultReproSignalExternalTransient (B2, fixed in 726b885): a workflow
// signals another run with workflow.SignalExternal, and the commit that
// records the signal in the target fails once, before writing. Expected:
// the delivery is retried; the sender sees success and the target gets the
// signal. Was: sendSignal's completion callback recorded the store's
// transient error as the delivery's outcome (a SignalDelivered with a
// failure), so the sender failed for good and the target never got the
// signal.
func TestFaultReproSignalExternalTransient(t *testing.T) {
	t.Parallel()
	target := torture.RunID(2) // a KindSignal run: it waits for the Go signal
	var w *torture.Workload
	sender := workflow.New("repro-sender", func(ctx workflow.Context, to string) (string, error) {
		_, err := workflow.SignalExternal(ctx, to, w.Go, torture.SignalValue(to)).Get(ctx)
		if err != nil {
			return "", err
		}
		return "sent", nil
	})
	eng, fs, inner, ww := reproEngine(t, faultstore.Rates{BatchError: 1, MaxFaults: 1,
		Only: func(id string) bool { return id == target }}, torture.Hooks{}, sender)
	w = ww
	ctx, cancel := context.WithTimeout(context.Background(), reproWait)
	defer cancel()
	_, err := w.Start(ctx, eng, target)
	require.NoError(t, err)
	fs.Enable()
	run, err := chorus.Start(ctx, eng, sender, target, &chorus.StartOptions{ID: "sender"})
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.Equal(t, 1, fs.Stats().Total(), "one fault: %v", fs.Faults())
	if err != nil {
		evs, _ := inner.Events(context.Background(), "sender", 0)
		var delivered history.Event
		for _, e := range evs {
			if e.Type == history.EventSignalDelivered {
				delivered = e
			}
		}
		t.Errorf("the sender failed because one commit of the target failed before writing: %v\n  its journal records %v %s", err, delivered, delivered.Payload)
		return
	}
	require.Equal(t, "sent", out)
	reproResult(t, eng, inner, w, target)
}

// TestFaultReproUnknownCommitStrandsStart (B4, fixed in 726b885): the
// commit of a new run lands, but the store reports an error (its outcome
// is unknown). Expected: the run, which exists with its first activity
// scheduled, runs (Start may return the error or not; a Start with
// AttachIfExists finds the run and its Result comes). Was: commitFailed
// threw the round away, including the tasks it added (in the journal but
// never dispatched), so the run waited until the next Open.
func TestFaultReproUnknownCommitStrandsStart(t *testing.T) {
	t.Parallel()
	id := torture.RunID(0) // a KindActs run
	eng, fs, inner, w := reproEngine(t, faultstore.Rates{CommitUnknown: 1, MaxFaults: 1}, torture.Hooks{})
	fs.Enable()
	_, err := w.Start(context.Background(), eng, id)
	if err != nil {
		require.ErrorIs(t, err, faultstore.ErrUnknownOutcome)
	}
	require.Equal(t, 1, fs.Stats().Total(), "one fault: %v", fs.Faults())
	reproResult(t, eng, inner, w, id)
}

// TestFaultReproUnknownCommitStrandsStep (B4, fixed in 726b885): the same
// after an activity completes: the commit of its outcome and of the next
// ActivityScheduled lands but reports an error. The engine redelivered the
// outcome 100 ms later, found the step answered in the journal and dropped
// it as stale; the next activity's task, committed, was never dispatched.
// Expected: the run completes.
func TestFaultReproUnknownCommitStrandsStep(t *testing.T) {
	t.Parallel()
	id := torture.RunID(0)
	var fs *faultstore.Store
	eng, fs, inner, w := reproEngine(t, faultstore.Rates{CommitUnknown: 1, MaxFaults: 1}, torture.Hooks{
		End: func(ctx context.Context, act string, info activity.Info) {
			if act == torture.ActA {
				fs.Enable()
			}
		},
	})
	reproResult(t, eng, inner, w, id)
	require.Equal(t, 1, fs.Stats().Total(), "one fault: %v", fs.Faults())
}

// spyStore calls onRun after every Run read.
type spyStore struct {
	history.Store
	onRun func(id string, info history.RunInfo)
}

func (s spyStore) Run(ctx context.Context, id string) (history.RunInfo, error) {
	info, err := s.Store.Run(ctx, id)
	if err == nil && s.onRun != nil {
		s.onRun(id, info)
	}
	return info, err
}

// TestFaultReproUnknownCommitLosesWaiter (B5, fixed in 726b885): a caller
// waits in Result; the commit that records the run's completion lands but
// reports an error. Expected: the waiter gets the result. Was: waiters are
// only told after a successful commit, and nothing told them later, so
// Result waited until its context ended, although the journal and a new
// Result call said the run completed.
func TestFaultReproUnknownCommitLosesWaiter(t *testing.T) {
	t.Parallel()
	id := torture.RunID(0)
	cBegan, release, waiting := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var waitOnce sync.Once
	var fs *faultstore.Store
	w := torture.New(torture.Hooks{Begin: func(ctx context.Context, act string, info activity.Info) error {
		if act == torture.ActC {
			close(cBegan)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}, End: func(ctx context.Context, act string, info activity.Info) {
		if act == torture.ActC {
			fs.Enable()
		}
	}})
	inner, err := sqlite.Open(context.Background(), ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	var cStarted atomic.Bool
	spy := spyStore{Store: keepOpen{inner}, onRun: func(rid string, info history.RunInfo) {
		if rid == id && info.Status == history.StatusRunning && cStarted.Load() {
			waitOnce.Do(func() { close(waiting) }) // Result read "running" after its Watch: it waits
		}
	}}
	fs = faultstore.Wrap(spy, 1, faultstore.Rates{CommitUnknown: 1, MaxFaults: 1})
	fs.Disable()
	eng, err := chorus.OpenStore(context.Background(), fs, &chorus.Options{Definitions: w.Definitions()})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	// Result may also know the run is running without reading the store.
	chorus.SetOnWatch(eng, func(rid string, running bool) {
		if rid == id && running && cStarted.Load() {
			waitOnce.Do(func() { close(waiting) })
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), reproWait)
	defer cancel()
	run, err := w.Start(ctx, eng, id)
	require.NoError(t, err)
	// Once the last activity runs, a Result call reads the run as running
	// and waits; then the activity returns and its commit is "unknown".
	select {
	case <-cBegan:
	case <-ctx.Done():
		t.Fatal("the last activity never began")
	}
	cStarted.Store(true)
	type res struct {
		out string
		err error
	}
	got := make(chan res, 1)
	go func() {
		out, err := run.Result(ctx)
		got <- res{out, err}
	}()
	select {
	case <-waiting:
	case <-ctx.Done():
		t.Fatal("Result never read the run as running")
	}
	close(release)
	r := <-got
	info, _ := inner.Run(context.Background(), id)
	if r.err != nil {
		fresh, ferr := run.Result(context.Background())
		t.Errorf("Result waited until its context ended (%v), although the run completed: the row says %s; a new Result call returns %q, %v; faults %v",
			r.err, torture.Describe(info), fresh, ferr, fs.Faults())
		return
	}
	require.NoError(t, torture.CheckOutcome(info))
}

// holdStore fails, while armed, every batch of one run that records a
// signal delivery, and says so on rejected (once).
type holdStore struct {
	history.Store
	run      string
	armed    atomic.Bool
	once     sync.Once
	rejected chan struct{}
}

func (s *holdStore) Commit(ctx context.Context, batches []*history.Batch) ([]error, error) {
	errs := make([]error, len(batches))
	pass := make([]*history.Batch, 0, len(batches))
	var idx []int
	for i, b := range batches {
		if s.armed.Load() && b.RunID == s.run && slices.ContainsFunc(b.Events, func(e history.Event) bool { return e.Type == history.EventSignalDelivered }) {
			errs[i] = fmt.Errorf("held: %w", faultstore.ErrInjected)
			s.once.Do(func() { close(s.rejected) })
			continue
		}
		pass = append(pass, b)
		idx = append(idx, i)
	}
	inner, err := s.Store.Commit(ctx, pass)
	for j, i := range idx {
		if err != nil {
			errs[i] = err
		} else if j < len(inner) {
			errs[i] = inner[j]
		}
	}
	return errs, err
}

// TestFaultReproSignalExternalDeliveredTwice (B3, fixed in 9d7f7c6): a
// workflow sends a signal with workflow.SignalExternal; the target records
// it, and the process stops before the sender records the delivery (here:
// the sender's commit fails until the engine is closed; in the kill loop:
// a SIGKILL). After the next Open the send-signal task is still pending, so
// the engine delivers the signal again. Expected: the target receives it
// once (the README: "none is lost or delivered twice"). Was: twice.
func TestFaultReproSignalExternalDeliveredTwice(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	sig := workflow.NewSignal[string]("repro-note")
	collect := workflow.New("repro-collect", func(ctx workflow.Context, _ string) ([]string, error) {
		var got []string
		ch := workflow.GetSignalChannel(ctx, sig)
		for {
			v, _ := ch.Receive(ctx)
			if v == "stop" {
				return got, nil
			}
			got = append(got, v)
		}
	})
	send := workflow.New("repro-send", func(ctx workflow.Context, to string) (string, error) {
		if _, err := workflow.SignalExternal(ctx, to, sig, "hello").Get(ctx); err != nil {
			return "", err
		}
		return "sent", nil
	})
	defs := []chorus.Definition{collect, send}
	inner, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	hold := &holdStore{Store: keepOpen{inner}, run: "sender", rejected: make(chan struct{})}
	hold.armed.Store(true)
	eng, err := chorus.OpenStore(ctx, hold, &chorus.Options{Definitions: defs})
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, collect, "", &chorus.StartOptions{ID: "target"})
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, send, "target", &chorus.StartOptions{ID: "sender"})
	require.NoError(t, err)
	select {
	case <-hold.rejected: // the target's commit of the signal came first
	case <-ctx.Done():
		t.Fatal("the sender never tried to record the delivery")
	}
	closeEngine(t, eng)

	hold.armed.Store(false)
	eng, err = chorus.OpenStore(ctx, keepOpen{inner}, &chorus.Options{Definitions: defs})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	sender, err := chorus.Lookup(ctx, eng, send, "sender")
	require.NoError(t, err)
	out, err := sender.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "sent", out)
	require.NoError(t, chorus.Signal(ctx, eng, "target", sig, "stop"))
	target, err := chorus.Lookup(ctx, eng, collect, "target")
	require.NoError(t, err)
	got, err := target.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"hello"}, got, "the signal sent once by SignalExternal, as the target received it")
}

// blindStore, once armed, commits the next batch of run that answers step
// and then reports an unknown outcome, and fails the next reads reads of
// that run's row; blind is closed once they are all served.
type blindStore struct {
	history.Store
	run        string
	step       int64
	armed      atomic.Bool
	reads      atomic.Int32
	blind      chan struct{}
	closeBlind sync.Once
}

func (s *blindStore) Commit(ctx context.Context, batches []*history.Batch) ([]error, error) {
	errs, err := s.Store.Commit(ctx, batches)
	for _, b := range batches {
		if b.RunID == s.run && s.armed.Load() && slices.ContainsFunc(b.Events, func(e history.Event) bool { return e.Ref == s.step }) {
			s.armed.Store(false)
			return nil, fmt.Errorf("blind: %w", faultstore.ErrUnknownOutcome)
		}
	}
	return errs, err
}

func (s *blindStore) Run(ctx context.Context, id string) (history.RunInfo, error) {
	if id == s.run && s.reads.Load() > 0 {
		if s.reads.Add(-1) == 0 {
			defer s.closeBlind.Do(func() { close(s.blind) })
		}
		return history.RunInfo{}, fmt.Errorf("blind read: %w", faultstore.ErrInjected)
	}
	return s.Store.Run(ctx, id)
}

// TestFaultReproUnknownCommitUnreadable (B7, fixed in 0b10cbd): the commit
// of an activity's outcome (with the next ActivityScheduled) lands but
// reports an unknown outcome, and the store then fails the reads the engine
// makes to find out (Run, four times). Expected: the run completes. Was:
// Run.landed gave up after four failed reads and answered "not landed";
// commitFailed threw the round away and redelivered the outcome 100 ms
// later; the run was rebuilt from the journal, where the step was already
// answered, so the outcome was dropped as stale and the next activity's
// task, committed, was never dispatched (with the run's final commit
// instead, a caller waiting in Result was never answered). Found by
// TestFaultStore/mixed (seed 2000259, one seed in 1,000).
func TestFaultReproUnknownCommitUnreadable(t *testing.T) {
	t.Parallel()
	id := torture.RunID(0) // a KindActs run: its first activity is step 2
	inner, err := sqlite.Open(context.Background(), ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	st := &blindStore{Store: keepOpen{inner}, run: id, step: 2, blind: make(chan struct{})}
	w := torture.New(torture.Hooks{End: func(ctx context.Context, act string, info activity.Info) {
		if act == torture.ActA {
			st.reads.Store(4)
			st.armed.Store(true)
		}
	}})
	eng, err := chorus.OpenStore(context.Background(), st, &chorus.Options{Definitions: w.Definitions()})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	ctx, cancel := context.WithTimeout(context.Background(), reproWait)
	defer cancel()
	_, err = w.Start(ctx, eng, id)
	require.NoError(t, err)
	select {
	case <-st.blind: // the engine tried four times to read the run back
	case <-ctx.Done():
		t.Fatal("the engine never read the run back")
	}
	reproResult(t, eng, inner, w, id)
}

// TestFaultReproResyncRedispatchesRunning (B8, open, since 0b10cbd): a run
// has two activities in flight, a slow one and a fast one. The commit of
// the fast one's outcome lands but reports an unknown outcome, and the
// engine's four reads to check fail (as in B7). Expected: the slow
// activity, still running, is not started again (an activity runs at most
// once per process unless an attempt fails). Seen: 100 ms later
// Engine.resync reads every pending task of the run from the store and
// runs it (runTask), which dispatches the slow activity a second time
// while its first attempt still runs: two executions at once, in one
// process. resync relies on "every kind tolerates running twice", but the
// activity pool does not skip a step it is already running (or has
// queued).
func TestFaultReproResyncRedispatchesRunning(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var slowRuns atomic.Int32
	release, dup := make(chan struct{}), make(chan struct{})
	var st *blindStore
	fast := activity.New("repro-fast", func(ctx context.Context, s string) (string, error) {
		st.reads.Store(4)
		st.armed.Store(true)
		return s + "|fast", nil
	})
	slow := activity.New("repro-slow", func(ctx context.Context, s string) (string, error) {
		if slowRuns.Add(1) == 2 {
			close(dup)
		}
		select {
		case <-release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return s + "|slow", nil
	})
	wf := workflow.New("repro-par", func(ctx workflow.Context, s string) (string, error) {
		fs := workflow.ExecuteActivity(ctx, slow, s) // step 2
		ff := workflow.ExecuteActivity(ctx, fast, s) // step 3
		a, err := ff.Get(ctx)
		if err != nil {
			return "", err
		}
		b, err := fs.Get(ctx)
		return a + " " + b, err
	})
	inner, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	st = &blindStore{Store: keepOpen{inner}, run: "par", step: 3, blind: make(chan struct{})}
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: []chorus.Definition{wf, fast, slow}})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "par"})
	require.NoError(t, err)
	select {
	case <-st.blind: // the engine could not read the run back
	case <-ctx.Done():
		t.Fatal("the engine never read the run back")
	}
	select {
	case <-dup:
		t.Errorf("the slow activity was dispatched again while its first attempt was running")
	case <-time.After(reproWait): // no second dispatch
	}
	close(release)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "x|fast x|slow", out)
	require.EqualValues(t, 1, slowRuns.Load(), "executions of the slow activity")
}

// lostStore, once armed, drops the next batch of run that answers step
// (writes nothing) and reports that the commit's outcome is unknown; it
// then holds that run's next commit until the engine has read the pending
// tasks (or a second passes).
type lostStore struct {
	history.Store
	run       string
	step      int64
	armed     atomic.Bool
	holding   atomic.Bool
	tasksRead chan struct{}
	once      sync.Once
}

func (s *lostStore) Commit(ctx context.Context, batches []*history.Batch) ([]error, error) {
	for i, b := range batches {
		if b.RunID != s.run {
			continue
		}
		if s.armed.Load() && slices.ContainsFunc(b.Events, func(e history.Event) bool { return e.Ref == s.step }) {
			s.armed.Store(false)
			s.holding.Store(true)
			rest := slices.Delete(slices.Clone(batches), i, i+1)
			if len(rest) > 0 {
				if _, err := s.Store.Commit(ctx, rest); err != nil {
					return nil, err
				}
			}
			return nil, fmt.Errorf("lost: %w", faultstore.ErrUnknownOutcome)
		}
		if s.holding.Swap(false) {
			select {
			case <-s.tasksRead:
			case <-time.After(time.Second):
			}
		}
	}
	return s.Store.Commit(ctx, batches)
}

func (s *lostStore) Tasks(ctx context.Context) ([]history.Task, error) {
	ts, err := s.Store.Tasks(ctx)
	if s.holding.Load() {
		s.once.Do(func() { close(s.tasksRead) })
	}
	return ts, err
}

// TestFaultReproUnknownCommitRedispatchesActivity (B8, open, since
// 0b10cbd; found by the kill loop with store faults): the commit of an
// activity's outcome reports an unknown outcome and did not land (a store
// cannot tell; here the batch is dropped). Expected: the engine records the
// outcome it already has (it redelivers it 100 ms later) and does not run
// the activity again: an activity runs once per process unless an attempt
// fails. Seen: commitFailed also schedules Engine.resync, which reads the
// run's pending tasks from the store 100 ms later (here, before the
// redelivered outcome is committed); the activity's task is still there,
// so resync dispatches the activity a second time. The redelivered outcome
// is recorded, and the second execution's outcome is dropped as stale.
func TestFaultReproUnknownCommitRedispatchesActivity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	id := torture.RunID(0) // a KindActs run: its first activity is step 2
	inner, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	st := &lostStore{Store: keepOpen{inner}, run: id, step: 2, tasksRead: make(chan struct{})}
	var mu sync.Mutex
	execs := map[int64]int{}
	w := torture.New(torture.Hooks{Begin: func(ctx context.Context, act string, info activity.Info) error {
		mu.Lock()
		execs[info.Step]++
		mu.Unlock()
		if act == torture.ActA {
			st.armed.Store(true)
		}
		return nil
	}})
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: w.Definitions()})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	run, err := w.Start(ctx, eng, id)
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.NoError(t, torture.CheckOutcome(history.RunInfo{ID: id, Status: history.StatusCompleted, Result: []byte(strconv.Quote(out))}))
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[int64]int{2: 1, 4: 1, 6: 1}, execs, "executions of each activity step, in one process")
}
