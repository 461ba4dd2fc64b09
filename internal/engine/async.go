package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// Errors of asynchronous activity completion.
var (
	// ErrActivityNotFound: the key names no activity of the run (or is not
	// a key at all).
	ErrActivityNotFound = errors.New("chorus: activity not found")
	// ErrActivityCompleted: the activity already has an outcome (it was
	// completed or failed before); a completion is taken once.
	ErrActivityCompleted = errors.New("chorus: activity already completed")
)

// pendingAttempt is an attempt that returned activity.ErrResultPending.
type pendingAttempt struct {
	t  *actTask
	tm *clock.Timer // its start-to-close deadline, or nil
}

// await records that attempt t, started at started, waits to be completed
// from outside, so that neither a retry nor a restart runs it again.
func (p *activityPool) await(t *actTask, started time.Time, heartbeat []byte) {
	e := p.e
	k := taskKey{t.RunID, t.Step}
	marked := make(chan struct{})
	p.mu.Lock()
	p.marking[k] = marked
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.marking, k)
		p.mu.Unlock()
		close(marked)
	}()
	next := *t
	next.Pending = started
	next.Heartbeat = heartbeat
	next.heartbeat = heartbeat
	werr := e.w.submit(&history.Batch{RunID: t.RunID, Time: e.clock.Now(), UpdateTasks: []history.Task{next.Task}})
	switch {
	case errors.Is(werr, history.ErrConflict), errors.Is(werr, history.ErrRunNotFound):
		p.untrack(t) // completed, or canceled, meanwhile
		return
	case werr != nil && !stopping(werr):
		e.log.Error("chorus: record pending activity; a crash before its completion runs it again", "run", t.RunID, "step", t.Step, "err", werr)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.dead[k] {
		// Completed or canceled while it was being recorded.
		delete(p.dead, k)
		delete(p.tracked, k)
		return
	}
	p.awaitLocked(&next)
}

// awaitLocked holds a pending attempt (tracked already) until it is
// completed, canceled or timed out.
func (p *activityPool) awaitLocked(t *actTask) {
	k := taskKey{t.RunID, t.Step}
	pa := &pendingAttempt{t: t}
	p.pending[k] = pa
	if t.opts.StartToCloseTimeout <= 0 {
		return
	}
	at := t.Pending.Add(t.opts.StartToCloseTimeout)
	fire := func() { // counted as busy by the caller
		defer p.e.settled()
		p.mu.Lock()
		if p.pending[k] != pa {
			p.mu.Unlock()
			return
		}
		delete(p.pending, k)
		if pa.tm != nil {
			delete(p.timers, pa.tm)
		}
		p.mu.Unlock()
		p.report(t, nil, &TimeoutError{Activity: t.Name, Timeout: t.opts.StartToCloseTimeout}, t.heartbeat)
	}
	d := at.Sub(p.e.clock.Now())
	if d <= 0 {
		// Passed while the process was down, or passes now.
		p.e.busy.Add(1)
		go fire()
		return
	}
	pa.tm = p.e.clock.AfterFunc(d, func() {
		p.e.busy.Add(1) // before the timer stops being visible to NextWake
		fire()
	})
	p.timers[pa.tm] = at
}

// dropPendingLocked forgets the pending attempt of k, if any (stopping its
// deadline and its tracking), and returns it.
func (p *activityPool) dropPendingLocked(k taskKey) *pendingAttempt {
	pa := p.pending[k]
	if pa == nil {
		return nil
	}
	delete(p.pending, k)
	delete(p.tracked, k)
	if pa.tm != nil {
		pa.tm.Stop()
		delete(p.timers, pa.tm)
	}
	return pa
}

// completed stops what remains of an activity whose outcome was journaled
// from outside: its pending attempt, or its attempt still running.
func (p *activityPool) completed(run string, step int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := taskKey{run, step}
	if p.dropPendingLocked(k) != nil || !p.tracked[k] {
		return
	}
	p.dead[k] = true
	if c := p.running[k]; c != nil {
		c()
	}
}

// retryPending applies the retry policy to a failure reported from outside
// for a pending attempt. It reports false, changing nothing, when the
// activity has no pending attempt here or the failure is final; the
// failure is then to be recorded as the activity's outcome.
func (p *activityPool) retryPending(run string, step int64, err error) (attempt int, retried bool) {
	k := taskKey{run, step}
	p.mu.Lock()
	if marked := p.marking[k]; marked != nil {
		// The attempt has just returned: wait until it is pending.
		p.mu.Unlock()
		<-marked
		p.mu.Lock()
	}
	pa := p.pending[k]
	if pa == nil {
		p.mu.Unlock()
		return 0, false
	}
	policy := activity.Merge(p.e.defaultActivity, &pa.t.opts).RetryPolicy.WithDefaults()
	if finalFailure(policy, pa.t.Attempt, err) {
		p.mu.Unlock()
		return pa.t.Attempt, false
	}
	p.dropPendingLocked(k)
	p.tracked[k] = true // until report journals the retry
	p.mu.Unlock()
	p.report(pa.t, nil, err, pa.t.heartbeat)
	return pa.t.Attempt, true
}

// cancelWait cancels the running attempt of a step whose workflow waits for
// the attempt to return (activity.Options.WaitForCancellation). A step
// without a running attempt is settled as canceled at once.
func (p *activityPool) cancelWait(run string, step int64) {
	p.mu.Lock()
	k := taskKey{run, step}
	if c := p.running[k]; c != nil {
		p.waiting[k] = true
		t := p.attempts[k]
		p.mu.Unlock()
		// Journal the cancellation before the attempt learns of it: after
		// a crash during its cleanup, the activity settles as canceled
		// instead of running again.
		next := t.Task
		next.Pending, next.Heartbeat, next.Canceled = time.Time{}, t.heartbeat, true
		werr := p.e.w.submit(&history.Batch{RunID: run, Time: p.e.clock.Now(), UpdateTasks: []history.Task{next}})
		if werr != nil && !errors.Is(werr, history.ErrConflict) && !stopping(werr) {
			p.e.log.Warn("chorus: record activity cancellation", "run", run, "step", step, "err", werr)
		}
		c()
		return
	}
	p.dropPendingLocked(k)
	p.dead[k] = true
	p.mu.Unlock()
	_ = p.e.deliver(run, input{kind: inActivityResult, step: step, failure: canceledFailure()})
}

// waitsCancel reports, once, whether the attempt of t was canceled by a
// workflow that waits for its outcome.
func (p *activityPool) waitsCancel(t *actTask) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := taskKey{t.RunID, t.Step}
	w := p.waiting[k]
	delete(p.waiting, k)
	return w
}

// ParseActivityKey splits an activity's idempotency key into its run ID and
// step.
func ParseActivityKey(key string) (run string, step int64, err error) {
	i := strings.LastIndexByte(key, '/')
	if i > 0 {
		step, err = strconv.ParseInt(key[i+1:], 10, 64)
		if err == nil && step > 0 {
			return key[:i], step, nil
		}
	}
	return "", 0, fmt.Errorf("%w: %q is not an activity key (want the activity's Info.IdempotencyKey, \"<run ID>/<step>\")", ErrActivityNotFound, key)
}

// errNotWaiting is a run's answer to a completion for a step whose
// activity it does not wait for; CompleteActivity says why.
var errNotWaiting = errors.New("chorus: the run does not wait for this activity")

// CompleteActivity records the outcome of the activity whose idempotency
// key is key, completed from outside the engine: its encoded result, or
// failure when not nil (recorded as final). name, when not empty, must be
// the activity's name. It returns once the outcome is journaled.
func (e *Engine) CompleteActivity(ctx context.Context, key, name string, payload []byte, failure *history.Failure) error {
	run, step, err := ParseActivityKey(key)
	if err != nil {
		return err
	}
	if failure == nil {
		if err := e.CheckPayload(run, payload); err != nil {
			return err
		}
	}
	in := input{kind: inActivityResult, step: step, name: name, payload: payload, failure: failure, external: true}
	in.after = func(err error) {
		if err == nil {
			e.acts.completed(run, step)
		}
	}
	err = e.call(ctx, run, in)
	switch {
	case errors.Is(err, errNotWaiting):
		return e.whyNotWaiting(ctx, key, run, step)
	case errors.Is(err, ErrRunEnded):
		// Say so when the activity itself is unknown or has its outcome.
		why := e.whyNotWaiting(ctx, key, run, step)
		if errors.Is(why, ErrActivityCompleted) || errors.Is(why, ErrActivityNotFound) {
			return why
		}
		if errors.Is(why, ErrCanceled) {
			return fmt.Errorf("%w (%w)", why, err)
		}
	}
	return err
}

// FailActivity reports that the activity whose idempotency key is key
// failed, from outside the engine. When the activity's attempt is pending
// here and its retry policy allows, the failure counts as the attempt's
// and the activity is retried (its function runs again); otherwise the
// failure is the activity's outcome.
func (e *Engine) FailActivity(ctx context.Context, key, name string, cause error) error {
	run, step, err := ParseActivityKey(key)
	if err != nil {
		return err
	}
	if cause == nil {
		return errors.New("chorus: FailActivity: nil error")
	}
	if name == "" || e.pendingName(run, step) == name {
		if _, retried := e.acts.retryPending(run, step, cause); retried {
			return nil
		}
	}
	fl := FailureOf(cause)
	fl.Attempt = e.pendingAttempt(run, step)
	return e.CompleteActivity(ctx, key, name, nil, fl)
}

func (e *Engine) pendingName(run string, step int64) string {
	p := e.acts
	p.mu.Lock()
	defer p.mu.Unlock()
	if pa := p.pending[taskKey{run, step}]; pa != nil {
		return pa.t.Name
	}
	return ""
}

func (e *Engine) pendingAttempt(run string, step int64) int {
	p := e.acts
	p.mu.Lock()
	defer p.mu.Unlock()
	if pa := p.pending[taskKey{run, step}]; pa != nil {
		return pa.t.Attempt
	}
	return 0
}

// whyNotWaiting reads the journal of a run that does not wait for the
// activity at step, to tell the caller why.
func (e *Engine) whyNotWaiting(ctx context.Context, key, run string, step int64) error {
	evs, err := e.store.Events(ctx, run, 0)
	if err != nil {
		return fmt.Errorf("chorus: activity %q is not waiting for completion: %w", key, err)
	}
	var name string
	for _, ev := range evs {
		switch {
		case ev.Seq == step && ev.Type == history.EventActivityScheduled:
			name = ev.Name
		case ev.Seq == step:
			return fmt.Errorf("%w: %q: step %d of run %q is a %v event, not an activity", ErrActivityNotFound, key, step, run, ev.Type)
		case name != "" && ev.Ref == step && (ev.Type == history.EventActivityCompleted || ev.Type == history.EventActivityFailed):
			return fmt.Errorf("%w: activity %q (key %q) has its outcome already (%v)", ErrActivityCompleted, name, key, ev.Type)
		}
	}
	if name == "" {
		return fmt.Errorf("%w: %q: run %q has no step %d", ErrActivityNotFound, key, run, step)
	}
	return fmt.Errorf("chorus: activity %q (key %q) was canceled before it completed (its scope was canceled, or its run ended): %w", name, key, ErrCanceled)
}

// maxHeartbeatThrottle caps the interval between two writes of an
// attempt's heartbeat details.
const maxHeartbeatThrottle = 30 * time.Second

// heartbeatThrottle is the interval between two writes of the heartbeat
// details of an attempt with options o: 80% of its heartbeat timeout, so
// that details are written before the timeout can stop the attempt, capped
// at maxHeartbeatThrottle.
func heartbeatThrottle(o activity.Options) time.Duration {
	if o.HeartbeatTimeout > 0 {
		return min(o.HeartbeatTimeout*4/5, maxHeartbeatThrottle)
	}
	return maxHeartbeatThrottle
}

// newHeartbeater returns the heartbeater of attempt t, which journals its
// details at a bounded rate.
func (p *activityPool) newHeartbeater(t *actTask) *heartbeater {
	h := &heartbeater{codec: p.e.codec, prev: t.heartbeat}
	k := taskKey{t.RunID, t.Step}
	h.save = func(details []byte) {
		next := t.Task
		next.Heartbeat = details
		p.mu.Lock()
		next.Canceled = p.waiting[k]
		p.mu.Unlock()
		err := p.e.w.submit(&history.Batch{RunID: t.RunID, Time: p.e.clock.Now(), UpdateTasks: []history.Task{next}})
		if err != nil && !errors.Is(err, history.ErrConflict) && !stopping(err) {
			p.e.log.Warn("chorus: record heartbeat details", "run", t.RunID, "step", t.Step, "err", err)
		}
	}
	h.clock, h.every = p.e.clock, heartbeatThrottle(t.opts)
	return h
}

// journalLocked schedules the write of the details of a heartbeat: it
// returns them to be written at once (the caller writes them, then calls
// h.writing.Done) if none were written for an interval, or else arms a
// timer that writes the latest details once the interval has passed, so
// the heartbeats in between cost no write. It is called with h.mu held.
func (h *heartbeater) journalLocked() (writeNow []byte) {
	if h.save == nil || h.stopped {
		return nil
	}
	now := h.clock.Now()
	if h.written.IsZero() || now.Sub(h.written) >= h.every {
		if h.flush != nil {
			h.flush.Stop()
			h.flush = nil
		}
		h.written, h.dirty = now, false
		h.writing.Add(1)
		return h.details
	}
	h.dirty = true
	if h.flush == nil {
		h.flush = h.clock.AfterFunc(h.written.Add(h.every).Sub(now), func() {
			h.mu.Lock()
			h.flush = nil
			if !h.dirty || h.stopped {
				h.mu.Unlock()
				return
			}
			h.written, h.dirty = h.clock.Now(), false
			d := h.details
			h.writing.Add(1)
			h.mu.Unlock()
			defer h.writing.Done()
			h.save(d)
		})
	}
	return nil
}

// stop ends the journaling of heartbeat details when the attempt is over,
// waiting for a write under way, so none lands after the attempt's outcome.
func (h *heartbeater) stop() {
	h.mu.Lock()
	h.stopped = true
	if h.flush != nil {
		h.flush.Stop()
		h.flush = nil
	}
	h.mu.Unlock()
	h.writing.Wait()
}

// heartbeatWrites is the journaling state of a heartbeater.
type heartbeatWrites struct {
	save    func([]byte)
	clock   clock.Clock
	every   time.Duration
	written time.Time // when details were last written
	dirty   bool      // details changed since
	flush   *clock.Timer
	stopped bool
	writing sync.WaitGroup
}
