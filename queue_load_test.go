package chorus_test

// Queue limits under load: hundreds of runs enqueued at once from many
// goroutines into queues that cap them in each of the ways a queue can
// (Concurrency, WorkerConcurrency, both, PartitionConcurrency, and an
// activity queue), checked from inside the activities as they run. Run
// with -race.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

// meter counts the activities of one queue (or one partition) running at
// once.
type meter struct {
	limit int
	mu    sync.Mutex
	in    int
	max   int
	over  []int // counts seen above the limit
	full  chan struct{}
}

func newMeter(limit int) *meter { return &meter{limit: limit, full: make(chan struct{})} }

func (m *meter) enter() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.in++
	m.max = max(m.max, m.in)
	if m.in > m.limit {
		m.over = append(m.over, m.in)
	}
	ch := m.full
	if m.in >= m.limit {
		close(m.full)
		m.full = make(chan struct{})
	}
	return ch
}

func (m *meter) leave() {
	m.mu.Lock()
	m.in--
	m.mu.Unlock()
}

func (m *meter) report() (maxSeen int, over []int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.max, append([]int(nil), m.over...)
}

// loadJob is the input of a run of the load test.
type loadJob struct {
	Queue     string `json:"queue"`
	Partition string `json:"partition,omitempty"`
}

func TestQueueLimitsNeverExceededUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of runs: skipped with -short")
	}
	// Not parallel: the load is the test's own, and it would slow the
	// timing-sensitive tests of the package that run in parallel.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const (
		perQueue = 60
		linger   = 20 * time.Millisecond
	)
	queues := []chorus.Queue{
		{Name: "global", Concurrency: 4},
		{Name: "worker", WorkerConcurrency: 3},
		{Name: "both", Concurrency: 5, WorkerConcurrency: 2},
		{Name: "part", Concurrency: 3, PartitionConcurrency: 1},
		{Name: "acts", Concurrency: 3}, // bounds the attempts of actAct
	}
	limits := map[string]int{"global": 4, "worker": 3, "both": 2, "part": 3, "acts": 3}
	meters := map[string]*meter{}
	for q, n := range limits {
		meters[q] = newMeter(n)
	}
	partitions := []string{"ann", "bob", "cy", "dee", "eve"}
	for _, p := range partitions {
		meters["part/"+p] = newMeter(1)
	}
	hold := func(ctx context.Context, j loadJob) (string, error) {
		ms := []*meter{meters[j.Queue]}
		if j.Partition != "" {
			ms = append(ms, meters["part/"+j.Partition])
		}
		full := ms[0].enter()
		for _, m := range ms[1:] {
			m.enter()
		}
		defer func() {
			for _, m := range ms {
				m.leave()
			}
		}()
		// Hold until the limit is reached, then a while longer, during
		// which a run let through past the limit would be counted.
		select {
		case <-full:
			select {
			case <-time.After(linger):
			case <-ctx.Done():
				return "", ctx.Err()
			}
		case <-time.After(time.Second): // too few runs left to reach the limit
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return j.Queue, nil
	}
	runAct := activity.New("load-hold", hold)
	actAct := activity.New("load-hold-queued", hold).WithOptions(activity.Options{Queue: "acts"})
	wf := workflow.New("load-wf", func(ctx workflow.Context, j loadJob) (string, error) {
		act := runAct
		if j.Queue == "acts" {
			act = actAct
		}
		return workflow.ExecuteActivity(ctx, act, j).Get(ctx)
	})
	eng, _ := setup(t, &chorus.Options{Queues: queues}, wf, runAct, actAct)

	var jobs []loadJob
	for _, q := range queues {
		for i := range perQueue {
			j := loadJob{Queue: q.Name}
			if q.Name == "part" {
				j.Partition = partitions[i%len(partitions)]
			}
			jobs = append(jobs, j)
		}
	}
	runs := make([]*chorus.Run[string], len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &chorus.StartOptions{Queue: j.Queue, PartitionKey: j.Partition}
			if j.Queue == "acts" {
				o = nil // a plain run; its activity is what the queue bounds
			}
			runs[i], errs[i] = chorus.Start(ctx, eng, wf, j, o)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "start %d (%+v)", i, jobs[i])
	}
	for i, r := range runs {
		out, err := r.Result(ctx)
		require.NoError(t, err, "run %d (%+v)", i, jobs[i])
		require.Equal(t, jobs[i].Queue, out)
	}
	for name, m := range meters {
		maxSeen, over := m.report()
		t.Logf("%s: at most %d at once (limit %d)", name, maxSeen, m.limit)
		require.Empty(t, over, "%s: more than %d at once", name, m.limit)
		require.Equal(t, m.limit, maxSeen, "%s: the limit was reached", name)
	}
	st, err := eng.Queues(ctx)
	require.NoError(t, err)
	for _, s := range st {
		require.Zero(t, s.Waiting, s.Name)
		require.Zero(t, s.Running, s.Name)
	}
}

// TestQueueDedupUnderConcurrentEnqueues enqueues the same deduplication ID
// from many goroutines at once: exactly one enqueue wins, the others name
// its run.
func TestQueueDedupUnderConcurrentEnqueues(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	release := make(chan struct{})
	hold := activity.New("dedup-load-hold", func(ctx context.Context, n int) (int, error) {
		select {
		case <-release:
			return n, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	wf := workflow.New("dedup-load", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, hold, n).Get(ctx)
	})
	eng, _ := setup(t, &chorus.Options{Queues: []chorus.Queue{{Name: "d", Concurrency: 2}}}, wf, hold)
	const n = 50
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := chorus.Start(ctx, eng, wf, i, &chorus.StartOptions{Queue: "d", DedupID: "invoice-9"})
			errs[i] = err
			if err == nil {
				ids[i] = r.ID()
			}
		}()
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		if err == nil {
			require.Empty(t, winner, "a second enqueue won: %s and %s", winner, ids[i])
			winner = ids[i]
		}
	}
	require.NotEmpty(t, winner)
	for _, err := range errs {
		if err == nil {
			continue
		}
		var de *history.QueueDedupError
		require.True(t, errors.As(err, &de), "%v", err)
		require.ErrorIs(t, err, chorus.ErrQueueDuplicate)
		require.Equal(t, winner, de.RunID)
	}
	st, err := eng.Queues(ctx)
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.Equal(t, 1, st[0].Waiting+st[0].Running, "one run in the queue: %+v", st[0])
	close(release)
	require.NoError(t, testutil.AwaitStatus(ctx, eng, winner, chorus.StatusCompleted))
}
