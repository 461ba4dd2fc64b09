package engine

import (
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A run's workflow code executes as coroutines: real goroutines of which
// exactly one runs at a time, handing control back and forth over channels.
// The scheduler resumes them in creation order, so the code's behaviour
// depends only on the inputs applied, never on the Go scheduler. That is
// what makes replay deterministic.
//
// Two mistakes of workflow code are caught here rather than suffered:
//
//   - A coroutine that keeps control longer than the deadlock timeout
//     (blocked in a Go channel, select, mutex, time.Sleep or I/O, or
//     computing without end) is abandoned: the run is blocked with a
//     *DeadlockError and the scheduler goes on. A goroutine cannot be
//     killed, so it stays where it is; it is never resumed, and the first
//     workflow call it makes if it ever wakes up ends it.
//   - A goroutine that is not one of the run's coroutines (started with the
//     go statement) calling the workflow API is recognized on every call by
//     its identity, ended with runtime.Goexit before it touches anything,
//     and the run is blocked with a *GoroutineError.

type coroutine struct {
	resume chan struct{}
	yield  chan yieldMsg
	gone   chan struct{} // closed when the scheduler abandons the coroutine
	// cond, when set, is what the coroutine waits for; it is only evaluated
	// by the scheduler while every coroutine is parked.
	cond  func() bool
	done  bool
	g     uintptr // curg of its goroutine
	goid  uint64  // its goroutine's number, to show its stack
	stack string  // its stack when it was abandoned
}

// yieldMsg is what a coroutine tells the scheduler when it gives control
// back: that it finished, and with what panic. The coroutine writes no run
// state itself once it may have been abandoned.
type yieldMsg struct {
	done  bool
	panic *PanicError
}

// guardState is the state that goroutines outside the scheduler's hand-off may
// read: who holds control, and what intruders reported.
type guardState struct {
	// owner is the curg of the one goroutine allowed to use the run: the
	// coroutine in control, or the goroutine scheduling it while it
	// evaluates wait conditions or answers a query; zero when none.
	owner atomic.Uintptr
	// flagged is set when a foreign goroutine called the workflow API.
	flagged atomic.Bool

	mu        sync.Mutex
	abandoned map[uintptr]bool // curg of abandoned coroutines still alive
	misuse    *GoroutineError  // the first foreign call not yet reported
	workflow  string           // for reports made outside the scheduler

	timer *time.Timer // the deadlock timer; used by the scheduler only
}

// spawn creates a coroutine that runs fn the next time the scheduler passes.
func (r *Run) spawn(fn func()) {
	co := &coroutine{resume: make(chan struct{}), yield: make(chan yieldMsg), gone: make(chan struct{})}
	r.cos = append(r.cos, co)
	if r.spec != nil && r.guard.workflow == "" {
		r.guard.mu.Lock()
		r.guard.workflow = r.spec.Name()
		r.guard.mu.Unlock()
	}
	go r.coroutineMain(co, fn)
}

func (r *Run) coroutineMain(co *coroutine, fn func()) {
	// Read by the scheduler only after its first hand-off, which the
	// receive below orders after these writes.
	co.g, co.goid = curg(), goid()
	<-co.resume
	killed := r.killing
	// Storing the owner is also what orders the coroutine's reads of run
	// state before whatever the scheduler does after abandoning it.
	r.guard.owner.Store(co.g)
	defer func() {
		// recover returns nil during runtime.Goexit, which is how killed
		// coroutines unwind.
		p := recover()
		if r.isAbandoned(co) {
			r.forget(co)
			return
		}
		msg := yieldMsg{done: true}
		if p != nil && !r.killing {
			msg.panic = &PanicError{Value: p, Stack: string(debug.Stack())}
		}
		select {
		case co.yield <- msg:
		case <-co.gone:
			r.forget(co)
		}
	}()
	if killed {
		return
	}
	fn()
}

// Guard checks that the caller may use the run: it must be the coroutine
// in control (or the scheduler evaluating a wait condition or a query). Any
// other goroutine is ended before it touches anything: an abandoned
// coroutine silently, a goroutine the code started with the go statement
// after reporting the mistake, which blocks the run. what names the call
// for the report.
//
// Guard is also what orders the coroutine's accesses to run state before
// the scheduler's: its compare-and-swap publishes them, so a coroutine
// abandoned later is no data race with the scheduler that goes on. Call it
// again when leaving a workflow call that changed run state.
func (r *Run) Guard(what string) {
	if g := curg(); !r.guard.owner.CompareAndSwap(g, g) {
		r.intruder(g, what)
	}
}

// intruder ends a goroutine that called the workflow API without holding
// control. It does not return.
func (r *Run) intruder(g uintptr, what string) {
	gs := &r.guard
	gs.mu.Lock()
	if gs.abandoned[g] {
		gs.mu.Unlock()
		runtime.Goexit()
	}
	first := gs.misuse == nil
	if first {
		gs.misuse = &GoroutineError{RunID: r.id, Workflow: gs.workflow, Call: apiCall(what), Stack: string(debug.Stack())}
		gs.flagged.Store(true)
	}
	misuse := *gs.misuse
	gs.mu.Unlock()
	if first && r.eng != nil {
		r.eng.reportIntruder(r, &misuse)
	}
	runtime.Goexit()
}

// apiCall names the workflow package's function through which the caller
// entered, or what when there is none.
func apiCall(what string) string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	const pkg = "github.com/chorusdev/chorus/workflow."
	for {
		f, more := frames.Next()
		if name, ok := strings.CutPrefix(f.Function, pkg); ok {
			if i := strings.IndexAny(name, "[."); i > 0 && name[0] != '(' {
				name = name[:i]
			}
			what = "workflow." + name
		}
		if !more {
			return what
		}
	}
}

// reportIntruder makes the run notice a foreign goroutine's call: its
// scheduler checks after each hand-off, and an idle run is woken up.
func (e *Engine) reportIntruder(r *Run, err *GoroutineError) {
	e.mu.Lock()
	current := e.runs[r.id] == r && e.state != stateClosed
	e.mu.Unlock()
	if !current || e.deliver(r.id, input{kind: inResume}) != nil {
		e.log.Error("chorus: stopped a goroutine that called the workflow API of a run no longer in memory", "run", r.id, "err", err)
	}
}

// NoteMisuse turns a reported foreign goroutine's call into the run's fatal
// error, unless the run already stopped for another reason.
func (r *Run) noteMisuse() {
	if !r.guard.flagged.Load() {
		return
	}
	r.guard.mu.Lock()
	misuse := r.guard.misuse
	r.guard.misuse = nil
	r.guard.flagged.Store(false)
	r.guard.mu.Unlock()
	if misuse == nil {
		return
	}
	if r.fatal != nil || r.blocked != nil || r.ended {
		if r.eng != nil {
			r.eng.log.Error("chorus: stopped a goroutine that called the workflow API outside workflow.Go", "run", r.id, "err", misuse)
		}
		return
	}
	if r.spec != nil {
		misuse.Workflow = r.spec.Name()
	}
	r.fatal = misuse
}

func (r *Run) isAbandoned(co *coroutine) bool {
	select {
	case <-co.gone:
		return true
	default:
		return false
	}
}

// forget drops an abandoned coroutine that is exiting after all.
func (r *Run) forget(co *coroutine) {
	r.guard.mu.Lock()
	delete(r.guard.abandoned, co.g)
	r.guard.mu.Unlock()
}

// Await parks the calling coroutine until cond reports true. It must be
// called from workflow code of this run.
func (r *Run) Await(cond func() bool) {
	r.Guard("a blocking call")
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
	r.Guard("a blocking call") // cond is the code's own and may have taken long
	co := r.current
	if co == nil {
		panic("chorus: a blocking workflow call inside the condition of workflow.Await or of a Selector")
	}
	co.cond = cond
	select {
	case co.yield <- yieldMsg{}:
	case <-co.gone:
		runtime.Goexit()
	}
	<-co.resume
	killed := r.killing
	r.guard.owner.Store(co.g)
	if killed {
		runtime.Goexit()
	}
}

func never() bool { return false }

// control makes the calling goroutine the run's owner while it schedules
// coroutines, and returns its identity.
func (r *Run) control() uintptr {
	g := curg()
	r.guard.owner.Store(g)
	return g
}

// release ends the calling goroutine's control of the run.
func (r *Run) release() { r.guard.owner.Store(0) }

// switchTo hands control to co until it gives it back. A coroutine that
// keeps control longer than the deadlock timeout is abandoned, and
// switchTo reports false.
func (r *Run) switchTo(co *coroutine, self uintptr) (yieldMsg, bool) {
	r.current = co
	co.resume <- struct{}{}
	msg, ok := r.waitYield(co)
	r.current = nil
	// Swap, not Store: reading the coroutine's last store orders its
	// accesses to run state before the scheduler's, even when it never
	// yielded.
	r.guard.owner.Swap(self)
	if !ok {
		r.guard.mu.Lock()
		if r.guard.abandoned == nil {
			r.guard.abandoned = map[uintptr]bool{}
		}
		r.guard.abandoned[co.g] = true
		r.guard.mu.Unlock()
		close(co.gone)
		co.done = true
	}
	return msg, ok
}

func (r *Run) waitYield(co *coroutine) (yieldMsg, bool) {
	var d time.Duration
	if r.eng != nil {
		d = r.eng.deadlockTimeout
	}
	if d <= 0 {
		return <-co.yield, true
	}
	// Real time, not the engine's clock: the code runs in real time, and a
	// test's fake clock must not stand still while code is stuck.
	t := r.guard.timer
	if t == nil {
		t = time.NewTimer(d)
		r.guard.timer = t
	} else {
		t.Reset(d)
	}
	for waited := d; ; waited += d {
		select {
		case msg := <-co.yield:
			t.Stop()
			return msg, true
		case <-t.C:
		}
		// Blocked (on a channel, in a sleep, in I/O): abandon it now. Still
		// running or waiting for a CPU: it may be starved by a loaded
		// machine rather than stuck, so it gets more time, up to a cap
		// that still catches a loop without end.
		stack := goroutineStack(co.goid)
		if waited >= computeFactor*d || !computing(stack) {
			co.stack = stack
			return yieldMsg{}, false
		}
		t.Reset(d)
	}
}

// computeFactor is how many deadlock timeouts code that keeps computing
// (rather than being blocked) gets before it is abandoned.
const computeFactor = 10

// computing reports whether a goroutine's stack trace says it may still be
// making progress, rather than being blocked where only something outside
// the run could wake it. Only the states of such waits (channels, select,
// sleep, I/O, the sync package, system calls) count as blocked; any other
// state (running, runnable, preempted, assisting or waiting for the garbage
// collector, a stack copy) is taken as computing, so a loaded machine is
// never mistaken for a deadlock.
func computing(stack string) bool {
	head, _, _ := strings.Cut(stack, "\n")
	_, state, ok := strings.Cut(head, "[")
	if !ok {
		return false
	}
	state, _, _ = strings.Cut(strings.TrimSuffix(state, "]:"), ",")
	for _, blocked := range []string{"chan ", "select", "sleep", "IO wait", "sync.", "semacquire", "syscall"} {
		if strings.HasPrefix(state, blocked) {
			return false
		}
	}
	return true
}

// deadlock is the error of a coroutine that was abandoned.
func (r *Run) deadlock(co *coroutine) error {
	err := &DeadlockError{RunID: r.id, Timeout: r.eng.deadlockTimeout, Stack: co.stack}
	if r.spec != nil {
		err.Workflow = r.spec.Name()
	}
	r.eng.log.Error("chorus: workflow code did not yield; its goroutine is abandoned and the run blocked", "run", r.id, "err", err, "stack", err.Stack)
	return err
}

// ready reports whether co can run: it is not waiting, or its condition
// holds. A panic in the condition stops the run.
func (r *Run) ready(co *coroutine) (ok bool) {
	if co.cond == nil {
		return true
	}
	defer func() {
		if p := recover(); p != nil {
			r.fatal = &PanicError{Value: p, Stack: string(debug.Stack())}
			ok = false
		}
	}()
	return co.cond()
}

// runUntilBlocked resumes runnable coroutines until every one of them is
// parked on a condition that is false, the main function has returned, or
// a fatal error stopped the run.
func (r *Run) runUntilBlocked() {
	self := r.control()
	defer r.release()
	for progressed := true; progressed; {
		progressed = false
		for i := 0; i < len(r.cos); i++ {
			if r.fatal != nil || r.ended {
				return
			}
			co := r.cos[i]
			if co.done || !r.ready(co) {
				continue
			}
			if r.fatal != nil {
				return
			}
			co.cond = nil
			msg, ok := r.switchTo(co, self)
			switch {
			case !ok:
				r.fatal = r.deadlock(co)
			case msg.done:
				co.done = true
				if msg.panic != nil && r.fatal == nil {
					r.fatal = msg.panic
				}
			}
			if r.fatal == nil {
				r.noteMisuse()
			}
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
// run, and any workflow API they call exits at once. A coroutine whose
// deferred code does not give control back in time is abandoned.
func (r *Run) kill() {
	self := r.control()
	defer r.release()
	r.killing = true
	for _, co := range r.cos {
		if co.done {
			continue
		}
		if _, ok := r.switchTo(co, self); !ok && r.eng != nil {
			r.eng.log.Error("chorus: workflow code did not yield while the run was torn down; its goroutine is abandoned",
				"run", r.id, "stack", co.stack)
		}
	}
	r.current = nil
	r.cos = nil
}
