package chorusotel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/chorusotel"
	"github.com/chorusdev/chorus/workflow"
)

// The kill test re-executes this test binary as a child process (the
// environment variable names its database and span file), which runs the
// kill workflow with an exporter that writes each finished span, and then
// its metric points, to a file, one JSON line each, and is SIGKILLed while
// the workflow's third activity runs. The parent reopens the database with
// fresh in-memory exporters and finishes the run.
const envKillChild = "CHORUSOTEL_KILL_CHILD" // "db-path|telemetry-path"

// inChild is set in the child process, where k3 blocks until the kill.
var inChild = os.Getenv(envKillChild) != ""

var (
	childReady = make(chan struct{}) // closed by the child's k3 once it may be killed
	k1         = activity.New("k1", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	k2         = activity.New("k2", func(ctx context.Context, n int) (int, error) {
		if activity.GetInfo(ctx).Attempt == 1 {
			return 0, errors.New("flaky")
		}
		return n + 1, nil
	})
	k3 = activity.New("k3", func(ctx context.Context, n int) (int, error) {
		if inChild {
			close(childReady)
			<-ctx.Done() // until the kill
			return 0, ctx.Err()
		}
		return n + 1, nil
	})
	k4     = activity.New("k4", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	killWF = workflow.New("kill", func(ctx workflow.Context, n int) (int, error) {
		var err error
		for _, a := range []*activity.Definition[int, int]{k1, k2} {
			if n, err = workflow.ExecuteActivity(ctx, a, n).Get(ctx); err != nil {
				return 0, err
			}
		}
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return 0, err
		}
		for _, a := range []*activity.Definition[int, int]{k3, k4} {
			if n, err = workflow.ExecuteActivity(ctx, a, n).Get(ctx); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
)

func TestMain(m *testing.M) {
	if v := os.Getenv(envKillChild); v != "" {
		db, tel, _ := strings.Cut(v, "|")
		if err := killChild(db, tel); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// telLine is one line of the child's telemetry file: a span, or a metric
// point (a counter's value or a histogram's count).
type telLine struct {
	Span     string            `json:"span,omitempty"`
	Metric   string            `json:"metric,omitempty"`
	Trace    string            `json:"trace,omitempty"`
	Attrs    map[string]string `json:"attrs"`
	Value    int64             `json:"value,omitempty"`
	Activity string            `json:"-"`
}

// fileExporter writes each finished span to a file as it ends, and counts
// the activity spans.
type fileExporter struct {
	mu   sync.Mutex
	f    *os.File
	acts int
	done chan struct{} // closed once want activity spans were written
	want int
}

func (x *fileExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range spans {
		l := telLine{Span: s.Name(), Trace: s.SpanContext().TraceID().String(), Attrs: attrMap(s.Attributes())}
		if err := writeLine(x.f, l); err != nil {
			return err
		}
		if strings.HasPrefix(s.Name(), "activity ") {
			if x.acts++; x.acts == x.want {
				close(x.done)
			}
		}
	}
	return nil
}

func (x *fileExporter) Shutdown(context.Context) error { return nil }

func writeLine(f *os.File, l telLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n')) // unbuffered: in the kernel before the kill
	return err
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// metricLines flattens a collection to one line per data point.
func metricLines(rm metricdata.ResourceMetrics) []telLine {
	var out []telLine
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, telLine{Metric: m.Name, Attrs: attrMap(dp.Attributes.ToSlice()), Value: dp.Value})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, telLine{Metric: m.Name, Attrs: attrMap(dp.Attributes.ToSlice()), Value: int64(dp.Count)})
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, telLine{Metric: m.Name, Attrs: attrMap(dp.Attributes.ToSlice()), Value: int64(dp.Count)})
				}
			}
		}
	}
	return out
}

// killChild starts the kill run under a span of its own, waits until k3
// runs and the spans of k1's and k2's attempts are written, writes its
// metric points, says "ready" and waits for the kill.
func killChild(db, telPath string) error {
	ctx := context.Background()
	f, err := os.OpenFile(telPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	x := &fileExporter{f: f, done: make(chan struct{}), want: 3} // k1#1, k2#1, k2#2
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(x))
	reader := sdkmetric.NewManualReader()
	obs, err := chorusotel.NewObserver(chorusotel.WithTracerProvider(tp),
		chorusotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		return err
	}
	eng, err := openKillEngine(db, obs)
	if err != nil {
		return err
	}
	cctx, caller := tp.Tracer("test").Start(ctx, "caller")
	if _, err := chorus.Start(cctx, eng, killWF, 0, &chorus.StartOptions{ID: "kill-1"}); err != nil {
		return err
	}
	caller.End()
	<-childReady
	<-x.done
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	for _, l := range metricLines(rm) {
		if err := writeLine(f, l); err != nil {
			return err
		}
	}
	fmt.Println("ready")
	select {} // until the kill
}

func openKillEngine(db string, obs *chorusotel.Observer) (*chorus.Engine, error) {
	eng, err := chorus.Open(context.Background(), db, &chorus.Options{
		Observer:           obs,
		ContextPropagators: []chorus.ContextPropagator{chorusotel.Propagator()},
		DefaultActivityOptions: &activity.Options{RetryPolicy: &activity.RetryPolicy{
			InitialInterval: time.Millisecond, MaximumInterval: time.Millisecond}},
	})
	if err != nil {
		return nil, err
	}
	if err := eng.Register(killWF, k1, k2, k3, k4); err != nil {
		return nil, err
	}
	return eng, nil
}

// TestKillReplayNoDuplicates: the spans and metric points of a run that a
// SIGKILL interrupted, written by the killed process, and those of the
// process that replays and finishes it, add up to each transition once:
// one span per activity attempt, one workflow span, one timer span, all in
// the caller's trace, and counters that count each step once.
func TestKillReplayNoDuplicates(t *testing.T) {
	dir := t.TempDir()
	db, telPath := filepath.Join(dir, "kill.db"), filepath.Join(dir, "child.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envKillChild+"="+db+"|"+telPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "the child ended before it was ready: %s", stderr.String())
	case <-time.After(60 * time.Second): // a failure guard only
		_ = cmd.Process.Kill()
		t.Fatalf("the child was not ready in time: %s", stderr.String())
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	var child []telLine
	b, err := os.ReadFile(telPath)
	require.NoError(t, err)
	for l := range strings.Lines(string(b)) {
		var tl telLine
		require.NoError(t, json.Unmarshal([]byte(l), &tl), l)
		child = append(child, tl)
	}

	tel := newTelemetry(t)
	eng, err := openKillEngine(db, tel.obs)
	require.NoError(t, err)
	defer eng.Close(context.Background())
	run, err := chorus.Lookup(context.Background(), eng, killWF, "kill-1")
	require.NoError(t, err)
	got, err := run.Result(context.Background())
	require.NoError(t, err)
	require.Equal(t, 4, got)

	// The spans of both processes.
	all := []telLine{}
	for _, l := range child {
		if l.Span != "" {
			all = append(all, l)
		}
	}
	for _, s := range tel.spans.GetSpans() {
		var kvs []attribute.KeyValue
		kvs = append(kvs, s.Attributes...)
		all = append(all, telLine{Span: s.Name, Trace: s.SpanContext.TraceID().String(), Attrs: attrMap(kvs)})
	}
	var callerTrace string
	attempts := map[string]int{}
	names := map[string]int{}
	for _, l := range all {
		names[l.Span]++
		if l.Span == "caller" {
			callerTrace = l.Trace
		}
		if strings.HasPrefix(l.Span, "activity ") {
			attempts[l.Attrs["chorus.activity"]+"#"+l.Attrs["chorus.attempt"]]++
		}
	}
	require.Equal(t, map[string]int{"k1#1": 1, "k2#1": 1, "k2#2": 1, "k3#1": 1, "k4#1": 1}, attempts,
		"one span per activity attempt across the kill")
	require.Equal(t, map[string]int{"caller": 1, "workflow kill": 1, "timer": 1,
		"activity k1": 1, "activity k2": 2, "activity k3": 1, "activity k4": 1}, names)
	for _, l := range all {
		require.Equal(t, callerTrace, l.Trace, "span %q is in the caller's trace, also after the restart", l.Span)
	}

	// Counters of both processes add up to each step once.
	sum := map[string]int64{}
	add := func(l telLine) {
		key := l.Metric
		if a := l.Attrs["chorus.activity"]; a != "" {
			key += "/" + a
		}
		sum[key] += l.Value
	}
	for _, l := range child {
		if l.Metric != "" {
			add(l)
		}
	}
	for _, l := range metricLines(collectRM(t, tel.reader)) {
		add(l)
	}
	for key, want := range map[string]int64{
		"chorus.runs.started": 1, "chorus.runs.completed": 1,
		"chorus.activity.retries/k2":  1,
		"chorus.activity.duration/k1": 1, "chorus.activity.duration/k2": 2, "chorus.activity.duration/k3": 1, "chorus.activity.duration/k4": 1,
		"chorus.activity.schedule_to_start/k3": 1,
	} {
		require.Equal(t, want, sum[key], "%s\nall: %v", key, sum)
	}
	require.Positive(t, sum["chorus.run_cache.loads"], "the restarted engine rebuilt the run by replay")
}

func collectRM(t *testing.T, r *sdkmetric.ManualReader) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	return rm
}
