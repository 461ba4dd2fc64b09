package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/postgres/pgtest"
	"github.com/chorusdev/chorus/workflow"
)

var (
	addOne    = activity.New("pg-add-one", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	doubleWF  = workflow.New("pg-double", func(ctx workflow.Context, n int) (int, error) { return 2 * n, nil })
	approvals = workflow.NewSignal[int]("pg-approve")
	region    = chorus.NewKeyword("region")

	// orderWF uses the primitives that write to every table of the
	// store: activities (tasks), a timer, a child run, a signal, search
	// attributes and memo.
	orderWF = workflow.New("pg-order", func(ctx workflow.Context, n int) (int, error) {
		if err := workflow.UpsertSearchAttributes(ctx, region.Value("eu")); err != nil {
			return 0, err
		}
		if err := workflow.UpsertMemo(ctx, "note", "hello"); err != nil {
			return 0, err
		}
		n, err := workflow.ExecuteActivity(ctx, addOne, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		if err := workflow.Sleep(ctx, 10*time.Millisecond); err != nil {
			return 0, err
		}
		n, err = workflow.ExecuteChildWorkflow(ctx, doubleWF, n, nil).Get(ctx)
		if err != nil {
			return 0, err
		}
		bonus, _ := workflow.GetSignalChannel(ctx, approvals).Receive(ctx)
		return workflow.ExecuteActivity(ctx, addOne, n+bonus).Get(ctx)
	})
)

// openEngine opens an engine on a PostgreSQL store at u; it closes with
// the test.
func openEngine(t testing.TB, u string, opts *chorus.Options, defs ...chorus.Definition) *chorus.Engine {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: 5 * time.Second})
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, st, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Close(cctx)
	})
	require.NoError(t, eng.Register(defs...))
	return eng
}

func TestEngineOnPostgres(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)
	eng := openEngine(t, u, nil, orderWF, doubleWF, addOne)

	const n = 20
	runs := make([]*chorus.Run[int], n)
	for i := range n {
		r, err := chorus.Start(ctx, eng, orderWF, i, &chorus.StartOptions{ID: fmt.Sprintf("order-%02d", i)})
		require.NoError(t, err)
		runs[i] = r
	}
	for i := range n {
		require.NoError(t, chorus.Signal(ctx, eng, runs[i].ID(), approvals, 100))
	}
	for i, r := range runs {
		got, err := r.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, 2*(i+1)+100+1, got, "run %s", r.ID())
	}
	// Starting an ID again is refused by default, and allowed with reuse.
	_, err := chorus.Start(ctx, eng, orderWF, 0, &chorus.StartOptions{ID: "order-00"})
	require.ErrorIs(t, err, chorus.ErrRunExists)
	r, err := chorus.Start(ctx, eng, doubleWF, 21, &chorus.StartOptions{ID: "order-00", IDReusePolicy: chorus.IDReuseAllowDuplicate})
	require.NoError(t, err)
	got, err := r.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 42, got)

	list, err := eng.List(ctx, &chorus.ListOptions{Attrs: []chorus.AttrFilter{region.Is("eu")}})
	require.NoError(t, err)
	require.Len(t, list, n-1, "the reused ID's new run has no attributes")
}

// TestEngineRecoversAfterReopen closes an engine while activities are
// running; the next engine on the database (the lease was released)
// finishes every run.
func TestEngineRecoversAfterReopen(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)
	block := make(chan struct{})
	var started sync.WaitGroup
	stuck := activity.New("pg-stuck", func(ctx context.Context, n int) (int, error) {
		started.Done()
		select {
		case <-block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return n, nil
	})
	wf := workflow.New("pg-stuck-wf", func(ctx workflow.Context, n int) (int, error) {
		n, err := workflow.ExecuteActivity(ctx, addOne, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		return workflow.ExecuteActivity(ctx, stuck, n).Get(ctx)
	})

	st, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: 5 * time.Second})
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, st, nil)
	require.NoError(t, err)
	require.NoError(t, eng.Register(wf, addOne, stuck))
	const n = 5
	started.Add(n)
	for i := range n {
		_, err := chorus.Start(ctx, eng, wf, i, &chorus.StartOptions{ID: fmt.Sprintf("stuck-%d", i)})
		require.NoError(t, err)
	}
	started.Wait()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_ = eng.Close(cctx) // interrupts the stuck attempts
	cancel()

	close(block)
	started.Add(n)
	eng2 := openEngine(t, u, nil, wf, addOne, stuck)
	for i := range n {
		r, err := chorus.Lookup(ctx, eng2, wf, fmt.Sprintf("stuck-%d", i))
		require.NoError(t, err)
		got, err := r.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, i+1, got)
	}
}

// BenchmarkThroughput is the root package's BenchmarkThroughput on
// PostgreSQL: 2,000 concurrent runs of a three-activity workflow per
// iteration, reporting completed workflows per second.
func BenchmarkThroughput(b *testing.B) {
	const concurrent = 2000
	step := activity.New("bench-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	wf := workflow.New("bench-three", func(ctx workflow.Context, n int) (int, error) {
		for range 3 {
			var err error
			if n, err = workflow.ExecuteActivity(ctx, step, n).Get(ctx); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
	eng := openEngine(b, pgtest.URL(b), nil, wf, step)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		var wg sync.WaitGroup
		for j := range concurrent {
			wg.Go(func() {
				run, err := chorus.Start(ctx, eng, wf, j, &chorus.StartOptions{ID: fmt.Sprintf("%d-%d", i, j)})
				if err != nil {
					b.Error(err)
					return
				}
				if got, err := run.Result(ctx); err != nil || got != j+3 {
					b.Errorf("run %d: %d, %v", j, got, err)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(concurrent*b.N)/time.Since(start).Seconds(), "workflows/s")
}
