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
	"math/rand/v2"
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

// TestCrashKillBetweenActivities kills a child while 20 runs of a
// 3-activity workflow move from one activity to the next, once 8 runs have
// begun their second activity; a restarted engine finishes every run, and
// no activity whose completion was committed before the kill runs again.
func TestCrashKillBetweenActivities(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const n = 20
	ids := crashRunIDs("between", n)
	// The gate holds every activity until all runs are started, so the runs
	// race through their activities together and the kill finds them at
	// different steps.
	c := s.startChild(t, "1", envCrashRuns+"="+strconv.Itoa(n), envCrashPrefix+"=between", envCrashGate+"=1", envCrashWorkers+"=4")
	beganB := map[string]bool{}
	killed := crashKillWhen(t, c, func(line string) bool {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "exec" && f[2] == "crash-b" {
			beganB[f[1]] = true
		}
		return len(beganB) >= 8
	})
	require.True(t, killed, "the child finished every run before the kill\n%s", c.Report())
	snap := s.snapshot(t)
	t.Logf("at the kill: %s", crashProgress(snap))
	require.Len(t, snap, n, "every run was started before any activity ran\n%s", c.Report())
	// The engine dispatches an activity only after committing the completion
	// of the one before: each run seen beginning crash-b has crash-a durable.
	for id := range beganB {
		require.True(t, snap[id].completed("crash-a"), "run %s began crash-b, but crash-a's completion is not durable:\n%v", id, snap[id])
	}

	s.finish(t, "2", ids, false, nil)
	s.checkCrashInvariants(t, []crashGen{{"1", snap}, {"2", readCrashJournal(t, s.db)}}, ids)
}

// TestCrashKillDuringActivity kills a child while the second activity of 5
// runs is executing (blocked). A restarted engine with a version of that
// activity that returns finishes every run: the interrupted activity ran
// twice, as the same attempt with the same idempotency key, and the others
// once.
func TestCrashKillDuringActivity(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const n = 5
	ids := crashRunIDs("during", n)
	c := s.startChild(t, "1", envCrashRuns+"="+strconv.Itoa(n), envCrashPrefix+"=during", envCrashBlock+"=crash-b")
	blocked := map[string]bool{}
	killed := crashKillWhen(t, c, func(line string) bool {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "blocked" {
			blocked[f[1]] = true
		}
		return len(blocked) == n
	})
	require.True(t, killed, c.Report())
	snap := s.snapshot(t)
	for _, id := range ids {
		rj := snap[id]
		require.True(t, rj.completed("crash-a"), "run %s: %v", id, rj)
		require.False(t, rj.completed("crash-b"), "run %s: %v", id, rj)
		require.Equal(t, history.StatusRunning, rj.info.Status, "run %s: %v", id, rj)
	}

	s.finish(t, "2", ids, false, nil)
	recs := s.checkCrashInvariants(t, []crashGen{{"1", snap}, {"2", readCrashJournal(t, s.db)}}, ids)
	for _, id := range ids {
		require.Equal(t, map[string]int{"1": 1}, crashCountExecs(recs, id, "crash-a"), "run %s\n%s", id, s.counterText(t))
		require.Equal(t, map[string]int{"1": 1, "2": 1}, crashCountExecs(recs, id, "crash-b"), "run %s\n%s", id, s.counterText(t))
		require.Equal(t, map[string]int{"2": 1}, crashCountExecs(recs, id, "crash-c"), "run %s\n%s", id, s.counterText(t))
	}
}

// TestCrashKillRightAfterStart kills a child that is starting runs from 4
// goroutines as soon as the third Start returned. Every run whose Start
// returned exists after the restart, and every run in the journal finishes.
func TestCrashKillRightAfterStart(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	c := s.startChild(t, "1", envCrashRuns+"=60", envCrashPrefix+"=start", envCrashStarters+"=4")
	started := 0
	killed := crashKillWhen(t, c, func(line string) bool {
		if strings.HasPrefix(line, "started ") {
			started++
		}
		return started == 3
	})
	require.True(t, killed, c.Report())
	snap := s.snapshot(t)
	t.Logf("at the kill: %s", crashProgress(snap))
	// Every line the child wrote counts, including those the pipe still held
	// when the kill landed: each one followed a Start that returned.
	var printed []string
	for _, l := range c.Lines() {
		if id, ok := strings.CutPrefix(l, "started "); ok {
			printed = append(printed, id)
		}
	}
	for _, id := range printed {
		rj, ok := snap[id]
		require.True(t, ok, "Start(%s) returned, but the run is not in the journal\n%s", id, c.Report())
		require.NotEmpty(t, rj.events, "run %s", id)
		require.Equal(t, history.EventRunStarted, rj.events[0].Type, "run %s: %v", id, rj)
	}
	ids := slices.Sorted(maps.Keys(snap))

	s.finish(t, "2", ids, false, func(ctx context.Context, eng *chorus.Engine) {
		all, err := eng.List(ctx, nil)
		require.NoError(t, err)
		require.Len(t, all, len(ids))
		for _, info := range all {
			require.Equal(t, chorus.StatusCompleted, info.Status, "run %s: %+v", info.ID, info)
		}
	})
	s.checkCrashInvariants(t, []crashGen{{"1", snap}, {"2", readCrashJournal(t, s.db)}}, ids)
}

// TestCrashKillKeepsActivityInfo kills a child while an activity executes;
// the attempt run again after the restart must see the same activity.Info
// as the one the crash cut short: the same step, attempt and idempotency
// key, the run's workflow name, and the time the activity was scheduled
// (that of its ActivityScheduled event).
func TestCrashKillKeepsActivityInfo(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const id = "info-000"
	c := s.startChild(t, "1", envCrashRuns+"=1", envCrashPrefix+"=info", envCrashBlock+"=crash-b")
	killed := crashKillWhen(t, c, func(line string) bool { return strings.HasPrefix(line, "blocked ") })
	require.True(t, killed, c.Report())

	s.finish(t, "2", []string{id}, false, nil)
	var sched history.Event
	for _, ev := range readCrashJournal(t, s.db)[id].events {
		if ev.Type == history.EventActivityScheduled && ev.Name == "crash-b" {
			sched = ev
		}
	}
	require.NotZero(t, sched.Seq, "crash-b is not in the journal")
	var got []crashExec
	for _, r := range s.execs(t) {
		if r.act == "crash-b" {
			got = append(got, r)
		}
	}
	want := []crashExec{
		{gen: "1", run: id, act: "crash-b", attempt: 1, step: sched.Seq, key: fmt.Sprintf("%s/%d", id, sched.Seq), workflow: crashWorkflowName, scheduledAt: sched.Time.UnixNano()},
		{gen: "2", run: id, act: "crash-b", attempt: 1, step: sched.Seq, key: fmt.Sprintf("%s/%d", id, sched.Seq), workflow: crashWorkflowName, scheduledAt: sched.Time.UnixNano()},
	}
	require.Equal(t, want, got, "activity.Info of crash-b before the kill (generation 1) and after the restart (generation 2);"+
		" workflow \"-\" means empty, scheduledAt 0 the zero time")
}

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

// TestCrashKillCycles drives 50 runs of the 3-activity workflow through 5
// child processes, each killed at a random moment (after a random number of
// Starts and activity executions), then finishes them in this process. Every
// run completes with the right result, and no activity whose completion was
// durable when a child was killed ran again. The seed is logged.
func TestCrashKillCycles(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const n, cycles = 50, 5
	ids := crashRunIDs("cycle", n)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	var gens []crashGen
	for g := 1; g <= cycles; g++ {
		gen := strconv.Itoa(g)
		c := s.startChild(t, gen, envCrashRuns+"="+strconv.Itoa(n), envCrashPrefix+"=cycle", envCrashStarters+"=4", envCrashWorkers+"=8")
		seen := 0
		killed := crashKillWhen(t, c, crashAfterSteps(1+rng.IntN(40), &seen))
		snap := s.snapshot(t)
		gens = append(gens, crashGen{gen, snap})
		t.Logf("cycle %d: killed=%v after %d starts and executions; %s", g, killed, seen, crashProgress(snap))
	}
	s.finish(t, "final", ids, true, nil)
	gens = append(gens, crashGen{"final", readCrashJournal(t, s.db)})
	s.checkCrashInvariants(t, gens, ids)
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
