package chorus

import (
	"time"

	"github.com/chorusdev/chorus/internal/engine"
)

// DeadlockError reports workflow code that kept control longer than
// [Options.DeadlockTimeout] without reaching a workflow call that waits:
// it is blocked outside the workflow API (a Go channel, select, a mutex,
// time.Sleep, I/O), or it computed for more than ten times that long. The run is blocked, like a
// run whose code panicked: [Run.Result] and [Engine.Describe] report a
// [*BlockedError] from which errors.As extracts the DeadlockError, and
// code fixed to wait through the workflow package (channels, timers,
// futures) resumes it after the next [Open]. When the first execution of a
// new run deadlocks, nothing is recorded and [Start] returns the error.
//
// A goroutine cannot be killed from outside: the stuck one is abandoned,
// never resumed, and ends at the first workflow call it makes if it ever
// wakes up, without touching the run.
type DeadlockError struct {
	// RunID and Workflow name the run.
	RunID    string
	Workflow string
	// Timeout is the bound the code exceeded.
	Timeout time.Duration
	// Stack is the stack trace of the stuck goroutine when it was
	// abandoned: where the code is blocked.
	Stack string
}

func (e *DeadlockError) Error() string { return (*engine.DeadlockError)(e).Error() }

// GoroutineError reports a goroutine that is not one of the workflow's
// own calling the workflow API: typically one started with the go
// statement instead of workflow.Go, or a workflow.Context kept and used
// after the call it was given to. The engine recognizes such a call every
// time, stops that goroutine before it changes anything (with
// runtime.Goexit, so its deferred calls run) and blocks the run, which
// [Run.Result] and [Engine.Describe] then report as a [*BlockedError]
// from which errors.As extracts the GoroutineError. A call made after the
// run ended is only logged.
type GoroutineError struct {
	// RunID and Workflow name the run.
	RunID    string
	Workflow string
	// Call says what the goroutine called.
	Call string
	// Stack is the goroutine's stack trace at the call.
	Stack string
}

func (e *GoroutineError) Error() string { return (*engine.GoroutineError)(e).Error() }
