package chorusotel_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/chorusotel"
	"github.com/chorusdev/chorus/workflow"
)

// The workflow of the root package's BenchmarkThroughput, under other
// names.
var (
	benchStep = activity.New("otel-bench-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	benchWF   = workflow.New("otel-bench-three", func(ctx workflow.Context, n int) (int, error) {
		for range 3 {
			var err error
			if n, err = workflow.ExecuteActivity(ctx, benchStep, n).Get(ctx); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
)

// discard is a span exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkThroughputOTel is the root package's BenchmarkThroughput (2,000
// concurrent runs of a three-activity workflow per iteration, on a file
// database with synchronous=FULL) with the OpenTelemetry observer and
// propagator installed: an SDK tracer provider that samples every span and
// hands them to a batch processor with an exporter that drops them, and an
// SDK meter provider with a manual reader (instruments aggregate as usual).
// Each run is started under a caller's span, whose trace context the
// propagator journals with the run.
func BenchmarkThroughputOTel(b *testing.B) { benchThroughputOTel(b, true) }

// BenchmarkThroughputOTelObserverOnly is BenchmarkThroughputOTel without
// the propagator and the caller's span: the cost of the observer alone.
func BenchmarkThroughputOTelObserverOnly(b *testing.B) { benchThroughputOTel(b, false) }

func benchThroughputOTel(b *testing.B, propagate bool) {
	const concurrent = 2000
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	obs, err := chorusotel.NewObserver(chorusotel.WithTracerProvider(tp), chorusotel.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opts := &chorus.Options{Observer: obs}
	if propagate {
		opts.ContextPropagators = []chorus.ContextPropagator{chorusotel.Propagator()}
	}
	eng, err := chorus.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close(context.Background()) })
	if err := eng.Register(benchWF, benchStep); err != nil {
		b.Fatal(err)
	}
	tracer := tp.Tracer("bench")
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		var wg sync.WaitGroup
		for j := range concurrent {
			wg.Go(func() {
				sctx := ctx
				if propagate {
					var span trace.Span
					sctx, span = tracer.Start(ctx, "caller")
					defer span.End()
				}
				run, err := chorus.Start(sctx, eng, benchWF, j, &chorus.StartOptions{ID: fmt.Sprintf("%d-%d", i, j)})
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
