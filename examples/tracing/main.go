// Command tracing runs a Chorus workflow with OpenTelemetry tracing and
// metrics, exported to standard output: no collector needed.
//
//	go run ./examples/tracing          # a span tree and the metrics, readable
//	go run ./examples/tracing -json    # the stdout exporters' JSON instead
//
// The workflow (package checkout, beside this file) reserves stock, charges a card (the first attempt fails and
// is retried), waits a moment on a durable timer, then ships. The caller's
// span ("checkout") reaches every span of the run through the journal, so
// it would also after a crash and a restart; the charge activity's own
// outgoing calls would be children of its attempt span (here it starts one,
// "card-gateway", to show it).
//
// An application sends the same data to its collector by swapping the
// exporters (OTLP, for instance) and leaving the rest as it is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/chorusotel"
	"github.com/chorusdev/chorus/examples/tracing/checkout"
)

func main() {
	asJSON := flag.Bool("json", false, "print the stdout exporters' JSON instead of a summary")
	flag.Parse()
	if err := run(os.Stdout, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "tracing:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, asJSON bool) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "chorus-tracing")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The SDK and the exporters: the application's choice, not Chorus's.
	mem := tracetest.NewInMemoryExporter()
	var spanExp sdktrace.SpanExporter = mem
	reader := sdkmetric.NewManualReader()
	if asJSON {
		if spanExp, err = stdouttrace.New(stdouttrace.WithWriter(out)); err != nil {
			return err
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spanExp))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	obs, err := chorusotel.NewObserver(chorusotel.WithTracerProvider(tp), chorusotel.WithMeterProvider(mp))
	if err != nil {
		return err
	}
	eng, err := chorus.Open(ctx, filepath.Join(dir, "tracing.db"), &chorus.Options{
		Observer:           obs,
		ContextPropagators: []chorus.ContextPropagator{chorusotel.Propagator()},
		DefaultActivityOptions: &activity.Options{RetryPolicy: &activity.RetryPolicy{
			InitialInterval: 20 * time.Millisecond}},
	})
	if err != nil {
		return err
	}
	if err := eng.Register(checkout.Checkout, checkout.Reserve, checkout.Charge, checkout.Ship); err != nil {
		return errors.Join(err, eng.Close(ctx))
	}

	cctx, span := tp.Tracer("example").Start(ctx, "checkout")
	run, err := chorus.Start(cctx, eng, checkout.Checkout, 4250, &chorus.StartOptions{ID: "checkout-1"})
	span.End()
	if err != nil {
		return errors.Join(err, eng.Close(ctx))
	}
	tracking, err := run.Result(ctx)
	if err := errors.Join(err, eng.Close(ctx)); err != nil {
		return err
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	if asJSON {
		me, err := stdoutmetric.New(stdoutmetric.WithWriter(out))
		if err != nil {
			return err
		}
		return errors.Join(me.Export(ctx, &rm), tp.Shutdown(ctx))
	}
	fmt.Fprintln(out, "result:", tracking)
	fmt.Fprintln(out, "\nspans (trace", mem.GetSpans()[0].SpanContext.TraceID().String()+"):")
	printTree(out, mem.GetSpans())
	fmt.Fprintln(out, "\nmetrics:")
	printMetrics(out, rm)
	return tp.Shutdown(ctx)
}

// printTree prints the spans indented under their parents, in start order.
func printTree(out io.Writer, spans tracetest.SpanStubs) {
	slices.SortStableFunc(spans, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	var walk func(parent trace.SpanID, depth int)
	walk = func(parent trace.SpanID, depth int) {
		for _, s := range spans {
			if s.Parent.SpanID() != parent {
				continue
			}
			var attrs []string
			for _, kv := range s.Attributes {
				if kv.Key == chorusotel.AttrRunID || kv.Key == chorusotel.AttrWorkflow {
					continue // the same on every span of the run
				}
				attrs = append(attrs, string(kv.Key)+"="+kv.Value.String())
			}
			status := ""
			if s.Status.Description != "" {
				status = "  error: " + s.Status.Description
			}
			fmt.Fprintf(out, "%s%-*s %9s  %s%s\n", strings.Repeat("  ", depth), 28-2*depth, s.Name,
				s.EndTime.Sub(s.StartTime).Round(10*time.Microsecond), strings.Join(attrs, " "), status)
			walk(s.SpanContext.SpanID(), depth+1)
		}
	}
	walk(trace.SpanID{}, 0)
}

// printMetrics prints each counter's total and each histogram's count.
func printMetrics(out io.Writer, rm metricdata.ResourceMetrics) {
	enc := attribute.DefaultEncoder()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					fmt.Fprintf(out, "  %-34s %-48s = %d\n", m.Name, dp.Attributes.Encoded(enc), dp.Value)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					fmt.Fprintf(out, "  %-34s %-48s count %d, sum %.4fs\n", m.Name, dp.Attributes.Encoded(enc), dp.Count, dp.Sum)
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					fmt.Fprintf(out, "  %-34s %-48s count %d, sum %d\n", m.Name, dp.Attributes.Encoded(enc), dp.Count, dp.Sum)
				}
			}
		}
	}
}
