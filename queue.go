package chorus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// Queue declares a named queue in [Options].Queues. Runs started with
// [StartOptions].Queue wait in it, durably, as runs with status
// [StatusQueued] until its limits let them start, lowest Priority first
// and first in, first out within a priority. Activities whose options name
// the queue (activity.Options.Queue) have their attempts bounded by its
// Concurrency, WorkerConcurrency and RateLimit; the runs and the activity
// attempts of one queue are counted apart.
type Queue struct {
	// Name identifies the queue: not empty, at most 255 bytes of UTF-8.
	Name string
	// Concurrency caps the queue's runs that have started and not ended,
	// counted from the database (so across restarts, and across every
	// process sharing the store). A run that is blocked still holds its
	// slot. Defaults to 0: no cap.
	Concurrency int
	// WorkerConcurrency caps the queue's runs that this engine has
	// started and that have not ended, when it must be lower than
	// Concurrency (a process with fewer resources). Defaults to 0: no cap
	// but Concurrency.
	WorkerConcurrency int
	// RateLimit caps how many of the queue's runs start in any window of
	// its Period. Defaults to nil: no cap.
	RateLimit *RateLimit
	// PartitionConcurrency caps the queue's started runs that have not
	// ended per [StartOptions].PartitionKey (one customer, one tenant...),
	// on top of Concurrency; runs without a key form a partition of their
	// own. Defaults to 0: no cap.
	PartitionConcurrency int
	// Debounce, when positive, gathers the enqueues that carry the same
	// [StartOptions].DebounceKey: an enqueue that finds a run of the queue
	// waiting with that key replaces its input with its own and moves its
	// earliest start to Debounce from now, so the run starts once, with
	// the latest input, after Debounce has passed without a new enqueue
	// (or after DebounceMaxWait since the first). Defaults to 0: no
	// debouncing (a DebounceKey is then an error).
	Debounce time.Duration
	// DebounceMaxWait, when positive, bounds how long enqueues may push
	// a debounced run's start back, from its first enqueue. Defaults to 0:
	// no bound.
	DebounceMaxWait time.Duration
}

// RateLimit is Limit starts per Period.
type RateLimit struct {
	// Limit is how many starts a window of Period allows; it must be
	// positive.
	Limit int
	// Period is the length of the sliding window; it must be positive.
	Period time.Duration
}

// ErrUnknownQueue is wrapped by the error of a [Start] whose
// StartOptions.Queue names no queue declared in [Options].Queues.
var ErrUnknownQueue = errors.New("chorus: queue is not declared in Options.Queues")

// ErrRunQueued is wrapped by the error of a call that needs a run's history
// (a signal, a query, an update) on a run that waits in a queue.
var ErrRunQueued = engine.ErrRunQueued

// ErrQueueDuplicate is wrapped by the error of a [Start] to a queue whose
// StartOptions.DedupID is held by a run of the queue that has not ended;
// the error is a *[history.QueueDedupError] naming that run.
var ErrQueueDuplicate = history.ErrQueueDuplicate

func validateQueues(qs []Queue) error {
	seen := map[string]bool{}
	for i, q := range qs {
		where := fmt.Sprintf("chorus: Options.Queues[%d] (%q)", i, q.Name)
		switch {
		case q.Name == "" || len(q.Name) > 255 || !utf8.ValidString(q.Name):
			return fmt.Errorf("%s: Name must be 1 to 255 bytes of UTF-8", where)
		case seen[q.Name]:
			return fmt.Errorf("%s: the name is declared twice", where)
		case q.Concurrency < 0:
			return fmt.Errorf("%s: Concurrency is negative (%d)", where, q.Concurrency)
		case q.WorkerConcurrency < 0:
			return fmt.Errorf("%s: WorkerConcurrency is negative (%d)", where, q.WorkerConcurrency)
		case q.PartitionConcurrency < 0:
			return fmt.Errorf("%s: PartitionConcurrency is negative (%d)", where, q.PartitionConcurrency)
		case q.Debounce < 0:
			return fmt.Errorf("%s: Debounce is negative (%v)", where, q.Debounce)
		case q.DebounceMaxWait < 0:
			return fmt.Errorf("%s: DebounceMaxWait is negative (%v)", where, q.DebounceMaxWait)
		case q.DebounceMaxWait > 0 && q.Debounce == 0:
			return fmt.Errorf("%s: DebounceMaxWait is set without Debounce", where)
		case q.RateLimit != nil && (q.RateLimit.Limit <= 0 || q.RateLimit.Period <= 0):
			return fmt.Errorf("%s: RateLimit needs a positive Limit and Period (have %d per %v)", where, q.RateLimit.Limit, q.RateLimit.Period)
		}
		seen[q.Name] = true
	}
	return nil
}

// activityQueues returns the engine's form of the queues for activities.
func activityQueues(qs []Queue) []engine.ActivityQueue {
	out := make([]engine.ActivityQueue, 0, len(qs))
	for _, q := range qs {
		c := q.Concurrency
		if q.WorkerConcurrency > 0 && (c == 0 || q.WorkerConcurrency < c) {
			c = q.WorkerConcurrency
		}
		aq := engine.ActivityQueue{Name: q.Name, Concurrency: c}
		if q.RateLimit != nil {
			aq.RateLimit, aq.RatePeriod = q.RateLimit.Limit, q.RateLimit.Period
		}
		out = append(out, aq)
	}
	return out
}

// queuedOptions is what a queued start journals later, encoded as JSON in
// the item's options.
type queuedOptions struct {
	ExecutionTimeout time.Duration     `json:"execution_timeout,omitempty"`
	RunTimeout       time.Duration     `json:"run_timeout,omitempty"`
	Header           map[string][]byte `json:"header,omitempty"`
}

// checkQueueOptions validates the queue fields of o.
func (e *Engine) checkQueueOptions(o *StartOptions) (Queue, error) {
	if o.Queue == "" {
		switch {
		case o.Priority != 0:
			return Queue{}, errors.New("chorus: StartOptions.Priority is set without a Queue")
		case o.DedupID != "":
			return Queue{}, errors.New("chorus: StartOptions.DedupID is set without a Queue")
		case o.PartitionKey != "":
			return Queue{}, errors.New("chorus: StartOptions.PartitionKey is set without a Queue")
		case o.DebounceKey != "":
			return Queue{}, errors.New("chorus: StartOptions.DebounceKey is set without a Queue")
		}
		return Queue{}, nil
	}
	q, ok := e.queues.declared(o.Queue)
	switch {
	case !ok:
		return q, fmt.Errorf("chorus: StartOptions.Queue %q: %w", o.Queue, ErrUnknownQueue)
	case e.queues.qs == nil:
		return q, fmt.Errorf("chorus: StartOptions.Queue %q: the store (%T) does not keep queues", o.Queue, e.store)
	case o.IDReusePolicy != IDReuseDefault && o.IDReusePolicy != IDReuseRejectDuplicate:
		return q, fmt.Errorf("chorus: StartOptions.IDReusePolicy %v cannot be used with a Queue (a queued run takes a new ID)", o.IDReusePolicy)
	case o.PartitionKey != "" && q.PartitionConcurrency == 0:
		return q, fmt.Errorf("chorus: StartOptions.PartitionKey is set but queue %q has no PartitionConcurrency", o.Queue)
	case o.DebounceKey != "" && q.Debounce == 0:
		return q, fmt.Errorf("chorus: StartOptions.DebounceKey is set but queue %q has no Debounce", o.Queue)
	case len(o.DedupID) > 1024 || len(o.PartitionKey) > 1024 || len(o.DebounceKey) > 1024:
		return q, errors.New("chorus: StartOptions.DedupID, PartitionKey and DebounceKey are limited to 1024 bytes")
	}
	return q, nil
}

// enqueue records a queued start and returns the ID of the run that will
// start (another run's, when the enqueue was debounced into it).
func (e *Engine) enqueue(ctx context.Context, q Queue, workflow, id string, payload []byte, o *StartOptions) (string, error) {
	opts, err := json.Marshal(queuedOptions{ExecutionTimeout: o.ExecutionTimeout, RunTimeout: o.RunTimeout, Header: engine.HeaderOf(ctx)})
	if err != nil {
		return "", fmt.Errorf("chorus: enqueue run %q: encode options: %w", id, err)
	}
	r := e.queues
	now := r.clock.Now()
	it := history.QueueItem{RunID: id, Queue: q.Name, Workflow: workflow, Input: payload, Options: opts, Priority: o.Priority,
		DedupID: o.DedupID, PartitionKey: o.PartitionKey, DebounceKey: o.DebounceKey, EnqueuedAt: now}
	if o.DebounceKey != "" {
		it.NotBefore = now.Add(q.Debounce)
	}
	got, merged, err := r.qs.Enqueue(ctx, it)
	if merged && q.DebounceMaxWait > 0 && got.NotBefore.After(got.EnqueuedAt.Add(q.DebounceMaxWait)) {
		// Pushed past the bound: enqueue again to pull it back.
		it.NotBefore = got.EnqueuedAt.Add(q.DebounceMaxWait)
		got, merged, err = r.qs.Enqueue(ctx, it)
	}
	if err != nil {
		return "", e.closedErr(err)
	}
	if !merged {
		r.observe(Event{Kind: EventRunEnqueued, Time: now, RunID: got.RunID, Workflow: workflow, Name: q.Name})
	}
	r.kick()
	return got.RunID, nil
}

// queueRunner starts the runs of the declared queues as their limits
// allow, and keeps count of the runs it started until they end.
type queueRunner struct {
	e      *Engine
	core   *engine.Engine
	qs     history.QueueStore // nil when the store keeps no queues
	queues []Queue
	clock  clock.Clock
	log    *slog.Logger
	obs    Observer

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	local    map[string]int  // runs started by this engine and not ended, by queue
	watching map[string]bool // runs whose end is awaited
	timer    *clock.Timer
}

func startQueues(e *Engine, o *Options) *queueRunner {
	r := &queueRunner{e: e, core: e.core, queues: o.Queues, clock: o.Clock, log: o.Logger, obs: o.Observer,
		wake: make(chan struct{}, 1), local: map[string]int{}, watching: map[string]bool{}}
	r.qs, _ = e.store.(history.QueueStore)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if r.qs == nil {
		return r
	}
	r.wg.Add(1)
	go r.loop()
	r.kick()
	return r
}

func (r *queueRunner) declared(name string) (Queue, bool) {
	for _, q := range r.queues {
		if q.Name == name {
			return q, true
		}
	}
	return Queue{}, false
}

// kick asks for a pass over the queues.
func (r *queueRunner) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *queueRunner) stop() {
	r.cancel()
	r.mu.Lock()
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *queueRunner) observe(ev Event) {
	if r.obs != nil {
		r.obs.Observe(context.Background(), ev)
	}
}

func (r *queueRunner) loop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.wake:
		}
		if err := r.pass(); err != nil && r.ctx.Err() == nil {
			if errors.Is(err, history.ErrStoreClosed) {
				return
			}
			r.log.Error("chorus: queues: a pass failed; trying again", "err", err)
			r.armAt(r.clock.Now().Add(time.Second))
		}
	}
}

// pass resumes what a crash interrupted, then starts what the queues let
// start now, and arms a timer for the next time something may.
func (r *queueRunner) pass() error {
	ctx := r.ctx
	started, err := r.qs.QueueItems(ctx, history.QueueFilter{States: []history.QueueState{history.QueueStarted}})
	if err != nil {
		return err
	}
	for _, it := range started {
		r.mu.Lock()
		w := r.watching[it.RunID]
		r.mu.Unlock()
		switch {
		case w || it.RunStatus.Ended():
		case it.RunStatus == 0:
			// Claimed by a process that stopped before the run started.
			if _, ok := r.core.Workflow(it.Workflow); ok {
				r.start(it)
			}
		default:
			r.watch(it)
		}
	}
	workflows := r.core.WorkflowNames()
	var next time.Time
	for _, q := range r.queues {
		for {
			max := 1000
			if q.WorkerConcurrency > 0 {
				r.mu.Lock()
				max = q.WorkerConcurrency - r.local[q.Name]
				r.mu.Unlock()
			}
			if max <= 0 {
				break
			}
			c := history.QueueClaim{Queue: q.Name, Now: r.clock.Now(), Max: max, Concurrency: q.Concurrency,
				PartitionConcurrency: q.PartitionConcurrency, Workflows: workflows}
			if q.RateLimit != nil {
				c.RateLimit, c.RatePeriod = q.RateLimit.Limit, q.RateLimit.Period
			}
			items, at, err := r.qs.ClaimQueued(ctx, c)
			if err != nil {
				return err
			}
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
			for _, it := range items {
				r.observe(Event{Kind: EventRunDequeued, Time: it.StartedAt, Start: it.EnqueuedAt, RunID: it.RunID,
					Workflow: it.Workflow, Name: q.Name, Latency: it.StartedAt.Sub(it.EnqueuedAt)})
				r.start(it)
			}
			if len(items) < max {
				break
			}
		}
	}
	if !next.IsZero() {
		r.armAt(next)
	}
	return nil
}

// armAt makes a pass happen at t on the engine's clock.
func (r *queueRunner) armAt(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timer = r.clock.AfterFunc(t.Sub(r.clock.Now()), r.kick)
}

// start starts the run of a claimed item and watches for its end.
func (r *queueRunner) start(it history.QueueItem) {
	spec, ok := r.core.Workflow(it.Workflow)
	if !ok {
		return // started by a pass once the workflow is registered
	}
	var o queuedOptions
	if len(it.Options) > 0 {
		if err := json.Unmarshal(it.Options, &o); err != nil {
			r.log.Error("chorus: queues: a queued start's options do not decode; started without them", "run", it.RunID, "err", err)
		}
	}
	ctx := engine.WithHeader(r.ctx, o.Header)
	err := r.core.Start(ctx, spec, it.RunID, it.Input, engine.IDReusePolicy(IDReuseRejectDuplicate),
		engine.Timeouts{Execution: o.ExecutionTimeout, Run: o.RunTimeout})
	if err != nil && !errors.Is(err, history.ErrRunExists) {
		if r.ctx.Err() == nil && !errors.Is(err, engine.ErrEngineClosed) {
			r.log.Error("chorus: queues: a queued run did not start; the next Open tries again", "run", it.RunID, "queue", it.Queue, "err", err)
		}
		return
	}
	r.watch(it)
}

// watch counts a started run against its queue until it ends.
func (r *queueRunner) watch(it history.QueueItem) {
	r.mu.Lock()
	if r.watching[it.RunID] || r.ctx.Err() != nil {
		r.mu.Unlock()
		return
	}
	r.watching[it.RunID] = true
	r.local[it.Queue]++
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		ended := r.awaitEnd(it.RunID)
		r.mu.Lock()
		delete(r.watching, it.RunID)
		r.local[it.Queue]--
		r.mu.Unlock()
		if ended {
			r.kick()
		}
	}()
}

// awaitEnd waits until the run ends (true) or the engine closes (false).
func (r *queueRunner) awaitEnd(id string) bool {
	for {
		ch, stop := r.core.Watch(id)
		info, err := r.e.store.Run(r.ctx, id)
		if err == nil && info.Status.Ended() || errors.Is(err, history.ErrRunNotFound) {
			stop()
			return true
		}
		if err != nil && r.ctx.Err() == nil && !errors.Is(err, history.ErrStoreClosed) {
			// The row cannot be read (damaged): hold the slot, as for a
			// blocked run, until the run changes.
			r.log.Error("chorus: queues: read a queued run's row", "run", id, "err", err)
		}
		select {
		case o := <-ch:
			stop()
			if o.Status.Ended() {
				return true
			}
		case <-r.ctx.Done():
			stop()
			return false
		}
	}
}

// cancelQueued ends a run that waits in a queue, reporting false when the
// run is not waiting in one.
func (e *Engine) cancelQueued(ctx context.Context, runID string, terminated bool, reason string) (bool, error) {
	qs := e.queues.qs
	if qs == nil {
		return false, nil
	}
	st := history.StatusCanceled
	if terminated {
		st = history.StatusTerminated
	}
	fl := e.core.QueuedEndFailure(terminated, reason)
	done, err := qs.CancelQueued(ctx, runID, history.StatusUpdate{Status: st, Failure: fl}, e.queues.clock.Now())
	if err != nil || !done {
		return false, e.closedErr(err)
	}
	e.core.EndQueued(runID, st, fl)
	e.queues.kick()
	return true, nil
}

// runRow reads a run's row. A run claimed from a queue whose start is
// under way has none for a moment: it reads as still queued.
func (e *Engine) runRow(ctx context.Context, runID string) (history.RunInfo, error) {
	info, err := e.store.Run(ctx, runID)
	if !errors.Is(err, history.ErrRunNotFound) || e.queues.qs == nil {
		return info, err
	}
	items, qerr := e.queues.qs.QueueItems(ctx, history.QueueFilter{RunID: runID})
	if qerr != nil || len(items) == 0 || items[0].State != history.QueueStarted {
		return info, err
	}
	if it := items[0]; it.RunStatus == 0 {
		return history.RunInfo{ID: it.RunID, Workflow: it.Workflow, Status: history.StatusQueued, CreatedAt: it.EnqueuedAt,
			UpdatedAt: it.StartedAt, FirstSeq: 1}, nil
	}
	return e.store.Run(ctx, runID) // started meanwhile
}

// QueueStats is a snapshot of one queue (see [Engine.Queues]).
type QueueStats struct {
	// Name is the queue's name.
	Name string
	// Waiting is how many runs wait to start, Running how many have
	// started and not ended.
	Waiting, Running int
	// OldestWaiting is when the run that has waited longest was
	// enqueued; the zero time when none waits.
	OldestWaiting time.Time
	// Wait holds the wait times (from enqueue to start) of the started
	// runs the queue still keeps (those not ended, and, for a queue with
	// a rate limit, those started within its window), for percentiles.
	Wait []time.Duration
	// ActivitiesRunning and ActivitiesWaiting count the activity
	// attempts bound to the queue in this engine.
	ActivitiesRunning, ActivitiesWaiting int
}

// Queues returns a snapshot of every declared queue (and of any other
// queue the database holds runs for), ordered by name: its depth, running
// runs and the wait times of recent starts.
func (e *Engine) Queues(ctx context.Context) ([]QueueStats, error) {
	by := map[string]*QueueStats{}
	get := func(name string) *QueueStats {
		s := by[name]
		if s == nil {
			s = &QueueStats{Name: name}
			by[name] = s
		}
		return s
	}
	for _, q := range e.queues.queues {
		get(q.Name)
	}
	if e.queues.qs != nil {
		items, err := e.queues.qs.QueueItems(ctx, history.QueueFilter{})
		if err != nil {
			return nil, e.closedErr(err)
		}
		for _, s := range SummarizeQueueItems(items) {
			*get(s.Name) = s
		}
	}
	for _, a := range e.core.ActivityQueues() {
		s := get(a.Name)
		s.ActivitiesRunning, s.ActivitiesWaiting = a.Running, a.Waiting
	}
	out := make([]QueueStats, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b QueueStats) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

// SummarizeQueueItems turns a store's queue items into per-queue
// statistics (without the activity counts), ordered by queue name.
func SummarizeQueueItems(items []history.QueueItem) []QueueStats {
	var out []QueueStats
	for _, it := range items {
		if len(out) == 0 || out[len(out)-1].Name != it.Queue {
			out = append(out, QueueStats{Name: it.Queue})
		}
		s := &out[len(out)-1]
		switch it.State {
		case history.QueueWaiting:
			s.Waiting++
			if s.OldestWaiting.IsZero() || it.EnqueuedAt.Before(s.OldestWaiting) {
				s.OldestWaiting = it.EnqueuedAt
			}
		case history.QueueStarted, history.QueueDone:
			if it.State == history.QueueStarted && !it.RunStatus.Ended() {
				s.Running++
			}
			if !it.StartedAt.IsZero() {
				s.Wait = append(s.Wait, it.StartedAt.Sub(it.EnqueuedAt))
			}
		}
	}
	return out
}

// QueuesTable returns [Engine.Queues] as a table of plain strings, for a
// page of the dashboard (package ui's Table, which imports nothing of the
// packages that fill it):
//
//	ui.Handler(eng, &ui.Options{Tables: []ui.Table{{Name: "Queues", Rows: eng.QueuesTable}}})
//
// Each row is a queue: its depth (runs waiting), runs running, since when
// the oldest run waits, the wait (enqueue to start) of its recent starts at
// the 50th and 95th percentiles and at most, and the activity attempts
// bound to it in this engine.
func (e *Engine) QueuesTable(ctx context.Context) (header []string, rows [][]string, err error) {
	st, err := e.Queues(ctx)
	if err != nil {
		return nil, nil, err
	}
	header = []string{"Queue", "Waiting", "Running", "Oldest waiting since", "Wait p50", "Wait p95", "Wait max", "Activities running", "Activities waiting"}
	rows = make([][]string, 0, len(st))
	for _, s := range st {
		oldest, p50, p95, most := "", "", "", ""
		if !s.OldestWaiting.IsZero() {
			oldest = s.OldestWaiting.UTC().Format(time.RFC3339)
		}
		if len(s.Wait) > 0 {
			w := slices.Clone(s.Wait)
			slices.Sort(w)
			p50, p95, most = nearestRank(w, 50).String(), nearestRank(w, 95).String(), w[len(w)-1].String()
		}
		rows = append(rows, []string{s.Name, strconv.Itoa(s.Waiting), strconv.Itoa(s.Running), oldest, p50, p95, most,
			strconv.Itoa(s.ActivitiesRunning), strconv.Itoa(s.ActivitiesWaiting)})
	}
	return header, rows, nil
}

// nearestRank returns the p-th percentile of sorted (not empty).
func nearestRank(sorted []time.Duration, p int) time.Duration {
	i := (p*len(sorted)+99)/100 - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
