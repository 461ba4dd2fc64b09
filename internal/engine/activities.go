package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// actTask is one activity to run: a task row plus what the worker needs.
type actTask struct {
	history.Task
	opts        activity.Options
	workflow    string
	scheduledAt time.Time
	heartbeat   []byte // details of the last heartbeat of an earlier attempt
	header      map[string][]byte
	recovered   bool // dispatched by recovery at Open, before the application registered anything
	gated       bool // holds a slot of its activity queue until the attempt ends (see actqueue.go)
	// With an observer only: when the attempt was queued and ended, and
	// the attempt as observed.
	queuedAt, endedAt time.Time
	obs               *attemptObs
}

type taskKey struct {
	run  string
	step int64
}

func newActTask(t history.Task, workflow string, events []history.Event) *actTask {
	at := &actTask{Task: t, workflow: workflow, scheduledAt: t.ScheduledAt, heartbeat: t.Heartbeat}
	at.opts, at.header = decodeTaskOptions(t.Options)
	for _, ev := range events {
		if ev.Seq == t.Step {
			at.scheduledAt = ev.Time
		}
	}
	return at
}

// activityPool runs activities on a fixed set of worker goroutines fed by an
// unbounded queue, so handing work over never blocks a run.
type activityPool struct {
	e       *Engine
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*actTask
	closed  bool
	running map[taskKey]context.CancelFunc
	dead    map[taskKey]bool // canceled steps: never run or retry again
	waiting map[taskKey]bool // canceled steps whose workflow waits for the attempt's outcome
	// tracked holds the steps queued, running, waiting out a backoff, or
	// whose outcome is on its way to the journal: dispatching one of them
	// again (a resync after an unknown commit) must not start a second
	// attempt.
	tracked map[taskKey]bool
	timers  map[*clock.Timer]time.Time // retry backoffs and pending deadlines, by fire time
	parked  map[string][]*actTask      // by activity name, until it is registered
	wg      sync.WaitGroup
	ctx     context.Context // canceled when Close gives up waiting
	stopAll context.CancelFunc

	// pending holds the attempts that returned activity.ErrResultPending
	// and wait to be completed from outside; they stay tracked.
	pending map[taskKey]*pendingAttempt
	// attempts holds the tasks of the running attempts, by the same keys
	// as running.
	attempts map[taskKey]*actTask
	// marking holds the attempts whose pending mark is being written; the
	// channel is closed once it is recorded (or dropped).
	marking map[taskKey]chan struct{}
}

func newActivityPool(e *Engine, workers int) *activityPool {
	p := &activityPool{
		e: e, running: map[taskKey]context.CancelFunc{}, dead: map[taskKey]bool{}, tracked: map[taskKey]bool{},
		timers: map[*clock.Timer]time.Time{}, parked: map[string][]*actTask{}, pending: map[taskKey]*pendingAttempt{},
		waiting: map[taskKey]bool{}, attempts: map[taskKey]*actTask{},
		marking: map[taskKey]chan struct{}{},
	}
	p.cond = sync.NewCond(&p.mu)
	p.ctx, p.stopAll = context.WithCancel(context.Background())
	p.wg.Add(workers)
	for range workers {
		go p.worker()
	}
	return p
}

// dispatch queues t, or arms a timer when its retry backoff has not passed.
func (p *activityPool) dispatch(t *actTask) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := taskKey{t.RunID, t.Step}
	if p.closed || p.dead[k] || p.tracked[k] {
		return
	}
	p.tracked[k] = true
	if t.Canceled {
		// Canceled while the workflow waited for an attempt that a crash
		// cut short: there is nothing left to wait for.
		fl := canceledFailure()
		fl.Attempt = t.Attempt
		go p.e.deliver(t.RunID, input{kind: inActivityResult, step: t.Step, retried: p.e.retriedOf(t), failure: fl, after: func(error) { p.untrack(t) }})
		return
	}
	if !t.Pending.IsZero() {
		p.awaitLocked(t)
		return
	}
	if d := t.NotBefore.Sub(p.e.clock.Now()); !t.NotBefore.IsZero() && d > 0 {
		var tm *clock.Timer
		tm = p.e.clock.AfterFunc(d, func() {
			p.e.busy.Add(1) // before the timer stops being visible to NextWake
			p.mu.Lock()
			delete(p.timers, tm)
			delete(p.tracked, k)
			p.mu.Unlock()
			t.NotBefore = time.Time{}
			p.dispatch(t)
			p.e.settled()
		})
		p.timers[tm] = t.NotBefore
		return
	}
	if t.opts.Queue != "" && p.e.gate.hold(t) {
		return // admitted later by the queue
	}
	p.readyLocked(t)
}

// readyLocked queues t for a worker.
func (p *activityPool) readyLocked(t *actTask) {
	if p.e.obs != nil {
		t.queuedAt = p.e.clock.Now()
	}
	p.queue = append(p.queue, t)
	p.e.busy.Add(1)
	p.cond.Signal()
}

// nextRetry returns the earliest time a retry backoff ends.
func (p *activityPool) nextRetry() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, at := range p.timers {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first, !first.IsZero()
}

// finished marks an attempt taken from the queue as over.
func (p *activityPool) finished() { p.e.settled() }

// cancel stops the attempt of a step whose outcome is no longer wanted.
func (p *activityPool) cancel(run string, step int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := taskKey{run, step}
	if p.dropPendingLocked(k) != nil {
		return // no attempt runs
	}
	p.dead[k] = true
	if c := p.running[k]; c != nil {
		c()
	}
}

// park holds a task whose activity is not registered yet. It reports false,
// parking nothing, if the activity was registered meanwhile; unpark runs
// after registration and takes p.mu, so no task is parked after its unpark.
func (p *activityPool) park(t *actTask) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.e.reg.activity(t.Name); ok {
		return false
	}
	p.parked[t.Name] = append(p.parked[t.Name], t)
	return true
}

// unpark dispatches the tasks held for an activity that was just registered.
func (p *activityPool) unpark(name string) {
	p.mu.Lock()
	ts := p.parked[name]
	delete(p.parked, name)
	p.mu.Unlock()
	for _, t := range ts {
		p.dispatch(t)
	}
}

func (p *activityPool) worker() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		t := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		k := taskKey{t.RunID, t.Step}
		if p.dead[k] {
			delete(p.dead, k)
			delete(p.tracked, k)
			p.mu.Unlock()
			if t.gated {
				p.e.gate.release(t)
			}
			p.finished()
			continue
		}
		ctx, cancel := context.WithCancel(p.ctx)
		sus := &suspension{e: p.e}
		ctx, cancel = context.WithValue(ctx, suspensionKey{}, sus), sus.onCancel(cancel)
		p.running[k] = cancel
		p.attempts[k] = t
		p.mu.Unlock()

		p.run(ctx, t)
		sus.end()

		p.mu.Lock()
		delete(p.running, k)
		delete(p.attempts, k)
		p.mu.Unlock()
		cancel()
		if t.gated {
			p.e.gate.release(t)
		}
		p.finished()
	}
}

// shutdown stops taking work, waits for running attempts until ctx is done,
// then cancels the rest. Attempts cut short are not recorded: their tasks
// stay in the journal and run again after the next Open.
func (p *activityPool) shutdown(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	for tm := range p.timers {
		tm.Stop()
	}
	p.e.busy.Add(-int64(len(p.queue)))
	p.queue = nil
	clear(p.tracked)
	clear(p.pending)
	p.cond.Broadcast()
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		p.stopAll()
		<-done
	}
	p.stopAll()
}

func (p *activityPool) untrack(t *actTask) {
	p.mu.Lock()
	delete(p.tracked, taskKey{t.RunID, t.Step})
	p.mu.Unlock()
}

func (p *activityPool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// run executes one attempt and reports its outcome.
func (p *activityPool) run(ctx context.Context, t *actTask) {
	e := p.e
	spec, ok := e.reg.activity(t.Name)
	if !ok {
		p.untrack(t) // unpark dispatches it again
		if p.park(t) {
			e.warnUnregistered(t.recovered, "activity", t.Name, "chorus: activity not registered; its task waits until it is", "activity", t.Name, "run", t.RunID, "step", t.Step,
				"err", &NotRegisteredError{Kind: "activity", Name: t.Name})
			return
		}
		spec, _ = e.reg.activity(t.Name)
	}
	ctx, pfl := e.toActivity(ctx, t)
	if pfl != nil {
		e.deliver(t.RunID, input{kind: inActivityResult, step: t.Step, retried: p.e.retriedOf(t), failure: pfl, after: func(error) { p.untrack(t) }})
		return
	}
	ctx = activity.WithInfo(ctx, activity.Info{
		RunID: t.RunID, Workflow: t.workflow, Activity: t.Name, Step: t.Step, Attempt: t.Attempt,
		IdempotencyKey: t.RunID + "/" + strconv.FormatInt(t.Step, 10), ScheduledAt: t.scheduledAt,
	})
	hb := p.newHeartbeater(t)
	started := e.clock.Now()
	if e.obs != nil {
		ctx = e.attemptStarted(ctx, t, started)
	}
	out, err := p.invoke(ctx, spec, t, hb)
	hb.stop()
	if e.obs != nil {
		t.endedAt = e.clock.Now()
	}
	if ctx.Err() != nil && (p.isClosed() || p.isDead(t)) {
		// Canceled by Close or because the run no longer wants it: nothing
		// to record.
		if !p.isClosed() {
			e.attemptEnded(t, err, nil, false, false) // not run again
		}
		p.untrack(t)
		return
	}
	if p.waitsCancel(t) && err != nil {
		// Canceled by the workflow, which waits for this outcome: the
		// attempt's error is the cancellation, not a failure to retry.
		fl := canceledFailure()
		fl.Attempt = t.Attempt
		e.deliver(t.RunID, input{kind: inActivityResult, step: t.Step, retried: p.e.retriedOf(t), failure: fl, after: e.observeAfter(t, err, fl, func(error) { p.untrack(t) })})
		return
	}
	if errors.Is(err, history.ErrPayloadKey) {
		// The input (or the result) cannot be decoded (encoded) without a
		// key that is not configured: retrying will not help, failing the
		// activity would change the run's course. Block the run; the task
		// stays journaled and runs when the run resumes with the key.
		e.attemptEnded(t, err, nil, false, false)
		fl := FailureOf(err)
		e.log.Error("chorus: activity cannot run for want of a payload key; blocking its run", "activity", t.Name, "run", t.RunID, "step", t.Step, "err", err)
		e.deliver(t.RunID, input{kind: inBlock, name: t.Name, step: t.Step, failure: fl, after: func(error) { p.untrack(t) }})
		return
	}
	if errors.Is(err, activity.ErrResultPending) {
		e.attemptEnded(t, nil, nil, false, true)
		p.await(t, started, hb.last())
		return
	}
	p.report(t, out, err, hb.last())
}

// report records the outcome of attempt t: its result (out, when err is
// nil), its final failure, or a retry.
func (p *activityPool) report(t *actTask, out []byte, err error, heartbeat []byte) {
	e := p.e
	// The step stays tracked until its outcome is journaled (or dropped).
	done := func(error) { p.untrack(t) }
	if err == nil {
		if lerr := e.CheckPayload(t.RunID, out); lerr != nil {
			// The same result would be refused again: the activity fails for
			// good, with the typed limit error.
			fl := FailureOf(lerr)
			fl.Attempt = t.Attempt
			e.deliver(t.RunID, input{kind: inActivityResult, step: t.Step, retried: p.e.retriedOf(t), failure: fl, after: e.observeAfter(t, lerr, fl, done)})
			return
		}
	}
	if err == nil {
		e.deliver(t.RunID, input{kind: inActivityResult, step: t.Step, retried: p.e.retriedOf(t), payload: out, after: e.observeAfter(t, nil, nil, done)})
		return
	}
	policy := activity.Merge(e.defaultActivity, &t.opts).RetryPolicy.WithDefaults()
	if final := finalFailure(policy, t.Attempt, err); final {
		fl := FailureOf(err)
		fl.Attempt = t.Attempt
		e.deliver(t.RunID, input{kind: inActivityResult, step: t.Step, retried: p.e.retriedOf(t), failure: fl, after: e.observeAfter(t, err, fl, done)})
		return
	}
	next := *t
	next.heartbeat = heartbeat
	next.Heartbeat = heartbeat
	next.Pending = time.Time{}
	fl := FailureOf(err)
	fl.Attempt = t.Attempt
	next.LastFailure = e.encodeFailure(fl)
	if next.FirstFailureAt.IsZero() {
		next.FirstFailureAt = e.clock.Now()
	}
	next.Attempt++
	next.NotBefore = e.clock.Now().Add(backoff(policy, t.Attempt))
	next.obs = nil
	e.log.Debug("chorus: activity attempt failed; retrying", "activity", t.Name, "run", t.RunID, "step", t.Step,
		"attempt", t.Attempt, "retry_at", next.NotBefore, "err", err)
	// The attempt count is journaled so a crash does not reset it.
	werr := e.w.submit(&history.Batch{RunID: t.RunID, Time: e.clock.Now(), UpdateTasks: []history.Task{next.Task}})
	p.untrack(t)
	switch {
	case errors.Is(werr, history.ErrConflict), errors.Is(werr, history.ErrRunNotFound):
		return // the task is gone: the run was canceled meanwhile
	case werr != nil:
		e.log.Error("chorus: record activity retry", "run", t.RunID, "step", t.Step, "err", werr)
	default:
		e.attemptEnded(t, err, fl, true, false)
	}
	p.dispatch(&next)
}

func (p *activityPool) isDead(t *actTask) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead[taskKey{t.RunID, t.Step}]
}

// invoke calls the activity, turning a panic into an error and enforcing the
// start-to-close and heartbeat timeouts on the engine's clock.
func (p *activityPool) invoke(ctx context.Context, spec ActivitySpec, t *actTask, hb *heartbeater) ([]byte, error) {
	ctx = activity.WithHeartbeater(ctx, hb)
	if t.opts.StartToCloseTimeout <= 0 && t.opts.HeartbeatTimeout <= 0 {
		return safeInvoke(ctx, spec, p.e.codec, t.Input)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tctx := ctx
	if t.opts.StartToCloseTimeout > 0 {
		var c context.CancelFunc
		tctx, c = withClockTimeout(ctx, p.e.clock, t.opts.StartToCloseTimeout)
		defer c()
	}
	var beat <-chan time.Time
	if t.opts.HeartbeatTimeout > 0 {
		tm := p.e.clock.Timer(t.opts.HeartbeatTimeout)
		defer tm.Stop()
		beat = tm.C
		hb.onBeat = func() { tm.Reset(t.opts.HeartbeatTimeout) }
	}
	type result struct {
		out []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		out, err := safeInvoke(tctx, spec, p.e.codec, t.Input)
		ch <- result{out, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && ctx.Err() == nil && tctx.Err() != nil {
			// The activity gave up because its timeout passed: record the
			// timeout, not the context error it returned.
			return nil, &TimeoutError{Activity: t.Name, Timeout: t.opts.StartToCloseTimeout}
		}
		return r.out, r.err
	case <-beat:
		cancel()
		return nil, &TimeoutError{Activity: t.Name, Timeout: t.opts.HeartbeatTimeout, Heartbeat: true}
	case <-tctx.Done():
		if ctx.Err() != nil && tctx.Err() == ctx.Err() {
			return nil, ctx.Err()
		}
		// The activity ignored its context: abandon the attempt.
		return nil, &TimeoutError{Activity: t.Name, Timeout: t.opts.StartToCloseTimeout}
	}
}

// heartbeater records an attempt's heartbeats for the engine.
type heartbeater struct {
	codec   history.Codec
	mu      sync.Mutex
	details []byte
	prev    []byte
	onBeat  func()
	heartbeatWrites
}

func (h *heartbeater) RecordHeartbeat(details any) {
	var b []byte
	if details != nil {
		b, _ = h.codec.Marshal(details) // undecodable details are dropped, the beat still counts
	}
	h.mu.Lock()
	var write []byte
	if b != nil {
		h.details = b
		write = h.journalLocked()
	}
	f := h.onBeat
	h.mu.Unlock()
	if write != nil {
		h.save(write)
		h.writing.Done()
	}
	if f != nil {
		f()
	}
}

func (h *heartbeater) PreviousDetails(v any) bool {
	return h.prev != nil && h.codec.Unmarshal(h.prev, v) == nil
}

func (h *heartbeater) last() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.details != nil {
		return h.details
	}
	return h.prev
}

func safeInvoke(ctx context.Context, spec ActivitySpec, codec history.Codec, in []byte) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &ActivityPanicError{Value: v, Stack: string(debug.Stack())}
		}
	}()
	return spec.Invoke(ctx, codec, in)
}

// TimeoutError reports an attempt that outlived its start-to-close timeout,
// or went longer than its heartbeat timeout without a heartbeat.
type TimeoutError struct {
	Activity  string
	Timeout   time.Duration
	Heartbeat bool
}

// FailureType returns the type recorded for the error.
func (e *TimeoutError) FailureType() string {
	if e.Heartbeat {
		return FailureTypeHeartbeatTimeout
	}
	return FailureTypeTimeout
}

func (e *TimeoutError) Error() string {
	if e.Heartbeat {
		return fmt.Sprintf("chorus: activity %q sent no heartbeat within its heartbeat timeout of %v", e.Activity, e.Timeout)
	}
	return fmt.Sprintf("chorus: activity %q did not finish within its start-to-close timeout of %v", e.Activity, e.Timeout)
}

// ActivityPanicError reports a panic inside an activity. It is retryable.
type ActivityPanicError struct {
	Value any
	Stack string
}

// FailureType returns the type recorded for the error.
func (e *ActivityPanicError) FailureType() string { return FailureTypePanic }

func (e *ActivityPanicError) Error() string {
	return fmt.Sprintf("chorus: activity panicked: %v", e.Value)
}

func finalFailure(p *activity.RetryPolicy, attempt int, err error) bool {
	if activity.IsNonRetryable(err) {
		return true
	}
	if p.MaximumAttempts > 0 && attempt >= p.MaximumAttempts {
		return true
	}
	return slices.Contains(p.NonRetryableErrorTypes, activity.TypeOf(err))
}

// backoff is the wait after attempt n failed: exponential, capped, and
// shortened by up to 20% at random so that retries spread out.
func backoff(p *activity.RetryPolicy, attempt int) time.Duration {
	d := float64(p.InitialInterval) * math.Pow(p.BackoffCoefficient, float64(attempt-1))
	if d > float64(p.MaximumInterval) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(p.MaximumInterval)
	}
	d -= d * 0.2 * rand.Float64()
	return time.Duration(d)
}
