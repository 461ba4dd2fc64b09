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

	"github.com/jackc/pgx/v5"
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

// activityWork bounds how long each activity attempt of the shared test
// takes, so that kills cut attempts short.
const activityWork = 200 * time.Millisecond

// signaledFile lists the runs whose signal was acknowledged: <run>.
const signaledFile = "signaled"

// goSignal is the signal each run of the shared test waits for between
// its first and second activity.
var goSignal = workflow.NewSignal[string]("kt-go")

// sharedResult is what run id of the shared test returns.
func sharedResult(id string) string {
	return id + "|" + activityNames[0] + "|go|" + strings.Join(activityNames[1:], "|")
}

// sharedDefinitions returns the workflow of the shared test: an activity,
// a signal, two more activities.
func sharedDefinitions(dir, gen string, store func() history.Store) (*workflow.Definition[string, string], []chorus.Definition) {
	defs := []chorus.Definition{}
	var acts []*activity.Definition[string, string]
	for _, name := range activityNames {
		a := countedActivity(dir, gen, name, store, activityWork)
		acts = append(acts, a)
		defs = append(defs, a)
	}
	wf := workflow.New("killtest-shared", func(ctx workflow.Context, id string) (string, error) {
		v, err := workflow.ExecuteActivity(ctx, acts[0], id).Get(ctx)
		if err != nil {
			return "", err
		}
		sig, _ := workflow.GetSignalChannel(ctx, goSignal).Receive(ctx)
		v += "|" + sig
		for _, a := range acts[1:] {
			if v, err = workflow.ExecuteActivity(ctx, a, v).Get(ctx); err != nil {
				return "", err
			}
		}
		return v, nil
	})
	return wf, append(defs, wf)
}

// sharedChild runs an engine on the database in shared mode, alongside
// the other children, and starts and signals its runs. It reports on
// stdout:
//
//	pid <pid>          at once
//	node <epoch>       it registered its node (fencing token epoch)
//	ack <run>          Start and Signal returned: the run and its signal are durable
//	started-all        every run of the child is started and signaled
//	fenced             its runs were adopted by another node; it exits with status 4
func sharedChild() {
	p := childproc.New("killtest shared engine")
	p.Require(envURL, envDir, envGen)
	url, dir, gen := os.Getenv(envURL), os.Getenv(envDir), os.Getenv(envGen)
	runs, ttl := p.NumOr(envRuns, 20), time.Duration(p.NumOr(envTTLms, int(leaseTTL/time.Millisecond)))*time.Millisecond
	p.Say("pid %d", os.Getpid())

	ctx := context.Background()
	st, err := postgres.Open(ctx, url, &postgres.Options{Shared: true, LeaseTTL: ttl, Owner: "gen-" + gen})
	if err != nil {
		p.Fail("open the store: %v", err)
	}
	p.Say("node %d", st.Epoch())
	fenced := func() {
		p.Say("fenced")
		os.Exit(4)
	}
	go func() {
		<-st.Lost()
		fenced()
	}()
	wf, defs := sharedDefinitions(dir, gen, func() history.Store { return st })
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
				id := fmt.Sprintf("s%s-%03d", gen, i)
				if _, err := chorus.Start(ctx, eng, wf, id, &chorus.StartOptions{ID: id}); err != nil {
					if errors.Is(err, history.ErrStoreClosed) {
						fenced()
					}
					p.Fail("start %s: %v", id, err)
				}
				if err := childproc.AppendLine(filepath.Join(dir, ackedFile), id); err != nil {
					p.Fail("count %s: %v", id, err)
				}
				if err := chorus.Signal(ctx, eng, id, goSignal, "go"); err != nil {
					if errors.Is(err, history.ErrStoreClosed) {
						fenced()
					}
					p.Fail("signal %s: %v", id, err)
				}
				if err := childproc.AppendLine(filepath.Join(dir, signaledFile), id); err != nil {
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

// startShared starts a child of the shared test and waits until it has
// registered its node.
func startShared(t *testing.T, url, dir string, gen, runs int) *child {
	t.Helper()
	c := &child{gen: gen, Child: testutil.StartChild(t, "shared", envURL+"="+url, envDir+"="+dir,
		envGen+"="+strconv.Itoa(gen), envRuns+"="+strconv.Itoa(runs), envTTLms+"="+strconv.Itoa(int(leaseTTL/time.Millisecond)))}
	deadline := time.Now().Add(2 * time.Minute)
	line, ok := c.Next(deadline)
	require.True(t, ok, "child %d exited at once\n%s", gen, c.Report())
	_, err := fmt.Sscanf(line, "pid %d", &c.pid)
	require.NoError(t, err, "child %d's first line %q\n%s", gen, line, c.Report())
	for {
		line, ok := c.Next(deadline)
		require.True(t, ok, "child %d exited before it registered\n%s", gen, c.Report())
		if strings.HasPrefix(line, "node ") {
			return c
		}
	}
}

// awaitAdopted waits until no node row named node is left: another node
// adopted its runs.
func awaitAdopted(t *testing.T, url, node string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM chorus_nodes WHERE name = $1`, node).Scan(&n))
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("node %s was not adopted: %v", node, ctx.Err())
		case <-tick.C:
		}
	}
}

// TestKillSharedEngines runs three engine processes on one PostgreSQL
// database in shared mode; each starts and signals runs of its own. One
// at a time, a random one is SIGKILLed at a random moment (after a random
// number of its acknowledged starts, or while it only runs its and adopted
// work) and replaced by a new process; the survivors adopt the dead one's
// runs once its lease expires. Every fourth cycle the victim is paused
// with SIGSTOP instead until its runs were adopted, then resumed: it must
// find itself fenced and stop. At the end every process is killed, this
// process adopts everything, and checks that every acknowledged run
// completes with the right result (its signal included: no acknowledged
// start or signal lost) and that no activity whose completion was
// journaled ran again.
func TestKillSharedEngines(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	cycles, runs := 12, 16
	if testing.Short() {
		cycles, runs = 5, 10
	}
	if n, err := strconv.Atoi(os.Getenv("KILLTEST_CYCLES")); err == nil && n > 0 {
		cycles = n
	}
	var kills, pauses, fenced int
	pausedGens := map[string]bool{}
	gen := 0
	var procs [3]*child
	for i := range procs {
		gen++
		procs[i] = startShared(t, url, dir, gen, runs)
	}
	for cycle := 1; cycle <= cycles; cycle++ {
		i := rand.IntN(len(procs))
		victim := procs[i]
		target := rand.IntN(runs + 1) // 0: only once it started all
		acks := 0
		stop := func(line string) bool {
			if strings.HasPrefix(line, "ack ") {
				acks++
			}
			if acks >= target && target > 0 || line == "started-all" {
				time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond) // a random moment
				return true
			}
			return false
		}
		deadline := time.Now().Add(2 * time.Minute)
		if cycle%4 != 0 {
			require.True(t, victim.KillWhen(deadline, stop),
				"cycle %d: child %d ended before it was killed\n%s", cycle, victim.gen, victim.Report())
			kills++
		} else {
			for {
				line, ok := victim.Next(deadline)
				require.True(t, ok, "cycle %d: child %d exited\n%s", cycle, victim.gen, victim.Report())
				if stop(line) {
					break
				}
			}
			require.NoError(t, syscall.Kill(victim.pid, syscall.SIGSTOP))
			pauses++
			awaitAdopted(t, url, "gen-"+strconv.Itoa(victim.gen))
			require.NoError(t, syscall.Kill(victim.pid, syscall.SIGCONT))
			code := victim.Wait(deadline)
			require.Equal(t, 4, code, "cycle %d: the resumed child %d did not stop as fenced\n%s", cycle, victim.gen, victim.Report())
			fenced++
			pausedGens[strconv.Itoa(victim.gen)] = true
		}
		gen++
		procs[i] = startShared(t, url, dir, gen, runs)
	}
	for _, c := range procs {
		if c.Kill() {
			kills++
		}
	}

	// This process adopts every run and finishes the work.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, url, &postgres.Options{Shared: true, LeaseTTL: leaseTTL, Owner: "verifier"})
	require.NoError(t, err)
	wf, defs := sharedDefinitions(dir, "verifier", func() history.Store { return st })
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: defs})
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	for g := 1; g <= gen; g++ {
		awaitAdopted(t, url, "gen-"+strconv.Itoa(g))
	}

	acked, err := testutil.ReadLines(filepath.Join(dir, ackedFile))
	require.NoError(t, err)
	signaled, err := testutil.ReadLines(filepath.Join(dir, signaledFile))
	require.NoError(t, err)
	isSignaled := map[string]bool{}
	for _, id := range signaled {
		isSignaled[id] = true
	}
	var lostStarts, lostSignals, wrong, unsignaled int
	for _, id := range acked {
		if isSignaled[id] {
			continue
		}
		// Its process died between the start and the signal: the signal
		// was never acknowledged, so send it now.
		unsignaled++
		err := chorus.Signal(ctx, eng, id, goSignal, "go")
		if errors.Is(err, chorus.ErrRunNotFound) {
			continue // counted as lost below
		}
		require.NoError(t, err, "signal %s", id)
	}
	for _, id := range acked {
		r, err := chorus.Lookup(ctx, eng, wf, id)
		if errors.Is(err, chorus.ErrRunNotFound) {
			lostStarts++
			t.Errorf("run %s was acknowledged and is not in the journal", id)
			continue
		}
		require.NoError(t, err, "run %s", id)
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := r.Result(rctx)
		rcancel()
		switch {
		case err != nil && isSignaled[id] && errors.Is(err, context.DeadlineExceeded):
			lostSignals++
			t.Errorf("run %s: its signal was acknowledged and it never completed: %v", id, err)
		case err != nil || out != sharedResult(id):
			wrong++
			t.Errorf("run %s: Result = %q, %v; want %q", id, out, err, sharedResult(id))
		}
	}
	execs, err := testutil.ReadLines(filepath.Join(dir, execsFile))
	require.NoError(t, err)
	seen := map[string]bool{}
	reruns := 0
	for _, l := range execs {
		k := strings.Join(strings.Fields(l)[:2], " ")
		if seen[k] {
			reruns++
		}
		seen[k] = true
	}
	all, err := testutil.ReadLines(filepath.Join(dir, dupsFile))
	require.NoError(t, err)
	var dups []string
	staleInFlight := 0
	for _, l := range all {
		if fs := strings.Fields(l); pausedGens[fs[len(fs)-1]] {
			staleInFlight++
			continue
		}
		dups = append(dups, l)
	}
	t.Logf("processes 3, cycles %d, kills %d, pauses %d (fenced %d), acknowledged runs %d (signals %d, and %d sent at the end), "+
		"lost starts %d, lost signals %d, wrong results %d, activity attempts %d, attempts re-run after a kill cut them short %d, "+
		"completed activities run again %d (and %d attempts of paused processes that went on after the adoption)",
		cycles, kills, pauses, fenced, len(acked), len(signaled), unsignaled, lostStarts, lostSignals, wrong, len(execs), reruns,
		len(dups), staleInFlight)
	require.Empty(t, dups, "activities whose completion was journaled ran again")
}
