package chorus_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/workflow"
)

// The start benchmark's workflow parks on a signal at once, so that Start's
// cost is the start itself.
var (
	benchStartWake = workflow.NewSignal[int]("bench-start-wake")
	benchStartWF   = workflow.New("bench-start-parked", func(ctx workflow.Context, n int) (int, error) {
		v, _ := workflow.GetSignalChannel(ctx, benchStartWake).Receive(ctx)
		return n + v, nil
	})
)

// BenchmarkStartConcurrent starts runs of a workflow that parks at once
// from 1, 16 and 64 goroutines, on a file database at synchronous=FULL and
// NORMAL, and reports the p50 and p99 latency of Start and the starts per
// second. bench/'s W8 measures the same on the bench machine.
func BenchmarkStartConcurrent(b *testing.B) {
	for _, mode := range []sqlite.Synchronous{sqlite.SynchronousFull, sqlite.SynchronousNormal} {
		for _, conc := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("sync=%s/starters=%d", mode, conc), func(b *testing.B) {
				eng, err := chorus.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), &chorus.Options{Synchronous: mode})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = eng.Close(context.Background()) })
				if err := eng.Register(benchStartWF); err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				lat := make([]time.Duration, b.N)
				var next atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuTime(b)
				start := time.Now()
				var wg sync.WaitGroup
				for range conc {
					wg.Go(func() {
						for {
							i := next.Add(1) - 1
							if i >= int64(b.N) {
								return
							}
							t0 := time.Now()
							if _, err := chorus.Start(ctx, eng, benchStartWF, 1, &chorus.StartOptions{ID: fmt.Sprintf("s-%d", i)}); err != nil {
								b.Error(err)
								return
							}
							lat[i] = time.Since(t0)
						}
					})
				}
				wg.Wait()
				el, cpu1 := time.Since(start), cpuTime(b)
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				b.ReportMetric(float64(b.N)/el.Seconds(), "starts/s")
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-us/start")
			})
		}
	}
}
