package chorustest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	stdtesting "testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/internal/hook"
)

// DefaultStart is the fake time an [Env] starts at unless
// [Options].Start says otherwise.
var DefaultStart = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// DefaultTimeout is the wall time an env wait may take before it gives up,
// unless [Options].Timeout says otherwise. It only turns a hung test into a
// failure that describes what it waited for; fake time never depends on it.
const DefaultTimeout = time.Minute

// Options configures [New]. A nil *Options means every default.
type Options struct {
	// Definitions are the workflows and activities the env registers (each
	// behind a wrapper through which [OnActivity] and [OnWorkflow] mocks
	// answer). More can be added with [Env.Register]. Defaults to none.
	Definitions []chorus.Definition
	// InMemory keeps the journal in a private in-memory SQLite database
	// instead of a file in t.TempDir(). Defaults to false: a file, which
	// [Env.Path] names.
	InMemory bool
	// Start is the fake time at which the env's clock starts. Defaults to
	// [DefaultStart].
	Start time.Time
	// FailOnUnfinished makes each run that has not ended (running or
	// blocked) when the test ends a test error. Defaults to false: such runs
	// are reported with t.Log.
	FailOnUnfinished bool
	// Verbose writes the engine's logs to t.Log from the debug level up.
	// Defaults to false: warnings and errors only (t.Log output is shown
	// only for failing tests, or with go test -v).
	Verbose bool
	// LogLevel is the lowest level of engine logs written to t.Log; it
	// overrides Verbose. Defaults to slog.LevelWarn.
	LogLevel slog.Leveler
	// SkipReplayCheck turns off the replay of every run against its journal
	// at the end of the test. Defaults to false: replay is checked.
	SkipReplayCheck bool
	// Timeout bounds, in wall time, how long one env wait ([Result],
	// [Env.Await], [Env.Advance], [Env.Settle], ...) may take before the
	// env gives up and describes what it was waiting for, and how long the
	// replay of one run may take in the check at the end. Calls into the
	// engine (Start, Signal, closing it at the end, ...) get at least
	// [DefaultTimeout]. Defaults to [DefaultTimeout].
	Timeout time.Duration
	// Engine holds further engine options (DefaultActivityOptions,
	// CacheSize, Codec, ...). The env sets Clock and Logger itself, adds
	// Engine.Definitions to Definitions, and uses sqlite.SynchronousNormal
	// unless Engine.Synchronous says otherwise. Defaults to none.
	Engine *chorus.Options
}

// Env is a test environment: a real engine on a real SQLite journal, whose
// clock is fake and skips ahead by itself while the test waits. Create one
// with [New]; it closes itself when the test ends. An Env is safe for
// concurrent use.
type Env struct {
	t     stdtesting.TB
	opts  Options
	eng   *chorus.Engine
	core  *engine.Engine
	mock  *clock.Mock
	start time.Time
	path  string

	// Work in flight that the engine's own counters do not show.
	callbacks  atomic.Int64 // clock callbacks (fired timers) running
	calls      atomic.Int64 // env calls into the engine in flight
	atRunning  atomic.Int64 // env.At callbacks running
	activities atomic.Int64 // activity attempts running (through the wrappers)

	gen  atomic.Uint64 // bumped by every kick
	note notifier

	skipMu sync.Mutex // held while deciding to move the clock and moving it

	mu    sync.Mutex // guards the fields below
	ats   []atCallback
	atSeq int
	acts  map[string]*actWrapper
	wfs   map[string]*wfWrapper
	// pending holds wrappers that OnActivity and OnWorkflow created for
	// definitions the engine did not know yet. They are registered with the
	// engine at the env's next call or wait, not at once: a run waiting for
	// one must not execute it before the test has said what the mock does.
	pending []chorus.Definition
	// attempts holds, by run and step, what the env saw of the attempts of
	// activities that have not succeeded, for failure messages.
	attempts map[attemptKey]*attemptState
	// sigMocks holds the mocks of signals between runs, by signal name.
	sigMocks map[string][]sigMocker

	logClosed atomic.Bool
}

// New returns a test environment on a fresh journal, registers opts.Definitions
// and arranges, with t.Cleanup, for the end of the test: runs that have not
// ended are reported, every run is replayed against its journal (a
// divergence fails the test), and the engine is closed. New fails the test
// if the engine cannot be opened.
func New(t stdtesting.TB, opts *Options) *Env {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	level := o.LogLevel
	if level == nil {
		level = slog.LevelWarn
		if o.Verbose {
			level = slog.LevelDebug
		}
	}
	e := &Env{t: t, opts: o, start: o.Start, acts: map[string]*actWrapper{}, wfs: map[string]*wfWrapper{},
		attempts: map[attemptKey]*attemptState{}}
	e.mock = clock.NewMock()
	e.mock.Set(o.Start)

	var eo chorus.Options
	if o.Engine != nil {
		eo = *o.Engine
	}
	eo.Clock = envClock{Mock: e.mock, env: e}
	eo.Logger = newTestLogger(t, level, e.Elapsed, &e.logClosed)
	if eo.Synchronous == "" {
		eo.Synchronous = sqlite.SynchronousNormal
	}
	defs, err := e.wrapAll(slices.Concat(eo.Definitions, o.Definitions))
	if err != nil {
		t.Fatalf("chorustest: %v", err)
	}
	eo.Definitions = defs

	e.path = ":memory:"
	if !o.InMemory {
		e.path = filepath.Join(t.TempDir(), "chorus.db")
	}
	ctx, cancel := e.context()
	defer cancel()
	eng, err := chorus.Open(ctx, e.path, &eo)
	if err != nil {
		t.Fatalf("chorustest: open the engine: %v", err)
	}
	if o.InMemory {
		e.path = ""
	}
	e.eng = eng
	e.core = hook.Core(eng)
	e.core.SetOnSettle(e.kick)
	t.Cleanup(e.cleanup)
	return e
}

// Engine returns the engine, for anything the env has no helper for. Calls
// made on it directly are not counted as work in flight: make them between
// env waits, not during one.
func (e *Env) Engine() *chorus.Engine {
	e.registerPending()
	return e.eng
}

// Clock returns the fake clock. Moving it directly (Add, Set) moves time
// without waiting for the engine to react and without running [Env.At]
// callbacks; prefer [Env.Advance]. Never move it while an env wait is in
// progress.
func (e *Env) Clock() *clock.Mock { return e.mock }

// Path returns the journal's file, or "" for an in-memory journal.
func (e *Env) Path() string { return e.path }

// Now returns the current fake time.
func (e *Env) Now() time.Time { return e.mock.Now() }

// StartTime returns the fake time at which the env started.
func (e *Env) StartTime() time.Time { return e.start }

// Elapsed returns how much fake time has passed since the env started.
func (e *Env) Elapsed() time.Duration { return e.mock.Now().Sub(e.start) }

// Register registers more workflows and activities, behind the same
// wrappers as [Options].Definitions. It fails the test on error.
func (e *Env) Register(defs ...chorus.Definition) {
	e.t.Helper()
	ws, err := e.wrapAll(defs)
	e.mu.Lock()
	e.pending = slices.DeleteFunc(e.pending, func(p chorus.Definition) bool { return slices.Contains(ws, p) })
	e.mu.Unlock()
	if err == nil {
		err = e.eng.Register(ws...)
	}
	if err != nil {
		e.t.Fatalf("chorustest: register: %v", err)
	}
}

// registerPending registers with the engine the wrappers that mocks of
// unregistered definitions created since the last call, and fails the test
// if the engine refuses them.
func (e *Env) registerPending() {
	e.mu.Lock()
	defs := e.pending
	e.pending = nil
	e.mu.Unlock()
	if len(defs) == 0 {
		return
	}
	if err := e.eng.Register(defs...); err != nil {
		e.t.Fatalf("chorustest: register: %v", err)
	}
}

// callTimeout bounds the env's calls into the engine (as opposed to its
// waits, which [Options].Timeout bounds): they take no fake time and
// finish unless the machine is overloaded or something is broken.
func (e *Env) callTimeout() time.Duration { return max(e.opts.Timeout, DefaultTimeout) }

// context returns a context for a call into the engine.
func (e *Env) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.callTimeout())
}

// call runs f, a call into the engine, counted as work in flight so that
// no concurrent env wait moves the clock while it is on its way.
func (e *Env) call(f func(ctx context.Context) error) error {
	e.registerPending()
	e.calls.Add(1)
	defer func() {
		e.calls.Add(-1)
		e.kick()
	}()
	ctx, cancel := e.context()
	defer cancel()
	return f(ctx)
}

// Cancel asks the run to stop (see [chorus.Engine.Cancel]) and fails the
// test on error.
func (e *Env) Cancel(runID string) {
	e.t.Helper()
	if err := e.call(func(ctx context.Context) error { return e.eng.Cancel(ctx, runID) }); err != nil {
		e.t.Fatalf("chorustest: cancel run %q: %v", runID, err)
	}
}

// Terminate ends the run at once with reason (see
// [chorus.Engine.Terminate]) and fails the test on error.
func (e *Env) Terminate(runID, reason string) {
	e.t.Helper()
	if err := e.call(func(ctx context.Context) error { return e.eng.Terminate(ctx, runID, reason) }); err != nil {
		e.t.Fatalf("chorustest: terminate run %q: %v", runID, err)
	}
}

// Describe returns the run's current state once the engine has settled (see
// [Env.Settle]), and fails the test on error.
func (e *Env) Describe(runID string) chorus.RunInfo {
	e.t.Helper()
	e.Settle()
	var info chorus.RunInfo
	err := e.call(func(ctx context.Context) (err error) {
		info, err = e.eng.Describe(ctx, runID)
		return err
	})
	if err != nil {
		e.t.Fatalf("chorustest: describe run %q: %v", runID, err)
	}
	return info
}

// CheckReplay replays every run of the env that is not blocked against its
// journal with the registered code, changing nothing, and returns what
// diverged: the errors joined, each a *chorus.NonDeterminismError (or the
// panic or payload error the replay hit). The replay of one run may take
// [Options].Timeout of wall time; one that takes longer (its code blocks
// outside the workflow API) is reported by name, and the runs after it
// are not checked. The env calls it when the test ends unless
// [Options].SkipReplayCheck is set.
func (e *Env) CheckReplay() error {
	ctx, cancel := e.context()
	defer cancel()
	runs, err := e.eng.List(ctx, nil)
	if err != nil {
		return fmt.Errorf("chorustest: list runs: %w", err)
	}
	var errs []error
	for i, r := range runs {
		if r.Status == chorus.StatusBlocked {
			continue // it says why itself; see reportUnfinished
		}
		hung, err := e.replayRun(ctx, r)
		if err != nil {
			errs = append(errs, hook.PublicErr(err))
		}
		if hung {
			if n := len(runs) - i - 1; n > 0 {
				errs = append(errs, fmt.Errorf("chorustest: the replay check stopped there; %d more run(s) were not checked", n))
			}
			break
		}
	}
	return errors.Join(errs...)
}

// closeGrace is how long running activity attempts may go on when the env
// closes the engine, before they are interrupted.
const closeGrace = 100 * time.Millisecond

// cleanup ends the env: it lets what is in flight at the current fake time
// finish, reports unfinished runs and env.At callbacks that never ran,
// checks replay, and closes the engine.
func (e *Env) cleanup() {
	t := e.t
	e.drainQuietly()
	e.reportUnfinished()
	if !e.opts.SkipReplayCheck {
		if err := e.CheckReplay(); err != nil {
			t.Errorf("chorustest: replaying the test's runs from their journals failed; the workflow code is not deterministic:\n%v", err)
		}
	}
	e.close()
}

// drainQuietly waits, without moving the clock, running env.At callbacks or
// failing, until nothing is in flight, for at most two seconds: so what
// the end of the test reports does not depend on how fast the last steps
// went.
func (e *Env) drainQuietly() {
	d := min(e.opts.Timeout, 2*time.Second)
	_ = e.drive(waitSpec{what: "the engine to settle at the end of the test", timeout: d})
}

func (e *Env) reportUnfinished() {
	t := e.t
	ctx, cancel := e.context()
	defer cancel()
	runs, err := e.eng.List(ctx, nil)
	if err != nil {
		t.Errorf("chorustest: list runs at the end of the test: %v", err)
		return
	}
	for _, r := range runs {
		if r.Status != chorus.StatusRunning && r.Status != chorus.StatusBlocked {
			continue
		}
		msg := fmt.Sprintf("chorustest: run %q (workflow %q) is still %s at the end of the test (fake time +%v)",
			r.ID, r.Workflow, r.Status, e.Elapsed())
		if r.Err != nil {
			msg += ": " + r.Err.Error()
		}
		if e.opts.FailOnUnfinished {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
	e.mu.Lock()
	ats := slices.Clone(e.ats)
	e.mu.Unlock()
	for _, a := range ats {
		if a.internal {
			continue
		}
		t.Logf("chorustest: the env.At callback for +%v never ran: the test did not wait until then (fake time +%v)",
			a.at.Sub(e.start), e.Elapsed())
	}
}

func (e *Env) close() {
	t := e.t
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		defer cancel()
		done <- e.eng.Close(ctx)
	}()
	timer := time.NewTimer(e.callTimeout())
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("chorustest: close the engine: %v", err)
		}
	case <-timer.C:
		t.Errorf("chorustest: the engine did not close within %v: an activity ignores its context's cancellation", e.callTimeout())
	}
	e.core.SetOnSettle(nil)
	if n := e.activities.Load(); n > 0 {
		t.Errorf("chorustest: %d activity attempt(s) still running after the engine closed: an activity that ignores its "+
			"context's cancellation leaks its goroutine", n)
	}
	e.logClosed.Store(true)
}
