package chorus_test

// Shutdown and leases: Close with a thousand activities in flight loses
// nothing and fails nothing; an activity that heartbeats is not dispatched
// twice however long it runs, and is dispatched again once its process
// dies.
//
//	go test -race -run 'TestReliabilityClose|TestReliabilityHeartbeat' -v .

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

// closeDefs is a workflow that runs a blocking activity, then a second
// one; block decides what the first does in this process.
func closeDefs(block func(ctx context.Context, id string) (string, error), execs *sync.Map) (*workflow.Definition[string, string], []chorus.Definition) {
	first := activity.New("close-first", func(ctx context.Context, id string) (string, error) {
		n, _ := execs.LoadOrStore(id, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return block(ctx, id)
	})
	second := activity.New("close-second", func(ctx context.Context, s string) (string, error) { return s + "|second", nil })
	wf := workflow.New("close-wf", func(ctx workflow.Context, id string) (string, error) {
		v, err := workflow.ExecuteActivity(ctx, first, id).Get(ctx)
		if err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, second, v).Get(ctx)
	})
	return wf, []chorus.Definition{wf, first, second}
}

// TestReliabilityCloseInFlight closes an engine while 1,000 runs wait in
// their first activity (256 attempts running and blocked, the rest
// queued). Close returns once its context ends, nothing is recorded as
// failed or canceled, no attempt count moves, and after a reopen every run
// resumes and completes.
func TestReliabilityCloseInFlight(t *testing.T) {
	t.Parallel()
	const n = 1000
	// A failure guard, not a measure: 1,000 runs through two engines under
	// the race detector on a loaded 2-core machine can take longer than
	// testTimeout.
	ctx, cancelAll := context.WithTimeout(context.Background(), 3*testTimeout)
	defer cancelAll()
	path := filepath.Join(t.TempDir(), "close.db")
	var execs1 sync.Map
	var running atomic.Int32
	full := make(chan struct{})
	var fullOnce sync.Once
	wf, defs := closeDefs(func(ctx context.Context, id string) (string, error) {
		if running.Add(1) == chorus.DefaultMaxConcurrentActivities {
			fullOnce.Do(func() { close(full) })
		}
		<-ctx.Done() // until Close gives up waiting
		return "", ctx.Err()
	}, &execs1)
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: defs, Synchronous: sqlite.SynchronousNormal})
	require.NoError(t, err)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			_, err := chorus.Start(ctx, eng, wf, fmt.Sprintf("c-%04d", i), &chorus.StartOptions{ID: fmt.Sprintf("c-%04d", i)})
			return err
		})
	}
	require.NoError(t, g.Wait())
	select {
	case <-full: // every worker holds a blocked attempt
	case <-ctx.Done():
		t.Fatalf("only %d attempts began", running.Load())
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	start := time.Now()
	require.NoError(t, eng.Close(cctx))
	cancel()
	t.Logf("Close with %d runs in flight (%d attempts running) took %v", n, running.Load(), time.Since(start).Round(time.Millisecond))

	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	infos, err := st.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, infos, n)
	for _, info := range infos {
		require.Equal(t, history.StatusRunning, info.Status, "run %s after Close", info.ID)
		evs, err := st.Events(ctx, info.ID, 0)
		require.NoError(t, err)
		require.Len(t, evs, 2, "run %s: RunStarted and ActivityScheduled, nothing else: %v", info.ID, evs)
	}
	tasks, err := st.Tasks(ctx)
	require.NoError(t, err)
	require.Len(t, tasks, n)
	for _, k := range tasks {
		require.Equal(t, 1, k.Attempt, "the interrupted attempt of %s step %d is not counted", k.RunID, k.Step)
	}
	require.NoError(t, st.Close())

	var execs2 sync.Map
	_, defs2 := closeDefs(func(ctx context.Context, id string) (string, error) { return id + "|first", nil }, &execs2)
	eng2 := openEngine(t, path, &chorus.Options{Definitions: defs2, Synchronous: sqlite.SynchronousNormal})
	for i := range n {
		id := fmt.Sprintf("c-%04d", i)
		run, err := chorus.Lookup(ctx, eng2, wf, id)
		require.NoError(t, err)
		out, err := run.Result(ctx)
		require.NoError(t, err, "run %s after the reopen", id)
		require.Equal(t, id+"|first|second", out)
		v, ok := execs2.Load(id)
		require.True(t, ok, "run %s: the first activity ran again", id)
		require.EqualValues(t, 1, v.(*atomic.Int32).Load(), "run %s", id)
	}
	for _, status := range []chorus.RunStatus{chorus.StatusFailed, chorus.StatusCanceled, chorus.StatusBlocked} {
		l, err := eng2.List(ctx, &chorus.ListOptions{Status: status})
		require.NoError(t, err)
		require.Empty(t, l, "runs %v after the reopen", status)
	}
}

// TestReliabilityHeartbeatNotRedispatched runs an activity whose
// heartbeat timeout is 100 ms for 300 ms of the engine's (mock) clock,
// heartbeating every 10 ms: it is dispatched once, as attempt 1, and its
// result is recorded once.
func TestReliabilityHeartbeatNotRedispatched(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	var execs atomic.Int32
	long := activity.New("hb-long", func(ctx context.Context, n int) (int, error) {
		execs.Add(1)
		if a := activity.GetInfo(ctx).Attempt; a != 1 {
			return 0, fmt.Errorf("attempt %d", a)
		}
		for i := range n {
			activity.Heartbeat(ctx, i)
			mock.Add(10 * time.Millisecond)
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
		}
		return n, nil
	}).WithOptions(activity.Options{HeartbeatTimeout: 100 * time.Millisecond,
		RetryPolicy: &activity.RetryPolicy{InitialInterval: time.Millisecond, MaximumAttempts: 5}})
	wf := workflow.New("hb-wf", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, long, n).Get(ctx)
	})
	eng, path := setup(t, &chorus.Options{Clock: mock}, wf, long)
	start := mock.Now()
	run, err := chorus.Start(ctx, eng, wf, 30, &chorus.StartOptions{ID: "hb"})
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 30, out)
	require.EqualValues(t, 1, execs.Load(), "dispatches of an activity that kept heartbeating")
	require.GreaterOrEqual(t, mock.Now().Sub(start), 300*time.Millisecond, "it ran 3x its heartbeat timeout")
	closeEngine(t, eng)
	j := readCrashJournal(t, path)
	var completed, failed int
	for _, ev := range j["hb"].events {
		switch ev.Type {
		case history.EventActivityCompleted:
			completed++
		case history.EventActivityFailed:
			failed++
		}
	}
	require.Equal(t, 1, completed)
	require.Zero(t, failed)
}

// How the parent configures a "reliab-heartbeat" child.
const (
	envHBDB      = "CHORUS_HB_DB"
	envHBCounter = "CHORUS_HB_COUNTER"
)

func init() {
	childModes["reliab-heartbeat"] = heartbeatChild
}

// heartbeatDefs returns the lease test's workflow and its activity, which
// counts each execution in the counter file and then does what body says.
func heartbeatDefs(counter, gen string, body func(ctx context.Context) (string, error)) (*workflow.Definition[string, string], []chorus.Definition) {
	lease := activity.New("hb-lease", func(ctx context.Context, in string) (string, error) {
		info := activity.GetInfo(ctx)
		if err := testutil.AppendLine(counter, fmt.Sprintf("%s %d", gen, info.Attempt)); err != nil {
			return "", activity.NonRetryable(err)
		}
		return body(ctx)
	}).WithOptions(activity.Options{HeartbeatTimeout: 400 * time.Millisecond})
	wf := workflow.New("hb-lease-wf", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, lease, in).Get(ctx)
	})
	return wf, []chorus.Definition{wf, lease}
}

// heartbeatChild starts run "lease", whose activity heartbeats every 10 ms
// until the process dies; it says "beating" once the activity has
// heartbeated for three of its heartbeat timeouts.
func heartbeatChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "heartbeat child:", err)
		os.Exit(3)
	}
	var once sync.Once
	wf, defs := heartbeatDefs(os.Getenv(envHBCounter), "child", func(ctx context.Context) (string, error) {
		began := time.Now()
		for {
			activity.Heartbeat(ctx, nil)
			if time.Since(began) > 1250*time.Millisecond {
				once.Do(func() { fmt.Println("beating") })
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(10 * time.Millisecond): // the activity's work: beat every 10 ms
			}
		}
	})
	ctx := context.Background()
	eng, err := chorus.Open(ctx, os.Getenv(envHBDB), &chorus.Options{Definitions: defs})
	if err != nil {
		fail(err)
	}
	run, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "lease"})
	if err != nil {
		fail(err)
	}
	_, err = run.Result(ctx)
	fail(fmt.Errorf("the activity ended: %v", err))
}

// TestReliabilityHeartbeatLease: in a child process, an activity with a
// 400 ms heartbeat timeout heartbeats every 10 ms for over 1.25 s
// (dispatched once);
// the child is SIGKILLed; after a reopen the activity is dispatched again,
// as attempt 1, and completes.
func TestReliabilityHeartbeatLease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, counter := filepath.Join(dir, "lease.db"), filepath.Join(dir, "executions.txt")
	c := testutil.StartChild(t, "reliab-heartbeat", envHBDB+"="+db, envHBCounter+"="+counter)
	line, ok := c.Next(time.Now().Add(20 * time.Second))
	require.True(t, ok, "the child ended early\n%s", c.Report())
	require.Equal(t, "beating", line)
	require.True(t, c.Kill(), "the child ended by SIGKILL\n%s", c.Report())
	lines, err := testutil.ReadLines(counter)
	require.NoError(t, err)
	require.Equal(t, []string{"child 1"}, lines, "one dispatch while it heartbeated for 3x its timeout")

	ctx := testContext(t)
	wf, defs := heartbeatDefs(counter, "parent", func(ctx context.Context) (string, error) { return "done", nil })
	eng := openEngine(t, db, &chorus.Options{Definitions: defs})
	run, err := chorus.Lookup(ctx, eng, wf, "lease")
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "done", out)
	lines, err = testutil.ReadLines(counter)
	require.NoError(t, err)
	require.Equal(t, []string{"child 1", "parent 1"}, lines, "dispatched again after the process died, as attempt 1 (nothing recorded a failure)")
	info, err := eng.Describe(ctx, "lease")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCompleted, info.Status)
	h, err := chorus.History(ctx, eng, "lease")
	require.NoError(t, err)
	var types []string
	for _, ev := range h.Events {
		types = append(types, ev.Type.String())
	}
	require.Equal(t, "RunStarted ActivityScheduled ActivityCompleted RunCompleted", strings.Join(types, " "))
}
