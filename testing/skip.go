package chorustest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chorusdev/chorus"
)

// ErrStalled is wrapped by the error an env wait returns when what it waits
// for can no longer happen by itself: no run is being processed, no
// activity runs, no timer is armed and no [Env.At] callback is pending, so
// only the test could move things on (a signal, a cancellation, a
// registration).
var ErrStalled = errors.New("chorustest: stalled")

// errNothingDue is what drive returns when the engine is idle and nothing
// (more) is due within the wait's bounds.
var errNothingDue = errors.New("chorustest: nothing due")

// stallGrace is how long a wait that found nothing to do watches for a late
// change before it declares a stall. It only delays the failure of a test
// that is stalled anyway.
const stallGrace = 10 * time.Millisecond

// notifier wakes every goroutine that waits for a change.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel that is closed at the next broadcast.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// kick records that something happened and wakes the env waits in
// progress. The engine calls it (through SetOnSettle) each time it may have
// become quiescent; the env calls it when one of its own calls, clock
// callbacks or env.At callbacks ends.
func (e *Env) kick() {
	e.gen.Add(1)
	e.note.broadcast()
}

// busyOutside reports work in flight that the engine's counters do not
// show. An env.At callback running counts only for waits that move the
// clock: Settle and the helpers built on it may be called inside one.
func (e *Env) busyOutside(w *waitSpec) bool {
	return e.callbacks.Load() != 0 || e.calls.Load() != 0 || (w.skip && e.atRunning.Load() != 0)
}

// idle reports whether nothing is in flight: no run being processed, no
// activity attempt queued or running, no fired timer whose input is still
// on its way, no env call or callback running. What remains are timers that
// are not due yet and whatever the test does next.
func (e *Env) idle(w *waitSpec) bool {
	if e.busyOutside(w) || !e.core.Quiescent() {
		return false
	}
	// A timer the clock fired whose callback has not started yet is still
	// in the engine's books, due at or before now.
	if wake, ok := e.core.NextWake(); ok && !wake.After(e.mock.Now()) {
		return false
	}
	// Look again: the counters above are read one after the other, and work
	// may have moved from one to another in between.
	return !e.busyOutside(w) && e.core.Quiescent()
}

// atCallback is a function registered with Env.At.
type atCallback struct {
	at  time.Time
	seq int
	fn  func()
	// internal marks the env's own callbacks (a mock's delay), which the
	// end of the test does not report.
	internal bool
}

// At arranges for fn to run once the fake time reaches the env's start plus
// offset, and the engine has settled there: timers due at the same instant
// fire, and their consequences happen, before fn runs. fn runs on the
// goroutine of the env wait that moves the clock there ([Result],
// [Env.Await] or [Env.Advance]), usually the test's own, so it may call
// t.Fatal. It may signal, cancel, start runs, change mocks and inspect
// ([Query], [Env.History], [Env.Describe], [Env.Settle]), but must not
// wait for time to pass (no Result, Await or Advance inside it). A callback
// whose time has passed runs at the next such wait. Callbacks due at the
// same time run in the order they were registered.
func (e *Env) At(offset time.Duration, fn func()) {
	if fn == nil {
		e.t.Helper()
		e.t.Fatalf("chorustest: env.At(%v) with a nil function", offset)
	}
	e.addAt(atCallback{at: e.start.Add(offset), fn: fn})
}

// addAt registers a callback, in order of time and then of registration,
// and returns its sequence number.
func (e *Env) addAt(a atCallback) int {
	e.mu.Lock()
	e.atSeq++
	a.seq = e.atSeq
	i, _ := slices.BinarySearchFunc(e.ats, a, func(x, y atCallback) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return x.seq - y.seq
	})
	e.ats = slices.Insert(e.ats, i, a)
	e.mu.Unlock()
	e.kick()
	return a.seq
}

// popDueAt removes and returns the first env.At callback due at now.
func (e *Env) popDueAt(now time.Time) (atCallback, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.ats) == 0 || e.ats[0].at.After(now) {
		return atCallback{}, false
	}
	a := e.ats[0]
	e.ats = slices.Delete(e.ats, 0, 1)
	return a, true
}

// nextAt returns the time of the first pending env.At callback.
func (e *Env) nextAt() (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.ats) == 0 {
		return time.Time{}, false
	}
	return e.ats[0].at, true
}

// nextDue returns the earliest time something is due: an engine timer or
// retry backoff, or an env.At callback.
func (e *Env) nextDue() (time.Time, bool) {
	w, ok := e.core.NextWake()
	if a, aok := e.nextAt(); aok && (!ok || a.Before(w)) {
		return a, true
	}
	return w, ok
}

// waitSpec describes one env wait.
type waitSpec struct {
	what         string      // what it waits for, for messages
	done         func() bool // the wait is over when it returns true; nil: never
	skip         bool        // move the clock to the next due time when idle
	limit        time.Time   // with skip and hasLimit: move it no further
	hasLimit     bool
	confirmStall bool // before reporting errNothingDue, make sure nothing was on its way
	// failUnregistered ends the wait, with the error it leaves in
	// unregistered, once the env is idle and a run waits for a workflow or
	// activity that is not registered.
	failUnregistered bool
	unregistered     error
	timeout          time.Duration
}

type stepResult uint8

const (
	stepBusy         stepResult = iota // something is in flight: wait for a kick
	stepActed                          // the clock moved or a callback ran: look again at once
	stepNothingDue                     // idle, and nothing (more) is due within the wait's bounds
	stepUnregistered                   // idle, and a run waits for a registration
)

// step does the one thing a wait can do now: nothing while work is in
// flight; otherwise run a due env.At callback, or move the clock to the
// next due time.
func (e *Env) step(w *waitSpec) stepResult {
	e.skipMu.Lock()
	g := e.gen.Load()
	if !e.idle(w) {
		e.skipMu.Unlock()
		return stepBusy
	}
	if e.gen.Load() != g { // something happened while idle looked
		e.skipMu.Unlock()
		return stepActed
	}
	if w.failUnregistered {
		// Idle, so the engine has tried everything it was given, and
		// logged what it could not run.
		if w.unregistered = e.checkUnregistered(w.what); w.unregistered != nil {
			e.skipMu.Unlock()
			return stepUnregistered
		}
	}
	now := e.mock.Now()
	if w.skip {
		if a, ok := e.popDueAt(now); ok {
			// Counted before skipMu is released, so no other wait moves the
			// clock while the callback runs.
			e.atRunning.Add(1)
			e.skipMu.Unlock()
			e.runAt(a)
			return stepActed
		}
	}
	if !w.skip {
		e.skipMu.Unlock()
		return stepNothingDue
	}
	target, ok := e.nextDue()
	if w.hasLimit && (!ok || target.After(w.limit)) {
		target, ok = w.limit, now.Before(w.limit)
	}
	if !ok {
		e.skipMu.Unlock()
		return stepNothingDue
	}
	// The decision holds only if nothing happened since it was taken.
	if e.gen.Load() != g || !e.idle(w) {
		e.skipMu.Unlock()
		return stepActed
	}
	e.mock.Add(target.Sub(now))
	e.skipMu.Unlock()
	e.kick()
	return stepActed
}

func (e *Env) runAt(a atCallback) {
	defer func() {
		e.atRunning.Add(-1)
		e.kick()
	}()
	a.fn()
}

// drive runs an env wait: it re-examines the env each time something
// happens (the engine's OnSettle hook, the end of a clock callback or env
// call), and does what step says, until w.done holds. It returns nil then,
// errNothingDue when the env is idle with nothing due, and an error
// describing the env when w.timeout of wall time passed.
func (e *Env) drive(w waitSpec) error {
	e.registerPending()
	timeout := w.timeout
	if timeout <= 0 {
		timeout = e.opts.Timeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		changed := e.note.wait()
		if w.done != nil && w.done() {
			return nil
		}
		switch e.step(&w) {
		case stepActed:
			continue
		case stepUnregistered:
			return w.unregistered
		case stepNothingDue:
			if !w.confirmStall {
				return errNothingDue
			}
			g := e.gen.Load()
			grace := time.NewTimer(stallGrace)
			select {
			case <-changed:
				grace.Stop()
				continue
			case <-grace.C:
			}
			if e.gen.Load() == g && (w.done == nil || !w.done()) && e.idle(&w) {
				return errNothingDue
			}
			continue
		}
		select {
		case <-changed:
		case <-timer.C:
			return fmt.Errorf("chorustest: gave up after %v of wall time waiting for %s: %s", timeout, w.what, e.describe())
		}
	}
}

// describe summarizes the env's state for a failure message.
func (e *Env) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fake time +%v; engine quiescent: %v", e.Elapsed(), e.core.Quiescent())
	if w, ok := e.core.NextWake(); ok {
		fmt.Fprintf(&b, "; next timer at +%v", w.Sub(e.start))
	}
	if a, ok := e.nextAt(); ok {
		fmt.Fprintf(&b, "; next env.At callback at +%v", a.Sub(e.start))
	}
	if n := e.callbacks.Load(); n > 0 {
		fmt.Fprintf(&b, "; %d clock callback(s) running", n)
	}
	if n := e.calls.Load(); n > 0 {
		fmt.Fprintf(&b, "; %d env call(s) in flight", n)
	}
	if n := e.atRunning.Load(); n > 0 {
		fmt.Fprintf(&b, "; %d env.At callback(s) running (they must not wait)", n)
	}
	if n := e.activities.Load(); n > 0 {
		fmt.Fprintf(&b, "; %d activity attempt(s) running", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	b.WriteString("; " + e.describeRuns(ctx))
	return b.String()
}

// stalled returns the error of a wait for what that stalled.
func (e *Env) stalled(what string) error {
	return fmt.Errorf("%w: waiting for %s, but nothing is in flight, no timer is armed and no env.At callback is pending, "+
		"so only the test can move things on (a signal, a cancellation, a registration): %s", ErrStalled, what, e.describe())
}

// Settle waits until nothing is in flight at the current fake time: no run
// being processed, no activity attempt running, no fired timer on its way.
// It never moves the clock and never runs [Env.At] callbacks, so it may be
// called inside one. It fails the test if the env does not settle within
// [Options].Timeout of wall time (an activity that blocks, for example).
func (e *Env) Settle() {
	e.t.Helper()
	if err := e.drive(waitSpec{what: "the engine to settle"}); err != nil && !errors.Is(err, errNothingDue) {
		e.t.Fatal(err)
	}
}

// Advance moves the fake clock forward by d, step by step: each timer,
// retry backoff and env.At callback due within d fires in the order of its
// due time, and the engine settles after each step, before the next one.
// When Advance returns, the clock reads d later than before and everything
// due by then has happened. It fails the test on a negative d or if the
// engine does not settle within [Options].Timeout of wall time.
func (e *Env) Advance(d time.Duration) {
	e.t.Helper()
	if d < 0 {
		e.t.Fatalf("chorustest: Advance(%v): the clock only moves forward", d)
	}
	target := e.mock.Now().Add(d)
	err := e.drive(waitSpec{what: fmt.Sprintf("the clock to reach +%v", target.Sub(e.start)), skip: true, limit: target, hasLimit: true})
	if err != nil && !errors.Is(err, errNothingDue) {
		e.t.Fatal(err)
	}
}

// Await waits until cond returns true, skipping time while the env is idle
// (see the package documentation). cond is called each time something
// happened; it must be quick and must not wait. Await returns an error
// wrapping [ErrStalled] if cond is false and nothing more can happen by
// itself (at once, wrapping chorus.ErrNotRegistered too, if a run waits for
// an activity or child workflow that is neither registered nor mocked),
// and an error describing the env when [Options].Timeout of wall time
// passed.
func (e *Env) Await(cond func() bool) error {
	err := e.drive(waitSpec{what: "a condition", done: cond, skip: true, confirmStall: true, failUnregistered: true})
	if errors.Is(err, errNothingDue) {
		return e.stalled("a condition")
	}
	return err
}

// runEnded returns a done function for a wait on run id: it holds once the
// run has ended or is blocked.
func (e *Env) runEnded(id string) (done func() bool, stop func(), err error) {
	ch, stop := e.core.Watch(id)
	ctx, cancel := e.context()
	defer cancel()
	info, err := e.eng.Describe(ctx, id)
	if err != nil {
		stop()
		return nil, nil, err
	}
	ended := info.Status != chorus.StatusRunning
	return func() bool {
		if !ended {
			select {
			case <-ch:
				ended = true
			default:
			}
		}
		return ended
	}, stop, nil
}

// waitRun waits, skipping time, until run id has ended or is blocked.
func (e *Env) waitRun(id string) error {
	done, stop, err := e.runEnded(id)
	if err != nil {
		return err
	}
	defer stop()
	what := fmt.Sprintf("run %q to end", id)
	err = e.drive(waitSpec{what: what, done: done, skip: true, confirmStall: true, failUnregistered: true})
	if errors.Is(err, errNothingDue) {
		return e.stalled(what)
	}
	return err
}
