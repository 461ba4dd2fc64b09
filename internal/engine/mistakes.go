package engine

import (
	"fmt"
	"time"
)

// DeadlockError reports workflow code that kept control longer than the
// deadlock timeout without reaching a workflow call that waits: it is
// blocked outside the workflow API (a Go channel, select, mutex,
// time.Sleep, I/O), or it computed for more than ten times that long. The run is blocked; the stuck
// goroutine is abandoned.
type DeadlockError struct {
	RunID    string
	Workflow string
	Timeout  time.Duration
	Stack    string // of the stuck goroutine when it was abandoned
}

func (e *DeadlockError) Error() string {
	return fmt.Sprintf("chorus: run %q (workflow %q) is deadlocked: its code did not yield to the engine within %v; "+
		"it is blocked outside the workflow API (a Go channel, select, mutex, time.Sleep or I/O) or computes too long. "+
		"Wait with workflow channels, timers and futures, and do I/O in activities",
		e.RunID, e.Workflow, e.Timeout)
}

// As lets errors.As find the error as the chorus package's type.
func (e *DeadlockError) As(target any) bool { return asPublic(e, target) }

// GoroutineError reports a goroutine that the run's code started with the
// go statement (or any goroutine other than the run's own) calling the
// workflow API. The goroutine was stopped and the run is blocked.
type GoroutineError struct {
	RunID    string
	Workflow string
	Call     string // what it called
	Stack    string // of the goroutine, at the call
}

func (e *GoroutineError) Error() string {
	return fmt.Sprintf("chorus: run %q (workflow %q): a goroutine that is not one of the workflow's called %s; "+
		"workflow code must start goroutines with workflow.Go, never with the go statement, and must not use its "+
		"workflow.Context elsewhere", e.RunID, e.Workflow, e.Call)
}

// As lets errors.As find the error as the chorus package's type.
func (e *GoroutineError) As(target any) bool { return asPublic(e, target) }
