package engine

import (
	"sync"
	"time"

	"github.com/benbjohnson/clock"
)

// ActivityQueue bounds the attempts of the activities whose options name
// it: at most Concurrency running at once (zero: no bound) and at most
// RateLimit started in any window of RatePeriod (zero: no bound).
type ActivityQueue struct {
	Name        string
	Concurrency int
	RateLimit   int
	RatePeriod  time.Duration
}

// actGate holds activity attempts until their queue lets them start.
// Attempts waiting here are neither queued for a worker nor counted busy:
// they wait for another attempt to end (which is busy) or for the end of
// a rate-limit window (a timer NextWake reports).
type actGate struct {
	e      *Engine
	mu     sync.Mutex
	queues map[string]*actQueue
	warned map[string]bool // undeclared queues already logged
	closed bool
}

type actQueue struct {
	ActivityQueue
	running int
	starts  []time.Time // in the current rate window, oldest first
	waiting []*actTask
	timer   *clock.Timer
	wakeAt  time.Time
}

func newActGate(e *Engine, qs []ActivityQueue) *actGate {
	g := &actGate{e: e, queues: map[string]*actQueue{}, warned: map[string]bool{}}
	for _, q := range qs {
		g.queues[q.Name] = &actQueue{ActivityQueue: q}
	}
	return g
}

// hold reports whether t must wait for its queue; when it may start at
// once, it takes a slot (t.gated). Called with the pool's lock held.
func (g *actGate) hold(t *actTask) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t.gated = false
	q := g.queues[t.opts.Queue]
	if q == nil {
		if !g.warned[t.opts.Queue] {
			g.warned[t.opts.Queue] = true
			g.e.log.Error("chorus: activity queue is not declared (Options.Queues); its attempts wait until a process that declares it opens the database",
				"queue", t.opts.Queue, "activity", t.Name, "run", t.RunID, "step", t.Step)
		}
		return true
	}
	if len(q.waiting) == 0 && g.admitLocked(q) {
		t.gated = true
		return false
	}
	q.waiting = append(q.waiting, t)
	g.armLocked(q)
	return true
}

// admitLocked takes a slot of q if its limits allow one now.
func (g *actGate) admitLocked(q *actQueue) bool {
	if q.Concurrency > 0 && q.running >= q.Concurrency {
		return false
	}
	if q.RateLimit > 0 {
		now := g.e.clock.Now()
		i := 0
		for i < len(q.starts) && !q.starts[i].After(now.Add(-q.RatePeriod)) {
			i++
		}
		q.starts = q.starts[i:]
		if len(q.starts) >= q.RateLimit {
			return false
		}
		q.starts = append(q.starts, now)
	}
	q.running++
	return true
}

// armLocked sets a timer for the end of q's rate window when attempts wait
// for it.
func (g *actGate) armLocked(q *actQueue) {
	if g.closed || q.RateLimit == 0 || len(q.waiting) == 0 || len(q.starts) < q.RateLimit || q.timer != nil {
		return
	}
	at := q.starts[len(q.starts)-q.RateLimit].Add(q.RatePeriod)
	q.wakeAt = at
	q.timer = g.e.clock.AfterFunc(at.Sub(g.e.clock.Now()), func() {
		g.e.busy.Add(1) // before the timer stops being visible to NextWake
		defer g.e.settled()
		g.mu.Lock()
		q.timer, q.wakeAt = nil, time.Time{}
		g.mu.Unlock()
		g.pump(q)
	})
}

// release frees t's slot and admits the attempts that now fit.
func (g *actGate) release(t *actTask) {
	t.gated = false
	g.mu.Lock()
	q := g.queues[t.opts.Queue]
	q.running--
	g.mu.Unlock()
	g.pump(q)
}

// pump hands the waiting attempts that fit to the workers.
func (g *actGate) pump(q *actQueue) {
	var ready []*actTask
	g.mu.Lock()
	for len(q.waiting) > 0 && !g.closed && g.admitLocked(q) {
		t := q.waiting[0]
		q.waiting[0] = nil
		q.waiting = q.waiting[1:]
		t.gated = true
		ready = append(ready, t)
	}
	g.armLocked(q)
	g.mu.Unlock()
	if len(ready) == 0 {
		return
	}
	p := g.e.acts
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range ready {
		if !p.closed {
			p.readyLocked(t)
		}
	}
}

// next returns the earliest end of a rate window that attempts wait for.
func (g *actGate) next() (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var first time.Time
	for _, q := range g.queues {
		if !q.wakeAt.IsZero() && (first.IsZero() || q.wakeAt.Before(first)) {
			first = q.wakeAt
		}
	}
	return first, !first.IsZero()
}

// ActivityQueueStats is a snapshot of one activity queue.
type ActivityQueueStats struct {
	Name             string
	Running, Waiting int
}

// ActivityQueues returns a snapshot of the activity queues.
func (e *Engine) ActivityQueues() []ActivityQueueStats {
	g := e.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]ActivityQueueStats, 0, len(g.queues))
	for _, q := range g.queues {
		out = append(out, ActivityQueueStats{Name: q.Name, Running: q.running, Waiting: len(q.waiting)})
	}
	return out
}

func (g *actGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for _, q := range g.queues {
		if q.timer != nil {
			q.timer.Stop()
			q.timer, q.wakeAt = nil, time.Time{}
		}
		q.waiting = nil
	}
}
