package chorus_test

// Crash-durability tests that SIGKILL a child process running the 3-activity
// crash workflow; the child, the counter file and the invariants they check
// are in crash_test.go.

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
)

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
