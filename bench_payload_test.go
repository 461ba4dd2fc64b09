package chorus_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/workflow"
)

// The payload benchmark's workflow: three activities and a signal, each
// carrying the run's payload, as ordinary business steps do.
var (
	benchPayloadStep = activity.New("bench-payload-step", func(ctx context.Context, in []byte) ([]byte, error) {
		out := bytes.Clone(in)
		out[0]++
		return out, nil
	})
	benchPayloadSignal = workflow.NewSignal[[]byte]("bench-data")
	benchPayloadWF     = workflow.New("bench-payload", func(ctx workflow.Context, in []byte) ([]byte, error) {
		for range 3 {
			var err error
			if in, err = workflow.ExecuteActivity(ctx, benchPayloadStep, in).Get(ctx); err != nil {
				return nil, err
			}
		}
		sig, _ := workflow.GetSignalChannel(ctx, benchPayloadSignal).Receive(ctx)
		return append(in, sig[0]), nil
	})
)

// BenchmarkPayloadSteps runs 1,000 concurrent runs of the payload workflow
// per iteration with 8-byte and with 1 KiB payloads (input, three activity
// results, a signal), on a file database with synchronous=FULL and NORMAL. It reports
// workflows/s and, per journaled step (start, three activities, signal,
// end), the process's CPU time (user and system, cpu-ns/step: steadier than
// the rate on a shared machine) and, with -benchmem, the bytes and
// allocations of the whole process per run: the budgets to watch in review.
func BenchmarkPayloadSteps(b *testing.B) {
	for _, mode := range []sqlite.Synchronous{sqlite.SynchronousFull, sqlite.SynchronousNormal} {
		for _, size := range []int{8, 1024} {
			b.Run(fmt.Sprintf("sync=%s/bytes=%d", mode, size), func(b *testing.B) { benchPayloadSteps(b, mode, size) })
		}
	}
}

func benchPayloadSteps(b *testing.B, mode sqlite.Synchronous, size int) {
	{
		{
			const concurrent = 1000
			const stepsPerRun = 6
			eng, err := chorus.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), &chorus.Options{Synchronous: mode})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = eng.Close(context.Background()) })
			if err := eng.Register(benchPayloadWF, benchPayloadStep); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			in := bytes.Repeat([]byte("p"), size)
			b.ReportAllocs()
			b.ResetTimer()
			w0 := procIO("wchar")
			cpu0 := cpuTime(b)
			start := time.Now()
			for i := range b.N {
				var wg sync.WaitGroup
				for j := range concurrent {
					wg.Go(func() {
						id := fmt.Sprintf("%d-%d", i, j)
						run, err := chorus.Start(ctx, eng, benchPayloadWF, in, &chorus.StartOptions{ID: id})
						if err != nil {
							b.Error(err)
							return
						}
						if err := chorus.Signal(ctx, eng, id, benchPayloadSignal, in); err != nil {
							b.Error(err)
							return
						}
						got, err := run.Result(ctx)
						if err != nil || len(got) != size+1 || got[0] != 'p'+3 {
							b.Errorf("run %s: %d bytes, %v", id, len(got), err)
						}
					})
				}
				wg.Wait()
			}
			el, cpu1 := time.Since(start), cpuTime(b)
			if w0 >= 0 {
				b.ReportMetric(float64(procIO("wchar")-w0)/float64(concurrent*b.N), "written-B/run")
			}
			b.ReportMetric(float64(concurrent*b.N)/el.Seconds(), "workflows/s")
			b.ReportMetric(float64(el.Nanoseconds())/float64(concurrent*b.N*stepsPerRun), "ns/step")
			b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(concurrent*b.N*stepsPerRun), "cpu-ns/step")
		}
	}
}

// procIO returns a counter of /proc/self/io (Linux), or -1.
func procIO(name string) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
