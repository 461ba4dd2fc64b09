package killtest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/postgres/pgtest"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
	"github.com/chorusdev/chorus/workflow"
)

// The child's settings.
const (
	envURL   = "KILLTEST_URL"    // the database (with its private schema)
	envDir   = "KILLTEST_DIR"    // where the counter files are
	envGen   = "KILLTEST_GEN"    // the child's generation, which prefixes its run IDs
	envRuns  = "KILLTEST_RUNS"   // how many runs the child starts once it owns the database
	envTTLms = "KILLTEST_TTL_MS" // the lease's TTL
)

// The counter files, outside the journal. Each line is written with one
// O_APPEND write, so it is whole or absent when its process dies.
const (
	ackedFile = "acked" // <run>: Start returned nil (the run is acknowledged)
	execsFile = "execs" // <run> <step> <activity> <gen>: an activity attempt began
	dupsFile  = "dups"  // <run> <step> <activity> <gen>: it began although its completion was journaled
)

const leaseTTL = time.Second

func TestMain(m *testing.M) {
	childproc.RunMode(map[string]func(){"engine": engineChild, "shared": sharedChild})
	os.Exit(m.Run())
}

var activityNames = []string{"kt-a", "kt-b", "kt-c"}

func result(id string) string { return id + "|" + strings.Join(activityNames, "|") }

// definitions returns the workflow (three activities in a row) and its
// activities. Each activity attempt first reads its run's journal through
// store: finding its own completion there means that an activity that had
// completed durably is running again, which is counted in dups.
func definitions(dir, gen string, store func() history.Store) (*workflow.Definition[string, string], []chorus.Definition) {
	var acts []*activity.Definition[string, string]
	for _, name := range activityNames {
		acts = append(acts, countedActivity(dir, gen, name, store, 0))
	}
	wf := workflow.New("killtest", func(ctx workflow.Context, id string) (string, error) {
		v := id
		for _, a := range acts {
			var err error
			if v, err = workflow.ExecuteActivity(ctx, a, v).Get(ctx); err != nil {
				return "", err
			}
		}
		return v, nil
	})
	defs := []chorus.Definition{wf}
	for _, a := range acts {
		defs = append(defs, a)
	}
	return wf, defs
}

// countedActivity returns activity name, whose attempts append to
// execsFile and, when they find their own completion in the journal
// already, to dupsFile. With work, each attempt takes a random time up to
// work (the workload's own duration, so that kills cut attempts short).
func countedActivity(dir, gen, name string, store func() history.Store, work time.Duration) *activity.Definition[string, string] {
	return activity.New(name, func(ctx context.Context, in string) (string, error) {
		info := activity.GetInfo(ctx)
		line := fmt.Sprintf("%s %d %s %s", info.RunID, info.Step, name, gen)
		evs, err := store().Events(ctx, info.RunID, 0)
		if err != nil {
			return "", err
		}
		for _, e := range evs {
			if e.Type == history.EventActivityCompleted && e.Ref == info.Step {
				if err := childproc.AppendLine(filepath.Join(dir, dupsFile), line); err != nil {
					return "", err
				}
			}
		}
		if err := childproc.AppendLine(filepath.Join(dir, execsFile), line); err != nil {
			return "", err
		}
		if work > 0 {
			select {
			case <-time.After(rand.N(work)):
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return in + "|" + name, nil
	})
}

// engineChild waits as a standby for the database's lease, then runs an
// engine on it and starts its runs. It reports on stdout:
//
//	pid <pid>          at once
//	owner <epoch>      it took the lease over (fencing token epoch)
//	ack <run>          Start returned: the run is durable
//	started-all        every run of the child is started (it goes on
//	                   running the engine until it is killed)
//	fenced             it found its lease taken over; it exits with status 4
func engineChild() {
	p := childproc.New("killtest engine")
	p.Require(envURL, envDir, envGen)
	url, dir, gen := os.Getenv(envURL), os.Getenv(envDir), os.Getenv(envGen)
	runs, ttl := p.NumOr(envRuns, 20), time.Duration(p.NumOr(envTTLms, int(leaseTTL/time.Millisecond)))*time.Millisecond
	p.Say("pid %d", os.Getpid())

	ctx := context.Background()
	st, err := postgres.Open(ctx, url, &postgres.Options{Standby: true, LeaseTTL: ttl, Owner: "gen-" + gen})
	if err != nil {
		p.Fail("open the store: %v", err)
	}
	p.Say("owner %d", st.Epoch())
	fenced := func() {
		p.Say("fenced")
		os.Exit(4)
	}
	go func() {
		<-st.Lost()
		fenced()
	}()
	wf, defs := definitions(dir, gen, func() history.Store { return st })
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{
		Definitions: defs,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		p.Fail("open the engine: %v", err)
	}
	var wg sync.WaitGroup
	const starters = 2
	for s := range starters {
		wg.Go(func() {
			for i := s; i < runs; i += starters {
				id := fmt.Sprintf("g%s-%03d", gen, i)
				if _, err := chorus.Start(ctx, eng, wf, id, &chorus.StartOptions{ID: id}); err != nil {
					if errors.Is(err, history.ErrStoreClosed) {
						fenced()
					}
					p.Fail("start %s: %v", id, err)
				}
				if err := childproc.AppendLine(filepath.Join(dir, ackedFile), id); err != nil {
					p.Fail("count %s: %v", id, err)
				}
				p.Say("ack %s", id)
			}
		})
	}
	wg.Wait()
	p.Say("started-all")
	select {} // the engine goes on until the parent kills the process
}

// child is one engine process of the test.
type child struct {
	*testutil.Child
	gen int
	pid int
}

func startChild(t *testing.T, url, dir string, gen, runs int) *child {
	c := &child{gen: gen, Child: testutil.StartChild(t, "engine", envURL+"="+url, envDir+"="+dir,
		envGen+"="+strconv.Itoa(gen), envRuns+"="+strconv.Itoa(runs), envTTLms+"="+strconv.Itoa(int(leaseTTL/time.Millisecond)))}
	line, ok := c.Next(time.Now().Add(2 * time.Minute))
	require.True(t, ok, "child %d exited at once\n%s", gen, c.Report())
	_, err := fmt.Sscanf(line, "pid %d", &c.pid)
	require.NoError(t, err, "child %d's first line %q\n%s", gen, line, c.Report())
	return c
}

// awaitOwner reads c's lines until it reports it took the lease over, and
// returns its epoch.
func awaitOwner(t *testing.T, c *child) int64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		line, ok := c.Next(deadline)
		require.True(t, ok, "child %d exited before it took the lease over\n%s", c.gen, c.Report())
		var epoch int64
		if _, err := fmt.Sscanf(line, "owner %d", &epoch); err == nil {
			return epoch
		}
	}
}

type figures struct {
	kills, pauses, fenced int
	acked, lost, wrong    int
	execs, reruns, dups   int
	staleInFlight         int
	epochs                []int64
}

// TestKillOwnerTakeover runs engines in child processes on one PostgreSQL
// database: one owns it and starts runs, one waits as a standby. The owner
// is SIGKILLed after a random number of acknowledged starts, or, every
// third cycle, paused with SIGSTOP until the standby has taken over and
// then resumed, which must fence it (it stops without writing). A new
// standby is started each cycle. At the end this process takes the
// database over and checks that every acknowledged run completes with the
// right result, that no activity whose completion was journaled ran again,
// and that the fencing tokens of the successive owners increase.
func TestKillOwnerTakeover(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	cycles, runs := 9, 24
	if testing.Short() {
		cycles, runs = 4, 16
	}
	if n, err := strconv.Atoi(os.Getenv("KILLTEST_CYCLES")); err == nil && n > 0 {
		cycles = n
	}
	var f figures
	pausedGens := map[string]bool{} // generations that were paused and fenced
	gen := 1
	owner := startChild(t, url, dir, gen, runs)
	f.epochs = append(f.epochs, awaitOwner(t, owner))
	gen++
	standby := startChild(t, url, dir, gen, runs)
	for cycle := 1; cycle <= cycles; cycle++ {
		target := 1 + rand.IntN(runs-1)
		acks := 0
		stop := func(line string) bool {
			if strings.HasPrefix(line, "ack ") {
				acks++
			}
			return acks >= target || line == "started-all"
		}
		if cycle%3 != 0 {
			require.True(t, owner.KillWhen(time.Now().Add(2*time.Minute), stop),
				"cycle %d: the owner (child %d) ended before it was killed\n%s", cycle, owner.gen, owner.Report())
			f.kills++
			f.epochs = append(f.epochs, awaitOwner(t, standby))
		} else {
			// Pause the owner past its lease: the standby takes over; the
			// owner, resumed, must find itself fenced and stop.
			deadline := time.Now().Add(2 * time.Minute)
			for {
				line, ok := owner.Next(deadline)
				require.True(t, ok, "cycle %d: the owner (child %d) exited\n%s", cycle, owner.gen, owner.Report())
				if stop(line) {
					break
				}
			}
			require.NoError(t, syscall.Kill(owner.pid, syscall.SIGSTOP))
			f.pauses++
			f.epochs = append(f.epochs, awaitOwner(t, standby))
			require.NoError(t, syscall.Kill(owner.pid, syscall.SIGCONT))
			// Its starts committed before the pause may still be
			// acknowledged; nothing after the takeover may commit, which
			// the checks at the end see (a run acknowledged and missing,
			// an activity run again).
			code := owner.Wait(deadline)
			require.Equal(t, 4, code, "cycle %d: the resumed owner (child %d) did not stop as fenced\n%s", cycle, owner.gen, owner.Report())
			f.fenced++
			pausedGens[strconv.Itoa(owner.gen)] = true
		}
		owner = standby
		gen++
		standby = startChild(t, url, dir, gen, runs)
	}
	// The last owner dies too, and the standby with it: this process takes
	// over and finishes the work.
	require.True(t, owner.Kill(), "the last owner ended by itself\n%s", owner.Report())
	f.kills++
	standby.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, url, &postgres.Options{Standby: true, LeaseTTL: leaseTTL, Owner: "verifier"})
	require.NoError(t, err)
	f.epochs = append(f.epochs, st.Epoch())
	wf, defs := definitions(dir, "verifier", func() history.Store { return st })
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: defs})
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Close(context.Background()) })

	acked, err := testutil.ReadLines(filepath.Join(dir, ackedFile))
	require.NoError(t, err)
	f.acked = len(acked)
	for _, id := range acked {
		r, err := chorus.Lookup(ctx, eng, wf, id)
		if errors.Is(err, chorus.ErrRunNotFound) {
			f.lost++
			t.Errorf("run %s was acknowledged and is not in the journal", id)
			continue
		}
		require.NoError(t, err, "run %s", id)
		out, err := r.Result(ctx)
		if err != nil || out != result(id) {
			f.wrong++
			t.Errorf("run %s: Result = %q, %v; want %q", id, out, err, result(id))
		}
	}
	execs, err := testutil.ReadLines(filepath.Join(dir, execsFile))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, l := range execs {
		k := strings.Join(strings.Fields(l)[:2], " ")
		if seen[k] {
			f.reruns++
		}
		seen[k] = true
	}
	f.execs = len(execs)
	// An attempt that a paused process had begun before the pause may go
	// on after the takeover, once resumed, and find that the new owner
	// completed the activity in the meantime: at-least-once, not a
	// completed activity started again. Those are counted apart.
	all, err := testutil.ReadLines(filepath.Join(dir, dupsFile))
	require.NoError(t, err)
	var dups []string
	for _, l := range all {
		if fs := strings.Fields(l); pausedGens[fs[len(fs)-1]] {
			f.staleInFlight++
			continue
		}
		dups = append(dups, l)
	}
	f.dups = len(dups)
	t.Logf("kills %d, pauses %d (fenced %d), acknowledged runs %d, lost %d, wrong results %d, activity attempts %d, "+
		"attempts re-run after a kill cut them short %d, completed activities run again %d "+
		"(and %d attempts of paused processes that went on after the takeover), owner epochs %v",
		f.kills, f.pauses, f.fenced, f.acked, f.lost, f.wrong, f.execs, f.reruns, f.dups, f.staleInFlight, f.epochs)
	require.Zero(t, f.dups, "activities whose completion was journaled ran again: %v", dups)
	for i := 1; i < len(f.epochs); i++ {
		require.Greater(t, f.epochs[i], f.epochs[i-1], "fencing tokens of successive owners: %v", f.epochs)
	}
}
