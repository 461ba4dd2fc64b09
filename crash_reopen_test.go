package chorus_test

// Tests of reopening a database after Close, and of registration racing the
// work recovered from the journal; the crash workflow and its helpers are in
// crash_test.go.

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// TestReopenAfterCloseInterruptsActivity closes an engine, with a short
// deadline, while the second activity of 5 runs blocks. Close interrupts
// those attempts without recording them as failed; after reopening, every
// run completes and the interrupted activity runs again.
func TestReopenAfterCloseInterruptsActivity(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const n = 5
	ids := crashRunIDs("close", n)
	ctx, cancel := context.WithTimeout(context.Background(), crashDeadline)
	defer cancel()

	blocked := make(chan string, n)
	defs := newCrashDefs(crashEnv{counter: s.counter, gen: "1", hook: func(ctx context.Context, act string, info activity.Info) error {
		if act != "crash-b" {
			return nil
		}
		blocked <- info.RunID
		<-ctx.Done()
		return ctx.Err()
	}})
	eng, err := chorus.Open(ctx, s.db, nil)
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed {
			_ = eng.Close(context.Background())
		}
	}()
	require.NoError(t, eng.Register(defs.all()...))
	runs := make([]*chorus.Run[string], n)
	for i, id := range ids {
		runs[i], err = chorus.Start(ctx, eng, defs.wf, id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	resultErr := make(chan error, 1)
	go func() {
		_, err := runs[0].Result(ctx)
		resultErr <- err
	}()
	for range n {
		select {
		case <-blocked:
		case <-ctx.Done():
			t.Fatalf("crash-b did not begin for every run\n%s", s.counterText(t))
		}
	}

	cctx, ccancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer ccancel()
	t0 := time.Now()
	require.NoError(t, eng.Close(cctx))
	closed = true
	t.Logf("Close took %v", time.Since(t0))
	select {
	case err := <-resultErr:
		// ErrEngineClosed when Result was waiting; the store's closed error
		// if it only began after Close.
		require.Error(t, err)
		t.Logf("Result during Close: %v", err)
	case <-ctx.Done():
		t.Fatal("Result did not return after Close")
	}

	snap := readCrashJournal(t, s.db)
	for _, id := range ids {
		rj := snap[id]
		require.Equal(t, history.StatusRunning, rj.info.Status, "run %s: %v", id, rj)
		require.True(t, rj.completed("crash-a"), "run %s: %v", id, rj)
		require.False(t, rj.completed("crash-b"), "run %s: %v", id, rj)
	}

	s.finish(t, "2", ids, false, func(ctx context.Context, eng *chorus.Engine) {
		for _, id := range ids {
			info, err := eng.Describe(ctx, id)
			require.NoError(t, err)
			require.Equal(t, chorus.StatusCompleted, info.Status, "run %s: %+v", id, info)
			require.NoError(t, info.Err, "run %s", id)
		}
		failed, err := eng.List(ctx, &chorus.ListOptions{Status: chorus.StatusFailed})
		require.NoError(t, err)
		require.Empty(t, failed)
	})
	recs := s.checkCrashInvariants(t, []crashGen{{"1", snap}, {"2", readCrashJournal(t, s.db)}}, ids)
	for _, id := range ids {
		require.Equal(t, map[string]int{"1": 1}, crashCountExecs(recs, id, "crash-a"), "run %s\n%s", id, s.counterText(t))
		require.Equal(t, map[string]int{"1": 1, "2": 1}, crashCountExecs(recs, id, "crash-b"), "run %s\n%s", id, s.counterText(t))
		require.Equal(t, map[string]int{"2": 1}, crashCountExecs(recs, id, "crash-c"), "run %s\n%s", id, s.counterText(t))
	}
}

// TestReopenAfterCloseKeepsActivityFinishedInGrace closes an engine with a
// generous deadline while the second activity of 3 runs is executing, and
// lets those attempts return while Close waits: their results are recorded,
// so after reopening they do not run again.
func TestReopenAfterCloseKeepsActivityFinishedInGrace(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const n = 3
	ids := crashRunIDs("grace", n)
	ctx, cancel := context.WithTimeout(context.Background(), crashDeadline)
	defer cancel()

	began, release := make(chan string, n), make(chan struct{})
	defs := newCrashDefs(crashEnv{counter: s.counter, gen: "1", hook: func(ctx context.Context, act string, info activity.Info) error {
		if act == "crash-b" {
			began <- info.RunID
			<-release // deliberately deaf to ctx: the grace period is what lets it finish
		}
		return nil
	}})
	eng, err := chorus.Open(ctx, s.db, nil)
	require.NoError(t, err)
	require.NoError(t, eng.Register(defs.all()...))
	for _, id := range ids {
		_, err := chorus.Start(ctx, eng, defs.wf, id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	for range n {
		select {
		case <-began:
		case <-ctx.Done():
			close(release)
			_ = eng.Close(context.Background())
			t.Fatalf("crash-b did not begin for every run\n%s", s.counterText(t))
		}
	}
	closeErr := make(chan error, 1)
	go func() { closeErr <- eng.Close(ctx) }()
	// Let Close begin waiting before the attempts return. (Should they
	// return first, the expectations below hold all the same.)
	time.AfterFunc(50*time.Millisecond, func() { close(release) })
	require.NoError(t, <-closeErr)

	snap := readCrashJournal(t, s.db)
	for _, id := range ids {
		require.True(t, snap[id].completed("crash-b"), "run %s: crash-b returned during Close but is not recorded: %v", id, snap[id])
	}

	s.finish(t, "2", ids, false, nil)
	recs := s.checkCrashInvariants(t, []crashGen{{"1", snap}, {"2", readCrashJournal(t, s.db)}}, ids)
	for _, id := range ids {
		require.Equal(t, map[string]int{"1": 1}, crashCountExecs(recs, id, "crash-a"), "run %s\n%s", id, s.counterText(t))
		require.Equal(t, map[string]int{"1": 1}, crashCountExecs(recs, id, "crash-b"), "run %s\n%s", id, s.counterText(t))
		require.Equal(t, map[string]int{"2": 1}, crashCountExecs(recs, id, "crash-c"), "run %s\n%s", id, s.counterText(t))
	}
}

// crashBlockingLogger returns a logger whose first record with a message
// containing substr closes hit and then blocks the logging goroutine until
// release is called (or a safety timeout passes). Tests use it to hold the
// engine inside a code path that logs, at a known point.
func crashBlockingLogger(substr string) (logger *slog.Logger, hit <-chan struct{}, release func()) {
	h := &crashBlockingHandler{substr: substr, hit: make(chan struct{}), release: make(chan struct{})}
	var once sync.Once
	return slog.New(h), h.hit, func() { once.Do(func() { close(h.release) }) }
}

type crashBlockingHandler struct {
	substr  string
	once    sync.Once
	hit     chan struct{}
	release chan struct{}
}

func (h *crashBlockingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *crashBlockingHandler) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, h.substr) {
		return nil
	}
	first := false
	h.once.Do(func() { first = true; close(h.hit) })
	if first {
		select {
		case <-h.release:
		case <-time.After(crashDeadline):
		}
	}
	return nil
}

func (h *crashBlockingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *crashBlockingHandler) WithGroup(string) slog.Handler      { return h }

// crashRegisterDuringLog calls eng.Register(defs...) while the engine is held in
// the log call that hit announced, then lets the engine go on. If the
// engine never logs (a later version may not), or Register waits for the
// held goroutine, it goes on after a bounded wait: the test then still
// checks the outcome, without forcing the interleaving.
func crashRegisterDuringLog(t *testing.T, eng *chorus.Engine, hit <-chan struct{}, release func(), defs ...chorus.Definition) {
	t.Helper()
	defer release()
	select {
	case <-hit:
	case <-time.After(2 * time.Second):
		t.Log("the engine did not log the expected message; the interleaving is not forced")
	}
	done := make(chan error, 1)
	go func() { done <- eng.Register(defs...) }()
	select {
	case err := <-done:
		require.NoError(t, err)
		return
	case <-time.After(time.Second):
		t.Log("Register waits for the goroutine held in the logger; releasing it")
	}
	release()
	require.NoError(t, <-done)
}

// TestReopenRegisterRacesRecoveredActivityTask reopens a database holding a
// pending activity task and registers the definitions while the engine's
// worker, which found the activity unregistered, is held in the log call
// that reports it. Registration must not lose the task: the run must
// finish. (Before commit 5777600 the worker logged before parking the task,
// so this interleaving parked it after Register had released the parked
// tasks, and the run hung; this test reproduced that every time.)
func TestReopenRegisterRacesRecoveredActivityTask(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const id = "race-act"
	ctx, cancel := context.WithTimeout(context.Background(), crashDeadline)
	defer cancel()

	// Generation 1 leaves crash-a pending: Close interrupts it.
	began := make(chan struct{}, 1)
	defs := newCrashDefs(crashEnv{counter: s.counter, gen: "1", hook: func(ctx context.Context, act string, _ activity.Info) error {
		began <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}})
	eng, err := chorus.Open(ctx, s.db, nil)
	require.NoError(t, err)
	require.NoError(t, eng.Register(defs.all()...))
	_, err = chorus.Start(ctx, eng, defs.wf, id, &chorus.StartOptions{ID: id})
	require.NoError(t, err)
	<-began
	cctx, ccancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer ccancel()
	require.NoError(t, eng.Close(cctx))

	logger, hit, release := crashBlockingLogger("activity not registered")
	defer release()
	eng, err = chorus.Open(ctx, s.db, &chorus.Options{Logger: logger})
	require.NoError(t, err)
	defer func() { _ = eng.Close(context.Background()) }()
	defs = newCrashDefs(crashEnv{counter: s.counter, gen: "2"})
	crashRegisterDuringLog(t, eng, hit, release, defs.all()...)

	run, err := chorus.Lookup(ctx, eng, defs.wf, id)
	require.NoError(t, err)
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	out, err := run.Result(rctx)
	info, _ := eng.Describe(ctx, id)
	require.NoError(t, err, "the recovered crash-a task never ran after Register (run: %+v)\nexecutions:\n%s", info, s.counterText(t))
	require.Equal(t, crashResult(id), out)
}

// TestReopenRegisterRacesParkedWorkflowInput reopens a database holding a
// blocked run (its old workflow code panicked) and registers fixed code
// while the engine, which found the workflow unregistered, is held in the
// log call that reports it. Registration must not lose the run's resume
// input: the run must resume and finish. (Before commit 5777600 the input
// was parked after that log call, so this interleaving parked it after
// Register had released the parked inputs, and the run stayed blocked; this
// test reproduced that every time.)
func TestReopenRegisterRacesParkedWorkflowInput(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const id = "race-wf"
	ctx, cancel := context.WithTimeout(context.Background(), crashDeadline)
	defer cancel()

	// Generation 1: code that panics after crash-a blocks the run.
	defs := newCrashDefs(crashEnv{counter: s.counter, gen: "1"})
	broken := workflow.New(crashWorkflowName, func(ctx workflow.Context, in string) (string, error) {
		if _, err := workflow.ExecuteActivity(ctx, defs.acts[0], in).Get(ctx); err != nil {
			return "", err
		}
		panic("crash test: this version of the workflow is broken after crash-a")
	})
	eng, err := chorus.Open(ctx, s.db, nil)
	require.NoError(t, err)
	require.NoError(t, eng.Register(broken, defs.acts[0], defs.acts[1], defs.acts[2]))
	run, err := chorus.Start(ctx, eng, broken, id, &chorus.StartOptions{ID: id})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
	require.NoError(t, eng.Close(ctx))

	logger, hit, release := crashBlockingLogger("workflow is not registered")
	defer release()
	eng, err = chorus.Open(ctx, s.db, &chorus.Options{Logger: logger})
	require.NoError(t, err)
	defer func() { _ = eng.Close(context.Background()) }()
	beganB := make(chan struct{}, 1)
	defs = newCrashDefs(crashEnv{counter: s.counter, gen: "2", hook: func(_ context.Context, act string, _ activity.Info) error {
		if act == "crash-b" {
			beganB <- struct{}{}
		}
		return nil
	}})
	crashRegisterDuringLog(t, eng, hit, release, defs.all()...)

	// Result returns at once while the run is still blocked, so wait for
	// the resumed run to reach crash-b first.
	select {
	case <-beganB:
	case <-time.After(5 * time.Second):
		info, _ := eng.Describe(ctx, id)
		t.Fatalf("the blocked run never resumed after Register with fixed code (run: %+v)\nexecutions:\n%s", info, s.counterText(t))
	}
	run, err = chorus.Lookup(ctx, eng, defs.wf, id)
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, crashResult(id), out)
}
