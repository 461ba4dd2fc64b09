//go:build unix

package chorus_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/codec"
)

// BenchmarkThroughputPayloadCodec is W1 (BenchmarkThroughput: 2,000
// concurrent runs of a three-activity workflow, synchronous=FULL) without a
// PayloadCodec, with AES-256-GCM, and with zstd then AES-256-GCM. Compare
// the workflows/s of the sub-benchmarks as a ratio, from one invocation;
// cpu-us/workflow (the process's user and system CPU time per run) is the
// steadier figure on a shared machine, where wall time swings with the
// load of others:
//
//	go test -run '^$' -bench ThroughputPayloadCodec -benchtime 3x -count 3 .
func BenchmarkThroughputPayloadCodec(b *testing.B) {
	keys, err := codec.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, codec.KeySize)})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		pc   codec.Codec
	}{
		{"codec=none", nil},
		{"codec=aesgcm", codec.AESGCM(keys)},
		{"codec=zstd+aesgcm", codec.Chain(codec.Zstd(), codec.AESGCM(keys))},
	} {
		b.Run(c.name, func(b *testing.B) {
			opts := &chorus.Options{}
			if c.pc != nil {
				opts.PayloadCodec = c.pc
			}
			eng, err := chorus.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = eng.Close(context.Background()) })
			if err := eng.Register(benchWF, benchStep); err != nil {
				b.Fatal(err)
			}
			const concurrent = 2000
			ctx := context.Background()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime(b)
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
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(concurrent*b.N), "cpu-us/workflow")
		})
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
