package chorus_test

// Crash-durability tests of the workflow primitives: timers, signals, child
// workflows (and their cancellation), continue-as-new and cleanup after a
// cancellation. Each test runs a child process (the test binary re-executed
// in a "prim-*" child mode, see main_test.go) on a real SQLite file, lets it
// bring its runs to the waiting point under test, SIGKILLs it, and finishes
// the runs in this process (generation "final") on the same file.
//
// A child reports on stdout only what is durable: "started <id>" after
// chorus.Start returned, "signaled <id> <i>" after chorus.Signal returned,
// "canceled <id>" after Cancel returned, and lines printed from inside an
// activity, which the engine dispatches only after the commit that
// scheduled it.
//
// Every activity execution is counted outside the journal, in the format
// of crash_test.go (so crashSetup.execs reads it):
//
//	<generation> <run ID> <activity> <attempt> <step> <idempotency key> <workflow> <scheduled at>
//
// primCheck then holds the executions against the journal each generation
// left (read from a copy of the files right after the kill, and from the
// file after the final engine closed).

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
	"github.com/chorusdev/chorus/workflow"
)

// How the parent configures a "prim-*" child.
const (
	envPrimDB      = "CHORUS_PRIM_DB"      // database path
	envPrimCounter = "CHORUS_PRIM_COUNTER" // counter file path
	envPrimGen     = "CHORUS_PRIM_GEN"     // generation name written to the counter file
	envPrimPrefix  = "CHORUS_PRIM_PREFIX"  // run ID prefix
	envPrimRuns    = "CHORUS_PRIM_RUNS"    // how many runs
	envPrimArg     = "CHORUS_PRIM_ARG"     // what else the mode needs (see each mode)
	envPrimMockAt  = "CHORUS_PRIM_MOCK_AT" // Unix nanoseconds: use a clock.Mock set to that time
	envPrimLate    = "CHORUS_PRIM_LATE"    // "1": signal before registering anything
)

func init() {
	childModes["prim-timer"] = primTimerChild
	childModes["prim-signal"] = primSignalChild
	childModes["prim-childwf"] = primChildWorkflowChild
	childModes["prim-can"] = primContinueChild
	childModes["prim-cleanup"] = primCleanupChild
	childModes["prim-cancelchild"] = primCancelChildChild
}

// ---------------------------------------------------------------------------
// Shared machinery.

// primDeadline bounds every wait of these tests; only a hang reaches it. It
// is generous because the machine may be loaded: with other builds and tests
// running, single commits were seen to stall for seconds.
const primDeadline = 60 * time.Second

// primKillWhen is [testutil.Child.KillWhen] with primDeadline.
func primKillWhen(t *testing.T, c *testutil.Child, stop func(line string) bool) (killed bool) {
	t.Helper()
	return c.KillWhen(time.Now().Add(primDeadline), stop)
}

// primEnv is where a process counts activity executions, and how a child
// process reports on stdout (say is nil in the test process).
type primEnv struct {
	counter string
	gen     string
	say     func(format string, args ...any)
}

func (e primEnv) report(format string, args ...any) {
	if e.say != nil {
		e.say(format, args...)
	}
}

// primActivity returns activity name: each execution appends its line to
// the counter file first, then calls hook (if not nil), then returns
// fn(in).
func primActivity[In, Out any](env primEnv, name string, hook func(ctx context.Context, info activity.Info, in In) error,
	fn func(In) Out) *activity.Definition[In, Out] {
	return activity.New(name, func(ctx context.Context, in In) (Out, error) {
		var zero Out
		info := activity.GetInfo(ctx)
		wf, at := cmp.Or(info.Workflow, "-"), int64(0)
		if !info.ScheduledAt.IsZero() {
			at = info.ScheduledAt.UnixNano()
		}
		line := fmt.Sprintf("%s %s %s %d %d %s %s %d", env.gen, info.RunID, name, info.Attempt, info.Step, info.IdempotencyKey, wf, at)
		if err := testutil.AppendLine(env.counter, line); err != nil {
			return zero, activity.NonRetryable(fmt.Errorf("count execution: %w", err))
		}
		if hook != nil {
			if err := hook(ctx, info, in); err != nil {
				return zero, err
			}
		}
		return fn(in), nil
	})
}

// appendName is the body of most activities here: the input with the
// activity's name appended, so a result shows which steps made it.
func appendName(name string) func(string) string {
	return func(in string) string { return in + "|" + name }
}

// blockUntilDone is an activity hook that announces itself and never
// returns on its own: only the death of the process ends it.
func blockUntilDone(ctx context.Context, env primEnv, what, id string) error {
	env.report("%s %s", what, id)
	<-ctx.Done()
	return ctx.Err()
}

// primProc is a child process of these tests.
type primProc struct {
	*childproc.Proc
	env    primEnv
	db     string
	prefix string
	ctx    context.Context
}

func newPrimProc() *primProc {
	p := &primProc{Proc: childproc.New("prim child"), db: os.Getenv(envPrimDB), prefix: os.Getenv(envPrimPrefix), ctx: context.Background()}
	p.Require(envPrimDB, envPrimCounter, envPrimGen, envPrimPrefix)
	p.env = primEnv{counter: os.Getenv(envPrimCounter), gen: os.Getenv(envPrimGen), say: p.Say}
	return p
}

// open opens the database with opts (Logger set to warnings on stderr).
func (p *primProc) open(opts *chorus.Options) *chorus.Engine {
	var o chorus.Options
	if opts != nil {
		o = *opts
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if at := os.Getenv(envPrimMockAt); at != "" {
		n, err := strconv.ParseInt(at, 10, 64)
		if err != nil {
			p.Fail("%s=%q: %v", envPrimMockAt, at, err)
		}
		mock := clock.NewMock()
		mock.Set(time.Unix(0, n).UTC())
		o.Clock = mock
	}
	eng, err := chorus.Open(p.ctx, p.db, &o)
	if err != nil {
		p.Fail("open: %v", err)
	}
	return eng
}

func (p *primProc) register(eng *chorus.Engine, defs ...chorus.Definition) {
	if err := eng.Register(defs...); err != nil {
		p.Fail("register: %v", err)
	}
}

// dumpRuns writes every run's state and journal, and the pending tasks, to
// stderr, for the report of a child that gave up waiting.
func (p *primProc) dumpRuns(eng *chorus.Engine) {
	ctx := context.Background()
	infos, err := eng.List(ctx, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "list: %v\n", err)
		return
	}
	for _, info := range infos {
		fmt.Fprintf(os.Stderr, "run %s: %s, %d events, err %v\n", info.ID, info.Status, info.Events, info.Err)
	}
	st, err := sqlite.Open(ctx, p.db, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "open store: %v\n", err)
		return
	}
	defer st.Close()
	for _, info := range infos {
		if info.Status != chorus.StatusRunning && info.Status != chorus.StatusBlocked {
			continue
		}
		evs, _ := st.Events(ctx, info.ID, 0)
		for _, ev := range evs {
			fmt.Fprintf(os.Stderr, "  %s %v %s\n", info.ID, ev, ev.Payload)
		}
	}
	tasks, err := st.Tasks(ctx)
	fmt.Fprintf(os.Stderr, "tasks (err %v):\n", err)
	for _, tk := range tasks {
		fmt.Fprintf(os.Stderr, "  %s/%d %v %s %s\n", tk.RunID, tk.Step, tk.Kind, tk.Name, tk.Input)
	}
}

func (p *primProc) dumpGoroutines() {
	buf := make([]byte, 1<<20)
	fmt.Fprintf(os.Stderr, "goroutines:\n%s\n", buf[:runtime.Stack(buf, true)])
}

// awaitKill waits for the SIGKILL the parent sends; a child still alive
// after the deadline fails.
func (p *primProc) awaitKill() {
	<-time.After(2 * primDeadline)
	p.Fail("not killed within %v", 2*primDeadline)
}

// primStartChild starts a child in mode as generation gen on s.
func primStartChild(t *testing.T, mode string, s crashSetup, gen, prefix string, env ...string) *testutil.Child {
	t.Helper()
	base := []string{envPrimDB + "=" + s.db, envPrimCounter + "=" + s.counter, envPrimGen + "=" + gen, envPrimPrefix + "=" + prefix}
	return testutil.StartChild(t, mode, append(base, env...)...)
}

// primOpen opens the database in this process with defs registered. The
// returned function closes the engine (once; a cleanup calls it too).
func primOpen(t *testing.T, s crashSetup, opts *chorus.Options, defs ...chorus.Definition) (*chorus.Engine, func()) {
	t.Helper()
	eng, err := chorus.Open(context.Background(), s.db, opts)
	require.NoError(t, err)
	var once sync.Once
	closeFn := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := eng.Close(ctx); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(closeFn)
	require.NoError(t, eng.Register(defs...))
	return eng, closeFn
}

// primResult waits (boundedly) for the result of run id of wf, failing the
// test with the run's state and the executions if it does not come.
func primResult[In, Out any](t *testing.T, ctx context.Context, eng *chorus.Engine, s crashSetup, wf *workflow.Definition[In, Out], id string) (Out, error) {
	t.Helper()
	run, err := chorus.Lookup(ctx, eng, wf, id)
	require.NoError(t, err, "run %s", id)
	out, err := run.Result(ctx)
	if ctx.Err() != nil {
		info, derr := eng.Describe(context.Background(), id)
		t.Fatalf("run %s never ended (Result: %v)\nDescribe: %+v (err %v)\nexecutions:\n%s", id, err, info, derr, s.counterText(t))
	}
	return out, err
}

// primStep is one command of one run.
type primStep struct {
	run  string
	step int64
}

// primEventAt returns the event of rj at seq.
func primEventAt(rj crashRunJournal, seq int64) (history.Event, bool) {
	i, ok := slices.BinarySearchFunc(rj.events, seq, func(ev history.Event, s int64) int { return cmp.Compare(ev.Seq, s) })
	if !ok {
		return history.Event{}, false
	}
	return rj.events[i], true
}

// primSettled reports whether rj holds the outcome of the activity
// scheduled at step.
func primSettled(rj crashRunJournal, step int64) bool {
	for _, ev := range rj.events {
		if ev.Ref == step && (ev.Type == history.EventActivityCompleted || ev.Type == history.EventActivityFailed) {
			return true
		}
	}
	return false
}

func primEvents(rj crashRunJournal, typ history.EventType) []history.Event {
	var out []history.Event
	for _, ev := range rj.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// primScheduled returns the steps at which rj scheduled activity act.
func primScheduled(rj crashRunJournal, act string) []int64 {
	var out []int64
	for _, ev := range primEvents(rj, history.EventActivityScheduled) {
		if ev.Name == act {
			out = append(out, ev.Seq)
		}
	}
	return out
}

// primCheck checks the journals each generation left (in order; the last
// one is final, read after the last engine closed) against the counted
// executions:
//   - each journal is a prefix of the next, and an ended run stays as it
//     ended;
//   - every execution is attempt 1 (these activities never fail) with the
//     idempotency key of its step, and its step is an ActivityScheduled of
//     that activity in the journal its own generation left: it ran only once
//     its scheduling was durable;
//   - no step ran twice in one generation, nor in a generation after one
//     whose journal held its outcome;
//   - every activity outcome of the final journal came from an execution.
//
// It returns the executions, and how many times each step ran in each
// generation.
func primCheck(t *testing.T, s crashSetup, gens []crashGen) ([]crashExec, map[primStep]map[string]int) {
	t.Helper()
	recs := s.execs(t)
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for i := 0; i+1 < len(gens); i++ {
		next := gens[i+1]
		for id, rj := range gens[i].j {
			later, ok := next.j[id]
			switch {
			case !ok:
				bad("run %s: in the journal after generation %s, gone after generation %s", id, gens[i].gen, next.gen)
			case len(later.events) < len(rj.events) || !crashSameEvents(rj.events, later.events[:len(rj.events)]):
				bad("run %s: the journal after generation %s is not a prefix of the one after generation %s:\n    %v\n    %v",
					id, gens[i].gen, next.gen, rj, later)
			case rj.info.Status.Ended() && (later.info.Status != rj.info.Status || string(later.info.Result) != string(rj.info.Result)):
				bad("run %s: ended as %v (%s) after generation %s, then %v (%s) after generation %s",
					id, rj.info.Status, rj.info.Result, gens[i].gen, later.info.Status, later.info.Result, next.gen)
			}
		}
	}

	genIdx := map[string]int{}
	for i, g := range gens {
		genIdx[g.gen] = i
	}
	runs := map[primStep]map[string]int{}
	for _, r := range recs {
		k := primStep{r.run, r.step}
		if runs[k] == nil {
			runs[k] = map[string]int{}
		}
		runs[k][r.gen]++
		gi, ok := genIdx[r.gen]
		if !ok {
			bad("run %s: %s ran in unknown generation %q", r.run, r.act, r.gen)
			continue
		}
		if r.attempt != 1 {
			bad("run %s: %s ran as attempt %d in generation %s; it never fails, so every execution must be attempt 1", r.run, r.act, r.attempt, r.gen)
		}
		if want := fmt.Sprintf("%s/%d", r.run, r.step); r.key != want {
			bad("run %s: %s ran with idempotency key %q; want %q", r.run, r.act, r.key, want)
		}
		ev, ok := primEventAt(gens[gi].j[r.run], r.step)
		if !ok || ev.Type != history.EventActivityScheduled || ev.Name != r.act {
			bad("run %s: %s ran as step %d in generation %s, but the journal that generation left has %v there",
				r.run, r.act, r.step, r.gen, ev)
		}
		for j := range gi {
			if primSettled(gens[j].j[r.run], r.step) {
				bad("run %s: %s (step %d) ran again in generation %s although its outcome was durable after generation %s",
					r.run, r.act, r.step, r.gen, gens[j].gen)
				break
			}
		}
	}
	for k, m := range runs {
		for g, n := range m {
			if n > 1 {
				bad("run %s: step %d ran %d times in generation %s", k.run, k.step, n, g)
			}
		}
	}
	for id, rj := range gens[len(gens)-1].j {
		for _, ev := range rj.events {
			if (ev.Type == history.EventActivityCompleted || ev.Type == history.EventActivityFailed) && len(runs[primStep{id, ev.Ref}]) == 0 {
				bad("run %s: the final journal holds %v for step %d, which never ran", id, ev, ev.Ref)
			}
		}
	}
	if len(problems) > 0 {
		t.Errorf("crash invariants violated:\n%s\n--- executions (gen run act attempt step key workflow scheduled-at):\n%s",
			strings.Join(problems, "\n"), s.counterText(t))
	}
	return recs, runs
}

// primStepCounts returns how many times the activity at each step of
// act in the final journal of run id ran, per generation.
func primStepCounts(final crashJournal, runs map[primStep]map[string]int, id, act string) []map[string]int {
	var out []map[string]int
	for _, st := range primScheduled(final[id], act) {
		m := runs[primStep{id, st}]
		if m == nil {
			m = map[string]int{}
		}
		out = append(out, m)
	}
	return out
}
