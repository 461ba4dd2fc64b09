package chorus_test

// Store fault injection: every run of the torture workload (activities, a
// timer, a signal, a saga that compensates, a child workflow, a signal a
// run sends itself) goes through an engine whose store is
// internal/faultstore wrapped around an in-memory SQLite store, one engine
// and one seed at a time. The store fails commits before writing, fails
// single batches, commits and then reports an error or panics, and fails
// reads, each by seeded probability, until the seed's fault budget is
// spent. Three profiles: transient (failures before writing, failed
// reads), unknown-outcome (commits whose outcome the store cannot tell:
// landed and reported an error, landed and panicked, or lost), mixed
// (everything, reads failing often). The client side retries what a client would: a Start (with
// AttachIfExists), a Signal (after checking the journal for it, since a
// commit whose outcome is unknown may have landed), a Result whose read
// failed.
//
// Each seed then checks, from the journal read without faults: every run
// ended as it must (none stranded), no step answered twice, no signal
// received twice, every client error an injected one; and, from a count
// kept by the activities, that each activity step ran once. A failing seed is
// printed with the command that replays it; the test then reopens an
// engine on the same store without faults, to tell "stranded until the
// next Open" from "lost".
//
//	go test -run 'TestFaultStore' .                               # CI: 150 seeds per profile (40 with -race)
//	go test -run 'TestFaultStore' -fault.seeds=3000 -timeout 1h . # longer
//	go test -run 'TestFaultStore/unknown-outcome' -fault.seed=42 -v .

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
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
)

var (
	faultSeeds = flag.Int("fault.seeds", 150, "TestFaultStore: seeds per fault profile")
	faultSeed  = flag.Int64("fault.seed", -1, "TestFaultStore: run only this seed (to replay a failure)")
	faultRuns  = flag.Int("fault.runs", 12, "TestFaultStore: runs of the workload per seed")
	faultStop  = flag.Int("fault.maxfail", 5, "TestFaultStore: stop a profile after this many failing seeds (0: never)")
)

// faultProfiles are the mixes of faults TestFaultStore runs.
var faultProfiles = []struct {
	name  string
	rates faultstore.Rates
	about string
}{
	{"transient", faultstore.Rates{CommitError: 0.04, BatchError: 0.06, Read: 0.06, MaxFaults: 20},
		"commits and batches that fail before writing; failed reads"},
	{"unknown-outcome", faultstore.Rates{CommitUnknown: 0.05, CommitLost: 0.03, CommitPanic: 0.03, MaxFaults: 6},
		"commits whose outcome is unknown: they land and report an error, land and panic, or are lost"},
	{"mixed", faultstore.Rates{CommitError: 0.03, BatchError: 0.03, CommitUnknown: 0.03, CommitLost: 0.02, CommitPanic: 0.02, Read: 0.1, MaxFaults: 25},
		"every kind of fault, reads failing often"},
}

// keepOpen keeps the engine from closing a store the test still reads.
type keepOpen struct{ history.Store }

func (keepOpen) Close() error { return nil }

// faultResult is what one seed found.
type faultResult struct {
	seed     int64
	problems []string
	stats    faultstore.Stats
	faults   []faultstore.Fault
	runs     int
}

// faultRunWait bounds how long a run may take to end once started; a run
// that takes longer is stranded. Fault-free, a run takes milliseconds; each
// fault costs the engine's 100 ms redelivery pause at most, but a chain of
// them under the race detector on a busy 2-core machine took more than 5 s
// for a run that then ended (and ended after a reopen), and more than 15 s
// with other test binaries and benchmarks sharing the two cores, so the
// bound is generous: it catches runs that never end, not slow ones.
const faultRunWait = 45 * time.Second

// isInjected reports an error that a client may see because of a fault.
// A store that panics reaches the caller as a new error that only quotes
// the panic value (the engine does not keep the chain), hence the text.
func isInjected(err error) bool {
	return errors.Is(err, faultstore.ErrInjected) || err != nil && strings.Contains(err.Error(), faultstore.ErrInjected.Error())
}

// runFaultSeed runs the workload through one engine on a faulty store.
func runFaultSeed(seed int64, rates faultstore.Rates, nRuns int) faultResult {
	res := faultResult{seed: seed}
	var mu sync.Mutex
	bad := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		res.problems = append(res.problems, fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*faultRunWait)
	defer cancel()
	inner, err := sqlite.Open(ctx, ":memory:", nil)
	if err != nil {
		bad("open store: %v", err)
		return res
	}
	defer inner.Close()
	fs := faultstore.Wrap(keepOpen{inner}, seed, rates)
	// Executions are counted per step: without a crash, and with
	// activities that never fail, each step runs exactly once.
	var execMu sync.Mutex
	execs := map[string]int{}
	w := torture.New(torture.Hooks{Begin: func(ctx context.Context, act string, info activity.Info) error {
		execMu.Lock()
		execs[info.IdempotencyKey]++
		execMu.Unlock()
		return nil
	}})
	// The workload's code never blocks; a loaded machine (CI runs packages
	// in parallel on two cores) can still keep a coroutine off the CPU for
	// over the default second, which would block a run as deadlocked.
	opts := &chorus.Options{Definitions: w.Definitions(), DeadlockTimeout: 30 * time.Second}
	defer func() {
		execMu.Lock()
		defer execMu.Unlock()
		for k, n := range execs {
			if n > 1 {
				bad("activity step %s ran %d times in one process", k, n)
			}
		}
	}()

	var eng *chorus.Engine
	for attempt := 0; eng == nil; attempt++ {
		eng, err = chorus.OpenStore(ctx, fs, opts)
		if err != nil && (!isInjected(err) || attempt > 100) {
			bad("OpenStore: %v", err)
			return res
		}
	}
	closed := false
	defer func() {
		if !closed {
			_ = eng.Close(context.Background())
		}
	}()

	ids := make([]string, nRuns)
	for i := range ids {
		ids[i] = torture.RunID(int(seed)*nRuns + i)
	}
	res.runs = len(ids)
	var stranded []string
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if !faultClient(ctx, eng, w, inner, id, bad) {
				mu.Lock()
				stranded = append(stranded, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.stats, res.faults = fs.Stats(), fs.Faults()
	fs.Disable()

	// Check every journal, children included, as the store holds it.
	infos, err := inner.ListRuns(ctx, history.ListFilter{})
	if err != nil {
		bad("list runs: %v", err)
		return res
	}
	slices.Sort(stranded)
	for _, info := range infos {
		evs, err := inner.Events(ctx, info.ID, 0)
		if err != nil {
			bad("events of %s: %v", info.ID, err)
			continue
		}
		if slices.Contains(stranded, info.ID) || (!info.Status.Ended() && info.Parent != "") {
			for _, p := range torture.CheckJournal(info.ID, evs) {
				bad("%s", p)
			}
			continue
		}
		for _, p := range torture.CheckFinal(info, evs) {
			bad("%s", p)
		}
	}
	// Generous: a Close that hangs fails, but a loaded machine (CI runs
	// packages in parallel on two cores) may take a while to stop.
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	err = eng.Close(cctx)
	ccancel()
	closed = true
	if err != nil {
		bad("Close: %v", err)
	}
	if len(stranded) == 0 {
		return res
	}

	// Stranded runs: say what they wait for, then see whether a new engine
	// on the same journal, without faults, finishes them.
	tasks, _ := inner.Tasks(ctx)
	for _, id := range stranded {
		info, _ := inner.Run(ctx, id)
		evs, _ := inner.Events(ctx, id, 0)
		var pending []string
		for _, t := range tasks {
			if t.RunID == id || strings.HasPrefix(t.RunID, id+"/") {
				pending = append(pending, fmt.Sprintf("%s step %d %v %s", t.RunID, t.Step, t.Kind, t.Name))
			}
		}
		last := "no events"
		if len(evs) > 0 {
			last = evs[len(evs)-1].String()
		}
		bad("run %s stranded: %s, %d events (last %s), pending tasks %v", id, torture.Describe(info), len(evs), last, pending)
	}
	eng2, err := chorus.OpenStore(ctx, keepOpen{inner}, opts)
	if err != nil {
		bad("reopen without faults: %v", err)
		return res
	}
	defer func() { _ = eng2.Close(context.Background()) }()
	for _, id := range stranded {
		rctx, rcancel := context.WithTimeout(ctx, faultRunWait)
		run, err := chorus.Lookup(rctx, eng2, w.Workflow(mustKind(id)), id)
		if err == nil {
			_, err = run.Result(rctx)
		}
		rcancel()
		info, _ := inner.Run(ctx, id)
		if info.Status.Ended() {
			bad("run %s: after a reopen without faults it ended: %s", id, torture.Describe(info))
		} else {
			bad("run %s: still not ended after a reopen without faults: %v", id, err)
		}
	}
	return res
}

func mustKind(id string) torture.Kind {
	k, _ := torture.KindOf(id)
	return k
}

// faultClient starts run id, signals it if its kind waits for a signal,
// and waits for it to end, retrying what failed because of a fault. It
// returns false if the run did not end within faultRunWait.
func faultClient(ctx context.Context, eng *chorus.Engine, w *torture.Workload, inner history.Store, id string, bad func(string, ...any)) bool {
	var run *chorus.Run[string]
	for attempt := 0; ; attempt++ {
		var err error
		run, err = w.Start(ctx, eng, id)
		if err == nil {
			break
		}
		if !isInjected(err) || attempt > 200 {
			bad("run %s: Start: %v", id, err)
			return true
		}
	}
	if k, _ := torture.KindOf(id); k == torture.KindSignal {
		v := torture.SignalValue(id)
		for attempt := 0; ; attempt++ {
			err := chorus.Signal(ctx, eng, id, w.Go, v)
			if err == nil {
				break
			}
			if !isInjected(err) || attempt > 200 {
				bad("run %s: Signal: %v", id, err)
				return true
			}
			// The commit may have landed although it reported an error:
			// a client that must not signal twice looks first.
			if evs, rerr := inner.Events(ctx, id, 0); rerr == nil && slices.ContainsFunc(evs, func(e history.Event) bool {
				return e.Type == history.EventSignalReceived && string(e.Payload) == `"`+v+`"`
			}) {
				break
			}
		}
	}
	rctx, cancel := context.WithTimeout(ctx, faultRunWait)
	defer cancel()
	for {
		_, err := run.Result(rctx)
		var we *chorus.WorkflowError
		switch {
		case err == nil, errors.As(err, &we):
			return true // the outcome is checked from the journal
		case isInjected(err):
			continue
		case rctx.Err() != nil:
			return false
		default:
			bad("run %s: Result: %v", id, err)
			return true
		}
	}
}

// faultSeedList returns the seeds to run for a profile.
func faultSeedList(profile int) []int64 {
	if *faultSeed >= 0 {
		return []int64{*faultSeed}
	}
	n := *faultSeeds
	if raceDetector && !flagSet("fault.seeds") {
		n = 40 // the race detector makes each seed several times slower
	}
	seeds := make([]int64, n)
	for i := range seeds {
		seeds[i] = int64(profile*1_000_000 + i)
	}
	return seeds
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// TestFaultStore runs every profile's seeds, 16 engines at a time.
func TestFaultStore(t *testing.T) {
	t.Parallel()
	for pi, p := range faultProfiles {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			seeds := faultSeedList(pi)
			start := time.Now()
			var (
				mu      sync.Mutex
				failing []faultResult
				total   faultstore.Stats
				runs    int
				done    atomic.Int64
			)
			total.Faults = map[faultstore.Op]int{}
			next := make(chan int64)
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					for seed := range next {
						r := runFaultSeed(seed, p.rates, *faultRuns)
						done.Add(1)
						mu.Lock()
						runs += r.runs
						total.Commits += r.stats.Commits
						total.Batches += r.stats.Batches
						total.Reads += r.stats.Reads
						for k, v := range r.stats.Faults {
							total.Faults[k] += v
						}
						if len(r.problems) > 0 {
							failing = append(failing, r)
						}
						mu.Unlock()
					}
				})
			}
			for _, s := range seeds {
				mu.Lock()
				stop := *faultStop > 0 && len(failing) >= *faultStop
				mu.Unlock()
				if stop {
					break
				}
				next <- s
			}
			close(next)
			wg.Wait()
			t.Logf("profile %s (%s): %d seeds, %d runs, %v, in %v; %d failing seeds; findings: %s",
				p.name, p.about, done.Load(), runs, total, time.Since(start).Round(time.Millisecond), len(failing), classify(failing))
			slices.SortFunc(failing, func(a, b faultResult) int { return int(a.seed - b.seed) })
			for i, f := range failing {
				if i == 5 {
					var rest []string
					for _, g := range failing[i:] {
						rest = append(rest, fmt.Sprint(g.seed))
					}
					t.Errorf("%d more failing seeds: %s", len(rest), strings.Join(rest, " "))
					break
				}
				faults := make([]string, len(f.faults))
				for i, x := range f.faults {
					faults[i] = x.String()
				}
				t.Errorf("seed %d failed (replay: go test -run 'TestFaultStore/%s' -fault.seed=%d -v .):\n  %s\n  faults injected: %s",
					f.seed, p.name, f.seed, strings.Join(f.problems, "\n  "), strings.Join(faults, "; "))
			}
		})
	}
}

// classify counts the findings of failing seeds by kind.
func classify(failing []faultResult) string {
	kinds := []struct{ name, substr string }{
		{"stranded runs", " stranded: "},
		{"of which finished after a reopen", "after a reopen without faults it ended"},
		{"of which lost", "still not ended after a reopen"},
		{"steps or signals recorded twice", "twice"},
		{"activity steps run more than once", " times in one process"},
		{"wrong outcomes", "; want "},
		{"unexpected client errors", ": Start: "},
		{"unexpected client errors", ": Signal: "},
		{"unexpected client errors", ": Result: "},
	}
	counts := map[string]int{}
	for _, f := range failing {
		for _, p := range f.problems {
			for _, k := range kinds {
				if strings.Contains(p, k.substr) {
					counts[k.name]++
				}
			}
		}
	}
	var out []string
	for _, k := range kinds {
		if n, ok := counts[k.name]; ok {
			out = append(out, fmt.Sprintf("%s %d", k.name, n))
			delete(counts, k.name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// TestFaultStoreBystanders: while every batch and read of a few victim
// runs fails, the engine keeps serving the other runs; once the faults
// stop, the victims finish too, each step recorded once.
func TestFaultStoreBystanders(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	inner, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	victims := []string{torture.RunID(0), torture.RunID(1), torture.RunID(3)} // acts, timer, saga
	fs := faultstore.Wrap(keepOpen{inner}, 1, faultstore.Rates{BatchError: 1, Read: 1, Only: func(id string) bool {
		for _, v := range victims {
			if id == v || strings.HasPrefix(id, v+"/") {
				return true
			}
		}
		return false
	}})
	// The victims start fault-free, and their first activities fail to be
	// recorded from then on.
	fs.Disable()
	released := make(chan struct{})
	w := torture.New(torture.Hooks{Begin: func(ctx context.Context, act string, info activity.Info) error {
		if slices.Contains(victims, info.RunID) {
			select {
			case <-released:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}})
	eng, err := chorus.OpenStore(ctx, fs, &chorus.Options{Definitions: w.Definitions(), DeadlockTimeout: 30 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	var vruns []*chorus.Run[string]
	for _, id := range victims {
		r, err := w.Start(ctx, eng, id)
		require.NoError(t, err)
		vruns = append(vruns, r)
	}
	fs.Enable()
	close(released)

	var bystanders []string
	for i := 6; len(bystanders) < 60; i++ {
		if id := torture.RunID(i); !slices.Contains(victims, id) {
			bystanders = append(bystanders, id)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(bystanders))
	for i, id := range bystanders {
		wg.Go(func() {
			r, err := w.Start(ctx, eng, id)
			if err == nil && mustKind(id) == torture.KindSignal {
				err = chorus.Signal(ctx, eng, id, w.Go, torture.SignalValue(id))
			}
			if err == nil {
				_, err = r.Result(ctx)
				var we *chorus.WorkflowError
				if errors.As(err, &we) && mustKind(id) == torture.KindSaga {
					err = nil
				}
			}
			errs[i] = err
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...), "bystanders while the victims fail")
	for _, id := range victims {
		info, err := inner.Run(ctx, id)
		require.NoError(t, err)
		require.False(t, info.Status.Ended(), "victim %s ended while every one of its writes failed", id)
	}
	st := fs.Stats()
	require.Positive(t, st.Faults[faultstore.OpBatchError]+st.Faults[faultstore.OpEventsRead]+st.Faults[faultstore.OpRunRead],
		"the victims' writes or reads failed: %v", st)
	t.Logf("while the victims failed: %v", st)

	fs.Disable()
	for _, r := range vruns {
		_, err := r.Result(ctx)
		var we *chorus.WorkflowError
		if err != nil && !(errors.As(err, &we) && mustKind(r.ID()) == torture.KindSaga) {
			require.NoError(t, err, "victim %s after the faults stopped", r.ID())
		}
	}
	infos, err := inner.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, infos, len(victims)+len(bystanders)+10) // ten child runs
	for _, info := range infos {
		evs, err := inner.Events(ctx, info.ID, 0)
		require.NoError(t, err)
		require.Empty(t, torture.CheckFinal(info, evs))
	}
}
