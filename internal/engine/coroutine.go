package engine

import (
	"runtime"
	"runtime/debug"
)

// A run's workflow code executes as coroutines: real goroutines of which
// exactly one runs at a time, handing control back and forth over channels.
// The scheduler resumes them in creation order, so the code's behaviour
// depends only on the inputs applied, never on the Go scheduler. That is
// what makes replay deterministic.

type coroutine struct {
	resume chan struct{}
	// cond, when set, is what the coroutine waits for; it is only evaluated
	// by the scheduler while every coroutine is parked.
	cond func() bool
	done bool
}

// spawn creates a coroutine that runs fn the next time the scheduler passes.
func (r *Run) spawn(fn func()) {
	co := &coroutine{resume: make(chan struct{})}
	r.cos = append(r.cos, co)
	go r.coroutineMain(co, fn)
}

func (r *Run) coroutineMain(co *coroutine, fn func()) {
	<-co.resume
	defer func() {
		// recover returns nil during runtime.Goexit, which is how killed
		// coroutines unwind.
		if p := recover(); p != nil && r.fatal == nil && !r.killing {
			r.fatal = &PanicError{Value: p, Stack: string(debug.Stack())}
		}
		co.done = true
		r.yielded <- struct{}{}
	}()
	if r.killing {
		return
	}
	fn()
}

// Await parks the calling coroutine until cond reports true. It must be
// called from workflow code of this run.
func (r *Run) Await(cond func() bool) {
	if r.killing {
		// Deferred workflow code running while the run is torn down: it
		// must not park again.
		runtime.Goexit()
	}
	if r.inQuery {
		panic(errQueryMisuse{"a blocking workflow API"})
	}
	if cond() {
		return
	}
	co := r.current
	if co == nil {
		panic("chorus: workflow API called outside the workflow's own code (a plain goroutine or after the run ended); use workflow.Go for concurrency")
	}
	co.cond = cond
	r.yielded <- struct{}{}
	<-co.resume
	if r.killing {
		runtime.Goexit()
	}
}

func never() bool { return false }

// runUntilBlocked resumes runnable coroutines until every one of them is
// parked on a condition that is false, the main function has returned, or
// a fatal error stopped the run.
func (r *Run) runUntilBlocked() {
	for progressed := true; progressed; {
		progressed = false
		for i := 0; i < len(r.cos); i++ {
			if r.fatal != nil || r.ended {
				return
			}
			co := r.cos[i]
			if co.done || (co.cond != nil && !co.cond()) {
				continue
			}
			co.cond = nil
			r.current = co
			co.resume <- struct{}{}
			<-r.yielded
			r.current = nil
			progressed = true
		}
		if progressed {
			live := r.cos[:0]
			for _, co := range r.cos {
				if !co.done {
					live = append(live, co)
				}
			}
			clear(r.cos[len(live):])
			r.cos = live
		}
	}
}

// kill unwinds every coroutine that has not finished; their deferred calls
// run, and any workflow API they call exits at once.
func (r *Run) kill() {
	r.killing = true
	for _, co := range r.cos {
		if co.done {
			continue
		}
		r.current = co
		co.resume <- struct{}{}
		<-r.yielded
	}
	r.current = nil
	r.cos = nil
}
