package chorus_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

var (
	benchStep = activity.New("bench-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	benchWF   = workflow.New("bench-three", func(ctx workflow.Context, n int) (int, error) {
		for range 3 {
			var err error
			if n, err = workflow.ExecuteActivity(ctx, benchStep, n).Get(ctx); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
)

func benchEngine(b *testing.B) *chorus.Engine {
	b.Helper()
	eng, err := chorus.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close(context.Background()) })
	if err := eng.Register(benchWF, benchStep); err != nil {
		b.Fatal(err)
	}
	return eng
}

// BenchmarkThroughput runs 2,000 concurrent runs of a three-activity
// workflow per iteration, on a file database with synchronous=FULL, and
// reports completed workflows per second.
func BenchmarkThroughput(b *testing.B) {
	const concurrent = 2000
	eng := benchEngine(b)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		var wg sync.WaitGroup
		for j := range concurrent {
			wg.Go(func() {
				run, err := chorus.Start(ctx, eng, benchWF, j, &chorus.StartOptions{ID: fmt.Sprintf("%d-%d", i, j)})
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

// BenchmarkLatency starts one run of the three-activity workflow at a time
// and reports the median and 99th percentile from Start to Result.
func BenchmarkLatency(b *testing.B) {
	eng := benchEngine(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		run, err := chorus.Start(ctx, eng, benchWF, i, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := run.Result(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
