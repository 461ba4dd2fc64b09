package engine

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func deadlockRun(timeout time.Duration) *Run {
	e := &Engine{deadlockTimeout: timeout, log: slog.New(slog.NewTextHandler(io.Discard, nil)), runs: map[string]*Run{}}
	return &Run{eng: e, id: "stuck-run"}
}

// A coroutine blocked in plain Go is abandoned after the timeout: the run
// gets a *DeadlockError with the goroutine's stack, kill returns, and when
// the goroutine wakes up its next workflow call ends it before it changes
// anything.
func TestDeadlockAbandonsStuckCoroutine(t *testing.T) {
	r := deadlockRun(50 * time.Millisecond)
	stuck, exited := make(chan struct{}), make(chan struct{})
	resumed := false
	r.spawn(func() {
		defer close(exited)
		<-stuck // a Go channel: invisible to the scheduler
		r.Await(never)
		resumed = true
	})
	r.runUntilBlocked()
	var de *DeadlockError
	if !errors.As(r.fatal, &de) {
		t.Fatalf("fatal = %v, want a *DeadlockError", r.fatal)
	}
	if de.RunID != "stuck-run" || de.Timeout != 50*time.Millisecond || !strings.Contains(de.Stack, "TestDeadlockAbandonsStuckCoroutine") {
		t.Fatalf("DeadlockError = %+v; want the run, the timeout and the stuck goroutine's stack", de)
	}
	r.kill() // must not wait for the abandoned coroutine
	if len(r.cos) != 0 {
		t.Fatalf("%d coroutines left after kill", len(r.cos))
	}
	fatal := r.fatal
	close(stuck)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the abandoned goroutine did not end at its workflow call")
	}
	if resumed || r.fatal != fatal {
		t.Fatal("the abandoned goroutine went on or changed the run")
	}
}

// The bound is per stretch of one coroutine's execution: a run whose code
// yields often is never taken for deadlocked, however long it runs in
// total or waits between inputs.
func TestDeadlockBoundIsPerStretch(t *testing.T) {
	const timeout = 20 * time.Millisecond
	r := deadlockRun(timeout)
	turn, seen := 0, 0
	r.spawn(func() {
		for {
			r.Await(func() bool { return turn > seen })
			seen = turn
		}
	})
	start := time.Now()
	for time.Since(start) < 10*timeout {
		turn++
		r.runUntilBlocked()
		if r.fatal != nil {
			t.Fatalf("after %v of short stretches: %v", time.Since(start), r.fatal)
		}
	}
	time.Sleep(2 * timeout) // a run waiting for its next input holds no control
	turn++
	r.runUntilBlocked()
	if r.fatal != nil || seen != turn {
		t.Fatalf("after an idle wait: fatal %v, seen %d of %d", r.fatal, seen, turn)
	}
	r.kill()
}

// A goroutine that is not one of the run's coroutines is recognized even
// while a coroutine holds control, stopped before the call does anything,
// and reported as the run's fatal error at the next hand-off.
func TestForeignGoroutineIsStoppedWhileACoroutineRuns(t *testing.T) {
	r := deadlockRun(0)
	done := make(chan struct{})
	called := false
	r.spawn(func() {
		go func() {
			defer close(done)
			r.Await(func() bool { return true })
			called = true
		}()
		<-done // hold control while the intruder calls
		r.Await(never)
	})
	r.runUntilBlocked()
	var ge *GoroutineError
	if !errors.As(r.fatal, &ge) || ge.RunID != "stuck-run" || !strings.Contains(ge.Stack, "TestForeignGoroutine") {
		t.Fatalf("fatal = %#v, want a *GoroutineError naming the run, with the intruder's stack", r.fatal)
	}
	if called {
		t.Fatal("the intruder's call returned")
	}
	r.kill()
}

// Code that keeps computing (or waits for a CPU on a loaded machine) is
// not taken for blocked at the first timeout; a loop without end is still
// abandoned, later.
func TestDeadlockGivesComputingCodeMoreTime(t *testing.T) {
	const timeout = 20 * time.Millisecond
	r := deadlockRun(timeout)
	var stop atomic.Bool
	defer stop.Store(true)
	spins := 0
	r.spawn(func() {
		for start := time.Now(); time.Since(start) < 3*timeout; {
			spins++ // computing, not blocked
		}
		r.Await(never)
	})
	r.runUntilBlocked()
	if r.fatal != nil || spins == 0 {
		t.Fatalf("a stretch of computing three timeouts long was abandoned: %v", r.fatal)
	}
	r.kill()

	r = deadlockRun(timeout)
	r.spawn(func() {
		for !stop.Load() {
			spins++
		}
	})
	r.runUntilBlocked()
	var de *DeadlockError
	if !errors.As(r.fatal, &de) || !strings.Contains(de.Stack, "TestDeadlockGivesComputingCodeMoreTime") {
		t.Fatalf("fatal = %v, want a *DeadlockError with the looping goroutine's stack", r.fatal)
	}
	r.kill()
}
