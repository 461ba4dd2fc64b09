package chorus_test

// Crash-durability tests: real SQLite files, real SIGKILLs of a child
// process (the test binary re-executed in the "crash" child mode), and every
// activity execution counted outside the journal, in a file the test owns.
//
// Each activity execution appends one line to the counter file before the
// activity does anything else:
//
//	<generation> <run ID> <activity> <attempt> <step> <idempotency key> <workflow> <scheduled at>
//
// where a generation is one process lifetime of the engine on the database
// (a child that gets killed, or the final in-process engine), and the other
// fields come from activity.GetInfo (an empty workflow is written "-", the
// scheduled time in Unix nanoseconds, 0 for the zero time). Right after a
// child is killed, the test copies the database files and reads the copy,
// which shows exactly what the killed process had committed, without
// opening the original before the engine under test recovers it. From the
// counter file and these per-generation journals, checkCrashInvariants
// proves that no activity whose completion was durable ran again, that
// every activity ran, and that each journal is a prefix of the next.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
	"github.com/chorusdev/chorus/workflow"
)

// The workflow under test runs these activities one after the other, each
// appending its name to the value it is given.
var crashActs = []string{"crash-a", "crash-b", "crash-c"}

const crashWorkflowName = "crash-wf"

// crashResult is the result of a run of the crash workflow whose input is
// its own ID.
func crashResult(id string) string { return id + "|" + strings.Join(crashActs, "|") }

func crashRunIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return ids
}

// How the parent configures a "crash" child.
const (
	envCrashDB       = "CHORUS_CRASH_DB"       // database path
	envCrashCounter  = "CHORUS_CRASH_COUNTER"  // counter file path
	envCrashGen      = "CHORUS_CRASH_GEN"      // generation name written to the counter file
	envCrashRuns     = "CHORUS_CRASH_RUNS"     // how many runs: <prefix>-000 ...
	envCrashPrefix   = "CHORUS_CRASH_PREFIX"   // run ID prefix
	envCrashBlock    = "CHORUS_CRASH_BLOCK"    // activity that blocks until the process dies
	envCrashGate     = "CHORUS_CRASH_GATE"     // "1": activities wait until every run is started
	envCrashWorkers  = "CHORUS_CRASH_WORKERS"  // Options.MaxConcurrentActivities
	envCrashStarters = "CHORUS_CRASH_STARTERS" // goroutines starting runs
)

// crashEnv is where a set of crash definitions counts executions, and an
// optional hook each execution calls after counting itself.
type crashEnv struct {
	counter string
	gen     string
	hook    func(ctx context.Context, act string, info activity.Info) error
}

type crashDefs struct {
	wf   *workflow.Definition[string, string]
	acts []*activity.Definition[string, string]
}

func (d crashDefs) all() []chorus.Definition {
	defs := []chorus.Definition{d.wf}
	for _, a := range d.acts {
		defs = append(defs, a)
	}
	return defs
}

// newCrashDefs returns the crash workflow and its activities, counting
// executions as env says. Every process builds its own, under the same
// names, as an application restarted with the same code would.
func newCrashDefs(env crashEnv) crashDefs {
	var d crashDefs
	for _, name := range crashActs {
		var hook func(context.Context, activity.Info, string) error
		if env.hook != nil {
			hook = func(ctx context.Context, info activity.Info, _ string) error { return env.hook(ctx, name, info) }
		}
		d.acts = append(d.acts, primActivity(primEnv{counter: env.counter, gen: env.gen}, name, hook, appendName(name)))
	}
	acts := d.acts
	d.wf = workflow.New(crashWorkflowName, func(ctx workflow.Context, in string) (string, error) {
		v := in
		for _, a := range acts {
			var err error
			if v, err = workflow.ExecuteActivity(ctx, a, v).Get(ctx); err != nil {
				return "", err
			}
		}
		return v, nil
	})
	return d
}

func init() {
	childModes["crash"] = crashChild
}

// crashChild is the child process: it opens the database, looks up each
// run of its set and starts the ones that do not exist, waits for every
// result and exits 0, unless the parent kills it first. It reports on
// stdout, one line each:
//
//	started <id>          Start returned (the run is durable)
//	resumed <id>          Lookup found the run
//	exec <id> <act> <n>   attempt n of act began (and is counted)
//	blocked <id> <act>    act blocks until the process dies
//	ready                 every run is started or resumed
//	done <id>             the run's result is right
//	alldone               every result is right; the engine is closed next
func crashChild() {
	p := childproc.New("crash child")
	p.Require(envCrashDB, envCrashCounter, envCrashGen)
	db, counter, gen := os.Getenv(envCrashDB), os.Getenv(envCrashCounter), os.Getenv(envCrashGen)
	n, workers, starters := p.NumOr(envCrashRuns, 1), p.NumOr(envCrashWorkers, 0), p.NumOr(envCrashStarters, 1)
	block, gated := os.Getenv(envCrashBlock), os.Getenv(envCrashGate) == "1"

	gate := make(chan struct{})
	defs := newCrashDefs(crashEnv{counter: counter, gen: gen, hook: func(ctx context.Context, act string, info activity.Info) error {
		p.Say("exec %s %s %d", info.RunID, act, info.Attempt)
		if gated {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if act == block {
			p.Say("blocked %s %s", info.RunID, act)
			<-ctx.Done() // only Close cancels it; the parent kills us first
			return ctx.Err()
		}
		return nil
	}})

	ctx := context.Background()
	eng, err := chorus.Open(ctx, db, &chorus.Options{
		MaxConcurrentActivities: workers,
		Logger:                  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		p.Fail("open: %v", err)
	}
	if err := eng.Register(defs.all()...); err != nil {
		p.Fail("register: %v", err)
	}
	ids := crashRunIDs(os.Getenv(envCrashPrefix), n)
	runs := make([]*chorus.Run[string], n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for s := range starters {
		wg.Go(func() {
			for i := s; i < n; i += starters {
				r, err := chorus.Lookup(ctx, eng, defs.wf, ids[i])
				switch {
				case errors.Is(err, chorus.ErrRunNotFound):
					if r, err = chorus.Start(ctx, eng, defs.wf, ids[i], &chorus.StartOptions{ID: ids[i]}); err == nil {
						p.Say("started %s", ids[i])
					}
				case err == nil:
					p.Say("resumed %s", ids[i])
				}
				if err != nil {
					errs <- fmt.Errorf("run %s: %w", ids[i], err)
					return
				}
				runs[i] = r
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		p.Fail("%v", err)
	}
	close(gate)
	p.Say("ready")
	for i, r := range runs {
		out, err := r.Result(ctx)
		if err != nil || out != crashResult(ids[i]) {
			p.Fail("run %s: Result = %q, %v; want %q", ids[i], out, err, crashResult(ids[i]))
		}
		p.Say("done %s", ids[i])
	}
	p.Say("alldone")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := eng.Close(cctx); err != nil {
		p.Fail("close: %v", err)
	}
	os.Exit(0)
}

// crashSetup is one test's database and counter file.
type crashSetup struct {
	db      string
	counter string
}

func newCrashSetup(t *testing.T) crashSetup {
	dir := t.TempDir()
	return crashSetup{db: filepath.Join(dir, "chorus.db"), counter: filepath.Join(dir, "executions.txt")}
}

// crashDeadline bounds every wait of a crash test; only a hang reaches it.
const crashDeadline = 20 * time.Second

func (s crashSetup) startChild(t *testing.T, gen string, env ...string) *testutil.Child {
	t.Helper()
	base := []string{envCrashDB + "=" + s.db, envCrashCounter + "=" + s.counter, envCrashGen + "=" + gen}
	return testutil.StartChild(t, "crash", append(base, env...)...)
}

// crashKillWhen is [testutil.Child.KillWhen] with crashDeadline.
func crashKillWhen(t *testing.T, c *testutil.Child, stop func(line string) bool) (killed bool) {
	t.Helper()
	return c.KillWhen(time.Now().Add(crashDeadline), stop)
}

// crashAfterSteps returns a kill point for crashKillWhen: the limit-th
// line that says a run started or an activity attempt began. *seen counts
// those lines.
func crashAfterSteps(limit int, seen *int) func(line string) bool {
	return func(line string) bool {
		if strings.HasPrefix(line, "started ") || strings.HasPrefix(line, "exec ") {
			*seen++
		}
		return *seen >= limit
	}
}

// crashGen is the journal as a generation left it.
type crashGen struct {
	gen string
	j   crashJournal
}

type crashJournal map[string]crashRunJournal

type crashRunJournal struct {
	info   history.RunInfo
	events []history.Event
}

// completed reports whether the journal holds the completion of act.
func (rj crashRunJournal) completed(act string) bool {
	for _, ev := range rj.events {
		if ev.Type == history.EventActivityCompleted && ev.Name == act {
			return true
		}
	}
	return false
}

func (rj crashRunJournal) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %v, %d events:", rj.info.Status, len(rj.events))
	for _, ev := range rj.events {
		fmt.Fprintf(&b, "\n      %v %s", ev, ev.Payload)
	}
	return b.String()
}

// snapshot reads what the (dead) child committed, from a copy of the
// database files.
func (s crashSetup) snapshot(t *testing.T) crashJournal {
	t.Helper()
	p, err := testutil.CopyDatabase(s.db, t.TempDir())
	require.NoError(t, err)
	return readCrashJournal(t, p)
}

// readCrashJournal reads every run of the database at path, after an
// integrity check. No engine may have it open.
func readCrashJournal(t *testing.T, path string) crashJournal {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.IntegrityCheck(ctx))
	infos, err := st.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	j := crashJournal{}
	for _, info := range infos {
		evs, err := st.Events(ctx, info.ID, 0)
		require.NoError(t, err)
		j[info.ID] = crashRunJournal{info: info, events: evs}
	}
	return j
}

// finish opens the database in this process as generation gen, looks up
// every run of ids (starting the missing ones if startMissing), requires
// every result to be right, calls inspect if not nil, and closes the
// engine.
func (s crashSetup) finish(t *testing.T, gen string, ids []string, startMissing bool, inspect func(context.Context, *chorus.Engine)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crashDeadline)
	defer cancel()
	defs := newCrashDefs(crashEnv{counter: s.counter, gen: gen})
	eng, err := chorus.Open(ctx, s.db, nil)
	require.NoError(t, err)
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		if err := eng.Close(cctx); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	require.NoError(t, eng.Register(defs.all()...))
	runs := make([]*chorus.Run[string], len(ids))
	for i, id := range ids {
		r, err := chorus.Lookup(ctx, eng, defs.wf, id)
		if errors.Is(err, chorus.ErrRunNotFound) && startMissing {
			r, err = chorus.Start(ctx, eng, defs.wf, id, &chorus.StartOptions{ID: id})
		}
		require.NoError(t, err, "run %s", id)
		runs[i] = r
	}
	for i, r := range runs {
		out, err := r.Result(ctx)
		if err != nil || out != crashResult(ids[i]) {
			info, derr := eng.Describe(context.Background(), ids[i])
			t.Fatalf("run %s: Result = %q, %v; want %q\nDescribe: %+v (err %v)\nexecutions:\n%s",
				ids[i], out, err, crashResult(ids[i]), info, derr, s.counterText(t))
		}
	}
	if inspect != nil {
		inspect(ctx, eng)
	}
}

type crashExec struct {
	gen, run, act string
	attempt       int
	step          int64
	key           string
	workflow      string // "-" when activity.Info.Workflow was empty
	scheduledAt   int64  // Unix nanoseconds; 0 for the zero time
}

func (s crashSetup) counterText(t *testing.T) string {
	lines, err := testutil.ReadLines(s.counter)
	require.NoError(t, err)
	return "    " + strings.Join(lines, "\n    ")
}

func (s crashSetup) execs(t *testing.T) []crashExec {
	t.Helper()
	lines, err := testutil.ReadLines(s.counter)
	require.NoError(t, err)
	recs := make([]crashExec, 0, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		require.Len(t, f, 8, "counter line %q", l)
		a, err := strconv.Atoi(f[3])
		require.NoError(t, err, "counter line %q", l)
		st, err := strconv.ParseInt(f[4], 10, 64)
		require.NoError(t, err, "counter line %q", l)
		at, err := strconv.ParseInt(f[7], 10, 64)
		require.NoError(t, err, "counter line %q", l)
		recs = append(recs, crashExec{gen: f[0], run: f[1], act: f[2], attempt: a, step: st, key: f[5], workflow: f[6], scheduledAt: at})
	}
	return recs
}

// crashCountExecs returns how many times act ran for run in each generation.
func crashCountExecs(recs []crashExec, run, act string) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		if r.run == run && r.act == act {
			m[r.gen]++
		}
	}
	return m
}

func crashSameEvents(a, b []history.Event) bool {
	return slices.EqualFunc(a, b, func(x, y history.Event) bool {
		return x.Seq == y.Seq && x.Type == y.Type && x.Name == y.Name && x.Ref == y.Ref &&
			bytes.Equal(x.Payload, y.Payload) && x.Time.Equal(y.Time)
	})
}

// checkCrashInvariants checks the journals each generation left (the last
// one final, after the last engine closed) against the counted executions:
//   - each journal is a prefix of the next, and an ended run stays as it
//     ended;
//   - every run of ids completed with the right result, with each activity
//     scheduled and completed exactly once and none failed;
//   - every activity ran at least once, at most once per generation, always
//     as attempt 1 with the idempotency key of its step;
//   - an activity ran only after the completion of the one before it was
//     durable (it is in the journal that generation left);
//   - no activity ran in a generation after one whose journal held its
//     completion.
//
// It returns the executions.
func (s crashSetup) checkCrashInvariants(t *testing.T, gens []crashGen, ids []string) []crashExec {
	t.Helper()
	recs := s.execs(t)
	final := gens[len(gens)-1].j
	var problems []string
	badRuns := map[string]bool{}
	bad := func(run, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("run %s: ", run)+fmt.Sprintf(format, args...))
		badRuns[run] = true
	}

	for i := 0; i+1 < len(gens); i++ {
		next := gens[i+1]
		for id, rj := range gens[i].j {
			later, ok := next.j[id]
			switch {
			case !ok:
				bad(id, "in the journal after generation %s, gone after generation %s", gens[i].gen, next.gen)
			case len(later.events) < len(rj.events) || !crashSameEvents(rj.events, later.events[:len(rj.events)]):
				bad(id, "the journal after generation %s is not a prefix of the one after generation %s:\n    %v\n    %v",
					gens[i].gen, next.gen, rj, later)
			case rj.info.Status.Ended() && (later.info.Status != rj.info.Status || !bytes.Equal(later.info.Result, rj.info.Result)):
				bad(id, "ended as %v (%s) after generation %s, then %v (%s) after generation %s",
					rj.info.Status, rj.info.Result, gens[i].gen, later.info.Status, later.info.Result, next.gen)
			}
		}
	}

	steps := map[[2]string]int64{} // (run, act) -> step of its ActivityScheduled
	for _, id := range ids {
		rj, ok := final[id]
		if !ok {
			bad(id, "not in the final journal")
			continue
		}
		var res string
		if rj.info.Status != history.StatusCompleted || json.Unmarshal(rj.info.Result, &res) != nil || res != crashResult(id) {
			bad(id, "final status %v, result %s; want completed with %q", rj.info.Status, rj.info.Result, crashResult(id))
		}
		for _, act := range crashActs {
			var scheduled, completed int
			for _, ev := range rj.events {
				switch {
				case ev.Type == history.EventActivityScheduled && ev.Name == act:
					scheduled++
					steps[[2]string{id, act}] = ev.Seq
				case ev.Type == history.EventActivityCompleted && ev.Name == act:
					completed++
				case ev.Type == history.EventActivityFailed:
					bad(id, "journal holds a failure: %v %s", ev, ev.Payload)
				}
			}
			if scheduled != 1 || completed != 1 {
				bad(id, "%s scheduled %d and completed %d times in the final journal; want 1 and 1", act, scheduled, completed)
			}
		}
	}

	genIdx := map[string]int{}
	for i, g := range gens {
		genIdx[g.gen] = i
	}
	for _, r := range recs {
		gi, ok := genIdx[r.gen]
		if !ok {
			bad(r.run, "execution in unknown generation %q", r.gen)
			continue
		}
		if r.attempt != 1 {
			bad(r.run, "%s ran as attempt %d in generation %s; it never fails, so every execution must be attempt 1", r.act, r.attempt, r.gen)
		}
		if want := fmt.Sprintf("%s/%d", r.run, r.step); r.key != want {
			bad(r.run, "%s ran with idempotency key %q; want %q", r.act, r.key, want)
		}
		if st, ok := steps[[2]string{r.run, r.act}]; ok && st != r.step {
			bad(r.run, "%s ran as step %d in generation %s; the journal schedules it at step %d", r.act, r.step, r.gen, st)
		}
		if k := slices.Index(crashActs, r.act); k > 0 && !gens[gi].j[r.run].completed(crashActs[k-1]) {
			bad(r.run, "%s ran in generation %s, but the completion of %s is not in the journal that generation left",
				r.act, r.gen, crashActs[k-1])
		}
		for j := range gi {
			if gens[j].j[r.run].completed(r.act) {
				bad(r.run, "%s ran again in generation %s although its completion was durable after generation %s",
					r.act, r.gen, gens[j].gen)
				break
			}
		}
	}
	for _, id := range ids {
		for _, act := range crashActs {
			n := crashCountExecs(recs, id, act)
			if len(n) == 0 {
				bad(id, "%s never ran", act)
			}
			for g, c := range n {
				if c > 1 {
					bad(id, "%s ran %d times in generation %s", act, c, g)
				}
			}
		}
	}

	if len(problems) > 0 {
		var b strings.Builder
		b.WriteString(strings.Join(problems, "\n"))
		b.WriteString("\n--- executions (gen run act attempt step key workflow scheduled-at):\n" + s.counterText(t))
		for _, id := range slices.Sorted(maps.Keys(badRuns)) {
			for _, g := range gens {
				if rj, ok := g.j[id]; ok {
					fmt.Fprintf(&b, "\n--- journal of %s after generation %s: %v", id, g.gen, rj)
				}
			}
		}
		t.Errorf("crash invariants violated:\n%s", b.String())
	}
	return recs
}

// crashProgress sums up a journal for logs: how many runs have how many
// completed activities, and how many ended.
func crashProgress(j crashJournal) string {
	counts := make([]int, len(crashActs)+1)
	ended := 0
	for _, rj := range j {
		n := 0
		for _, act := range crashActs {
			if rj.completed(act) {
				n++
			}
		}
		counts[n]++
		if rj.info.Status.Ended() {
			ended++
		}
	}
	return fmt.Sprintf("%d runs, by completed activities %v, %d ended", len(j), counts, ended)
}
