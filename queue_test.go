package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

// gateRecorder counts the activities executing at once, keeps the highest
// count and the order they entered, and holds each until the test
// releases one.
type gateRecorder struct {
	inflight, max atomic.Int64
	entered       chan string
	release       chan struct{}
	mu            sync.Mutex
	order         []string
}

func newGateRecorder() *gateRecorder {
	return &gateRecorder{entered: make(chan string, 1000), release: make(chan struct{})}
}

func (g *gateRecorder) enter(ctx context.Context, key string) error {
	c := g.inflight.Add(1)
	for {
		m := g.max.Load()
		if c <= m || g.max.CompareAndSwap(m, c) {
			break
		}
	}
	g.mu.Lock()
	g.order = append(g.order, key)
	g.mu.Unlock()
	g.entered <- key
	defer g.inflight.Add(-1)
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gateRecorder) entries() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.order...)
}

// queueDefs returns a workflow that runs one gated activity with its input
// as key, and the activity.
func queueDefs(g *gateRecorder, name string) (*workflow.Definition[string, string], *activity.Definition[string, string]) {
	act := activity.New(name+"-act", func(ctx context.Context, key string) (string, error) {
		return key, g.enter(ctx, key)
	})
	wf := workflow.New(name, func(ctx workflow.Context, key string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, key).Get(ctx)
	})
	return wf, act
}

// drive releases the gated activities one at a time, each once as many
// are inside as limit allows (or every one left), until n have run.
func (g *gateRecorder) drive(t *testing.T, n, limit int) {
	t.Helper()
	received, released := 0, 0
	for released < n {
		for received-released < min(limit, n-released) {
			recv(t, g.entered, fmt.Sprintf("activity %d to enter (%d released)", received+1, released))
			received++
		}
		require.LessOrEqual(t, g.inflight.Load(), int64(limit))
		g.release <- struct{}{}
		released++
	}
}

func TestQueueConcurrencyUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateRecorder()
	wf, act := queueDefs(g, "q-load")
	eng, _ := setup(t, &chorus.Options{Queues: []chorus.Queue{{Name: "work", Concurrency: 3}}}, wf, act)
	const n = 40
	runs := make([]*chorus.Run[string], n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := chorus.Start(ctx, eng, wf, fmt.Sprint(i), &chorus.StartOptions{Queue: "work"})
			require.NoError(t, err)
			runs[i] = r
		}()
	}
	wg.Wait()
	g.drive(t, n, 3)
	for i, r := range runs {
		out, err := r.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), out)
	}
	require.Equal(t, int64(3), g.max.Load(), "the queue ran at most, and at times exactly, 3 at once")
}

func TestQueuePriorityThenFIFO(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateRecorder()
	wf, act := queueDefs(g, "q-prio")
	eng, _ := setup(t, &chorus.Options{Queues: []chorus.Queue{{Name: "one", Concurrency: 1}}}, wf, act)
	blocker, err := chorus.Start(ctx, eng, wf, "blocker", &chorus.StartOptions{Queue: "one"})
	require.NoError(t, err)
	require.Equal(t, "blocker", recv(t, g.entered, "the blocker to run"))
	type item struct {
		key  string
		prio int
	}
	items := []item{{"p5", 5}, {"p1-a", 1}, {"p3", 3}, {"p1-b", 1}, {"p0", 0}, {"p1-c", 1}}
	var runs []*chorus.Run[string]
	for _, it := range items {
		r, err := chorus.Start(ctx, eng, wf, it.key, &chorus.StartOptions{Queue: "one", Priority: it.prio})
		require.NoError(t, err)
		info, err := r.Describe(ctx)
		require.NoError(t, err)
		require.Equal(t, chorus.StatusQueued, info.Status, it.key)
		runs = append(runs, r)
	}
	g.release <- struct{}{}
	_, err = blocker.Result(ctx)
	require.NoError(t, err)
	g.drive(t, len(items), 1)
	for _, r := range runs {
		_, err := r.Result(ctx)
		require.NoError(t, err)
	}
	require.Equal(t, []string{"blocker", "p0", "p1-a", "p1-b", "p1-c", "p3", "p5"}, g.entries())
}

func TestQueueDedup(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateRecorder()
	wf, act := queueDefs(g, "q-dedup")
	eng, _ := setup(t, &chorus.Options{Queues: []chorus.Queue{{Name: "d"}}}, wf, act)
	first, err := chorus.Start(ctx, eng, wf, "a", &chorus.StartOptions{Queue: "d", DedupID: "order-1"})
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, wf, "b", &chorus.StartOptions{Queue: "d", DedupID: "order-1"})
	var de *history.QueueDedupError
	require.ErrorAs(t, err, &de)
	require.ErrorIs(t, err, chorus.ErrQueueDuplicate)
	require.Equal(t, first.ID(), de.RunID)
	require.Equal(t, "order-1", de.DedupID)
	require.Equal(t, "d", de.Queue)
	attached, err := chorus.Start(ctx, eng, wf, "c", &chorus.StartOptions{Queue: "d", DedupID: "order-1", IfExists: chorus.AttachIfExists})
	require.NoError(t, err)
	require.Equal(t, first.ID(), attached.ID())
	// Another ID is free; the same ID in another queue would be too.
	other, err := chorus.Start(ctx, eng, wf, "o", &chorus.StartOptions{Queue: "d", DedupID: "order-2"})
	require.NoError(t, err)
	recv(t, g.entered, "a run to enter")
	recv(t, g.entered, "a run to enter")
	g.release <- struct{}{}
	g.release <- struct{}{}
	_, err = first.Result(ctx)
	require.NoError(t, err)
	_, err = other.Result(ctx)
	require.NoError(t, err)
	// Once the run has ended, its deduplication ID may be used again.
	again, err := chorus.Start(ctx, eng, wf, "again", &chorus.StartOptions{Queue: "d", DedupID: "order-1"})
	require.NoError(t, err)
	require.NotEqual(t, first.ID(), again.ID())
	recv(t, g.entered, "the new run to enter")
	g.release <- struct{}{}
	out, err := again.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "again", out)
}

func TestQueuePartitions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var mu sync.Mutex
	inflight, maxPer := map[string]int{}, map[string]int{}
	total, maxTotal := 0, 0
	release := make(chan struct{})
	entered := make(chan string, 100)
	act := activity.New("q-part-act", func(ctx context.Context, key string) (string, error) {
		mu.Lock()
		inflight[key]++
		total++
		maxPer[key] = max(maxPer[key], inflight[key])
		maxTotal = max(maxTotal, total)
		mu.Unlock()
		entered <- key
		select {
		case <-release:
		case <-ctx.Done():
		}
		mu.Lock()
		inflight[key]--
		total--
		mu.Unlock()
		return key, nil
	})
	wf := workflow.New("q-part", func(ctx workflow.Context, key string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, key).Get(ctx)
	})
	eng, _ := setup(t, &chorus.Options{Queues: []chorus.Queue{{Name: "p", PartitionConcurrency: 1, Concurrency: 2}}}, wf, act)
	var runs []*chorus.Run[string]
	for _, key := range []string{"ann", "ann", "bob", "ann", "bob", "cy"} {
		r, err := chorus.Start(ctx, eng, wf, key, &chorus.StartOptions{Queue: "p", PartitionKey: key})
		require.NoError(t, err)
		runs = append(runs, r)
	}
	// ann and bob run together (one each, two in all); the second ann waits.
	first := map[string]bool{recv(t, entered, "a run"): true, recv(t, entered, "a run"): true}
	require.Equal(t, map[string]bool{"ann": true, "bob": true}, first)
	for range runs {
		release <- struct{}{}
		if len(entered) == 0 {
			continue
		}
	}
	for _, r := range runs {
		_, err := r.Result(ctx)
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[string]int{"ann": 1, "bob": 1, "cy": 1}, maxPer)
	require.Equal(t, 2, maxTotal)
}

func TestQueueRateLimitFakeClock(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	startedAt := map[string]time.Time{}
	wf := workflow.New("q-rate", func(ctx workflow.Context, key string) (string, error) {
		mu.Lock()
		if _, ok := startedAt[key]; !ok {
			startedAt[key] = workflow.Now(ctx)
		}
		mu.Unlock()
		return key, nil
	})
	eng, _ := setup(t, &chorus.Options{Clock: mock, Queues: []chorus.Queue{{Name: "api", RateLimit: &chorus.RateLimit{Limit: 2, Period: time.Minute}}}}, wf)
	var ids []string
	for i := range 5 {
		r, err := chorus.Start(ctx, eng, wf, fmt.Sprint(i), &chorus.StartOptions{Queue: "api"})
		require.NoError(t, err)
		ids = append(ids, r.ID())
	}
	count := func(st chorus.RunStatus) int {
		n := 0
		for _, id := range ids {
			info, err := eng.Describe(ctx, id)
			require.NoError(t, err)
			if info.Status == st {
				n++
			}
		}
		return n
	}
	awaitCompleted := func(want int) {
		t.Helper()
		require.NoError(t, testutil.Await(ctx, eng, fmt.Sprintf("%d runs completed", want), func() (bool, error) {
			return count(chorus.StatusCompleted) >= want, nil
		}))
		require.Equal(t, want, count(chorus.StatusCompleted))
		require.Equal(t, len(ids)-want, count(chorus.StatusQueued))
	}
	awaitCompleted(2)
	mock.Add(59 * time.Second)
	require.Equal(t, 3, count(chorus.StatusQueued), "the window has not passed")
	mock.Add(time.Second)
	awaitCompleted(4)
	mock.Add(time.Minute)
	awaitCompleted(5)
	st, err := eng.Queues(ctx)
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.Equal(t, 0, st[0].Waiting)
	// Starts per window never passed the limit.
	perWindow := map[int64]int{}
	mu.Lock()
	for _, at := range startedAt {
		perWindow[at.Unix()/60]++
	}
	mu.Unlock()
	for w, n := range perWindow {
		require.LessOrEqual(t, n, 2, "window %d", w)
	}
}

func TestQueueDebounceFakeClock(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	var runs atomic.Int64
	wf := workflow.New("q-debounce", func(ctx workflow.Context, in int) (int, error) {
		runs.Add(1)
		return in, nil
	})
	eng, _ := setup(t, &chorus.Options{Clock: mock, Queues: []chorus.Queue{{Name: "deb", Debounce: 10 * time.Second, DebounceMaxWait: time.Minute}}}, wf)
	first, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{Queue: "deb", DebounceKey: "doc-7"})
	require.NoError(t, err)
	mock.Add(5 * time.Second)
	second, err := chorus.Start(ctx, eng, wf, 2, &chorus.StartOptions{Queue: "deb", DebounceKey: "doc-7"})
	require.NoError(t, err)
	require.Equal(t, first.ID(), second.ID(), "gathered into the waiting run")
	mock.Add(9 * time.Second)
	third, err := chorus.Start(ctx, eng, wf, 3, &chorus.StartOptions{Queue: "deb", DebounceKey: "doc-7"})
	require.NoError(t, err)
	require.Equal(t, first.ID(), third.ID())
	other, err := chorus.Start(ctx, eng, wf, 100, &chorus.StartOptions{Queue: "deb", DebounceKey: "doc-8"})
	require.NoError(t, err)
	mock.Add(9 * time.Second)
	info, err := first.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, chorus.StatusQueued, info.Status, "10 s have not passed since the last enqueue")
	mock.Add(time.Second)
	out, err := first.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, out, "started once, with the latest input")
	out, err = other.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 100, out)
	require.Equal(t, int64(2), runs.Load())

	// DebounceMaxWait bounds how far enqueues push the start back.
	r, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{Queue: "deb", DebounceKey: "busy"})
	require.NoError(t, err)
	for i := range 6 {
		mock.Add(9 * time.Second)
		again, err := chorus.Start(ctx, eng, wf, 10+i, &chorus.StartOptions{Queue: "deb", DebounceKey: "busy"})
		require.NoError(t, err)
		require.Equal(t, r.ID(), again.ID())
	}
	// 54 s after the first enqueue: the debounce says 64 s, the bound 60 s.
	mock.Add(5 * time.Second)
	info, err = r.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, chorus.StatusQueued, info.Status)
	mock.Add(time.Second)
	out, err = r.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 15, out)
}

func TestQueueCancelAndTerminateQueued(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateRecorder()
	wf, act := queueDefs(g, "q-cancel")
	eng, _ := setup(t, &chorus.Options{Queues: []chorus.Queue{{Name: "c", Concurrency: 1}}}, wf, act)
	blocker, err := chorus.Start(ctx, eng, wf, "blocker", &chorus.StartOptions{Queue: "c"})
	require.NoError(t, err)
	recv(t, g.entered, "the blocker to run")
	canceled, err := chorus.Start(ctx, eng, wf, "canceled", &chorus.StartOptions{Queue: "c"})
	require.NoError(t, err)
	terminated, err := chorus.Start(ctx, eng, wf, "terminated", &chorus.StartOptions{Queue: "c"})
	require.NoError(t, err)
	kept, err := chorus.Start(ctx, eng, wf, "kept", &chorus.StartOptions{Queue: "c"})
	require.NoError(t, err)

	resultErr := make(chan error, 1)
	go func() { _, err := canceled.Result(ctx); resultErr <- err }()
	require.NoError(t, canceled.Cancel(ctx))
	err = recv(t, resultErr, "the canceled run's result")
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.NoError(t, eng.Terminate(ctx, terminated.ID(), "not needed"))
	info, err := terminated.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, chorus.StatusTerminated, info.Status)
	require.ErrorIs(t, canceled.Cancel(ctx), chorus.ErrRunEnded)
	require.ErrorIs(t, eng.Terminate(ctx, terminated.ID(), "again"), chorus.ErrRunEnded)
	info, err = canceled.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCanceled, info.Status, "not blocked by the calls above")

	g.release <- struct{}{}
	_, err = blocker.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "kept", recv(t, g.entered, "the kept run"))
	g.release <- struct{}{}
	_, err = kept.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"blocker", "kept"}, g.entries())
}

func TestQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateRecorder()
	wf, act := queueDefs(g, "q-restart")
	opts := &chorus.Options{Queues: []chorus.Queue{{Name: "r", Concurrency: 2}}}
	eng, path := setup(t, opts, wf, act)
	var ids []string
	for i := range 6 {
		r, err := chorus.Start(ctx, eng, wf, fmt.Sprint(i), &chorus.StartOptions{Queue: "r", Priority: -i})
		require.NoError(t, err)
		ids = append(ids, r.ID())
	}
	recv(t, g.entered, "a run")
	recv(t, g.entered, "a run")
	closeEngine(t, eng) // the two running activities are interrupted
	require.Equal(t, int64(0), g.inflight.Load())

	g2 := newGateRecorder()
	wf2, act2 := queueDefs(g2, "q-restart")
	eng2 := openEngine(t, path, opts, wf2, act2)
	g2.drive(t, 6, 2)
	for _, id := range ids {
		require.NoError(t, testutil.AwaitStatus(ctx, eng2, id, chorus.StatusCompleted))
	}
	require.Equal(t, int64(2), g2.max.Load())
	// The two runs that had started resume first; the others start by
	// priority (lower first: the later enqueues here).
	first := g.entries()
	got := g2.entries()
	require.ElementsMatch(t, first, got[:2])
	var rest []string
	for i := 5; i >= 0; i-- {
		if k := fmt.Sprint(i); !slices.Contains(first, k) {
			rest = append(rest, k)
		}
	}
	require.Equal(t, rest, got[2:])
}

func TestActivityQueueConcurrencyAndRate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateRecorder()
	act := activity.New("partner-call", func(ctx context.Context, key string) (string, error) {
		return key, g.enter(ctx, key)
	}).WithOptions(activity.Options{Queue: "partner"})
	wf := workflow.New("q-act", func(ctx workflow.Context, key string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, key).Get(ctx)
	})
	eng, _ := setup(t, &chorus.Options{Queues: []chorus.Queue{{Name: "partner", Concurrency: 2}}}, wf, act)
	const n = 12
	var runs []*chorus.Run[string]
	for i := range n {
		r, err := chorus.Start(ctx, eng, wf, fmt.Sprint(i), nil)
		require.NoError(t, err)
		runs = append(runs, r)
	}
	g.drive(t, n, 2)
	for _, r := range runs {
		_, err := r.Result(ctx)
		require.NoError(t, err)
	}
	require.Equal(t, int64(2), g.max.Load())
}

func TestActivityQueueRateLimitFakeClock(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	var mu sync.Mutex
	var calls []time.Time
	act := activity.New("rated-call", func(ctx context.Context, key string) (string, error) {
		mu.Lock()
		calls = append(calls, mock.Now())
		mu.Unlock()
		return key, nil
	}).WithOptions(activity.Options{Queue: "api"})
	wf := workflow.New("q-act-rate", func(ctx workflow.Context, key string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, key).Get(ctx)
	})
	eng, _ := setup(t, &chorus.Options{Clock: mock, Queues: []chorus.Queue{{Name: "api", RateLimit: &chorus.RateLimit{Limit: 3, Period: time.Second}}}}, wf, act)
	const n = 8
	var ids []string
	for i := range n {
		r, err := chorus.Start(ctx, eng, wf, fmt.Sprint(i), nil)
		require.NoError(t, err)
		ids = append(ids, r.ID())
	}
	called := func() int { mu.Lock(); defer mu.Unlock(); return len(calls) }
	for _, want := range []int{3, 6, 8} {
		require.NoError(t, testutil.Await(ctx, eng, fmt.Sprintf("%d calls", want), func() (bool, error) { return called() >= want, nil }))
		require.Equal(t, want, called())
		mock.Add(time.Second)
	}
	for _, id := range ids {
		require.NoError(t, testutil.AwaitStatus(ctx, eng, id, chorus.StatusCompleted))
	}
	perSecond := map[int64]int{}
	mu.Lock()
	for _, c := range calls {
		perSecond[c.Unix()]++
	}
	mu.Unlock()
	for s, k := range perSecond {
		require.LessOrEqual(t, k, 3, "second %d", s)
	}
}

func TestQueueBadOptions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("q-bad", func(ctx workflow.Context, in int) (int, error) { return in, nil })
	for _, q := range []chorus.Queue{
		{}, {Name: "x", Concurrency: -1}, {Name: "x", RateLimit: &chorus.RateLimit{Limit: 0, Period: time.Second}},
		{Name: "x", Debounce: -time.Second}, {Name: "x", DebounceMaxWait: time.Second},
	} {
		_, err := chorus.Open(ctx, t.TempDir()+"/x.db", &chorus.Options{Queues: []chorus.Queue{q}})
		require.Error(t, err, "%+v", q)
		require.Contains(t, err.Error(), "Options.Queues[0]")
	}
	_, err := chorus.Open(ctx, t.TempDir()+"/x.db", &chorus.Options{Queues: []chorus.Queue{{Name: "a"}, {Name: "a"}}})
	require.ErrorContains(t, err, "declared twice")

	eng, _ := setup(t, &chorus.Options{Queues: []chorus.Queue{{Name: "plain"}}}, wf)
	_, err = chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{Queue: "nope"})
	require.ErrorIs(t, err, chorus.ErrUnknownQueue)
	for _, o := range []chorus.StartOptions{
		{Priority: 1}, {DedupID: "d"}, {PartitionKey: "k"}, {DebounceKey: "k"},
		{Queue: "plain", PartitionKey: "k"}, {Queue: "plain", DebounceKey: "k"},
		{Queue: "plain", IDReusePolicy: chorus.IDReuseAllowDuplicate},
	} {
		_, err := chorus.Start(ctx, eng, wf, 1, &o)
		require.Error(t, err, "%+v", o)
		require.ErrorContains(t, err, "StartOptions.")
	}
	r, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{Queue: "plain", ID: "same"})
	require.NoError(t, err)
	_, err = r.Result(ctx)
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{Queue: "plain", ID: "same"})
	require.ErrorIs(t, err, chorus.ErrRunExists)
	require.False(t, errors.Is(err, chorus.ErrQueueDuplicate))
	_, err = chorus.SignalWithStart(ctx, eng, wf, 1, &chorus.StartOptions{ID: "sws", Queue: "plain"}, workflow.NewSignal[int]("s"), 1)
	require.ErrorContains(t, err, "SignalWithStart does not enqueue")
}

type queueObserver struct {
	mu  sync.Mutex
	evs []chorus.Event
}

func (o *queueObserver) Observe(ctx context.Context, ev chorus.Event) context.Context {
	if ev.Kind == chorus.EventRunEnqueued || ev.Kind == chorus.EventRunDequeued {
		o.mu.Lock()
		o.evs = append(o.evs, ev)
		o.mu.Unlock()
	}
	return ctx
}

func TestQueueSignalObserverAndStats(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	g := newGateRecorder()
	wf, act := queueDefs(g, "q-obs")
	obs := &queueObserver{}
	eng, _ := setup(t, &chorus.Options{Clock: mock, Observer: obs, Queues: []chorus.Queue{{Name: "o", Concurrency: 1}}}, wf, act)
	first, err := chorus.Start(ctx, eng, wf, "first", &chorus.StartOptions{Queue: "o"})
	require.NoError(t, err)
	recv(t, g.entered, "the first run")
	second, err := chorus.Start(ctx, eng, wf, "second", &chorus.StartOptions{Queue: "o"})
	require.NoError(t, err)

	// A waiting run has no history: calls that need one say so, and
	// leave it waiting.
	err = chorus.Signal(ctx, eng, second.ID(), workflow.NewSignal[int]("poke"), 1)
	require.ErrorIs(t, err, chorus.ErrRunQueued)
	info, err := second.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, chorus.StatusQueued, info.Status)
	list, err := eng.List(ctx, &chorus.ListOptions{Status: chorus.StatusQueued})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, second.ID(), list[0].ID)

	mock.Add(7 * time.Second)
	st, err := eng.Queues(ctx)
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.Equal(t, "o", st[0].Name)
	require.Equal(t, 1, st[0].Waiting)
	require.Equal(t, 1, st[0].Running)
	require.False(t, st[0].OldestWaiting.IsZero())

	g.release <- struct{}{}
	_, err = first.Result(ctx)
	require.NoError(t, err)
	recv(t, g.entered, "the second run")
	g.release <- struct{}{}
	_, err = second.Result(ctx)
	require.NoError(t, err)

	obs.mu.Lock()
	defer obs.mu.Unlock()
	var kinds []string
	var wait time.Duration
	for _, ev := range obs.evs {
		require.Equal(t, "o", ev.Name)
		kinds = append(kinds, ev.Kind.String()+" "+ev.RunID)
		if ev.Kind == chorus.EventRunDequeued && ev.RunID == second.ID() {
			wait = ev.Latency
		}
	}
	require.Equal(t, []string{
		"RunEnqueued " + first.ID(), "RunDequeued " + first.ID(), "RunEnqueued " + second.ID(), "RunDequeued " + second.ID(),
	}, kinds)
	require.Equal(t, 7*time.Second, wait, "the second run waited 7 s of the engine's clock")
}
