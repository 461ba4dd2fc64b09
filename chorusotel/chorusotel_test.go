package chorusotel_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/chorusotel"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// The known workflow: three activities (charge fails once and is
// retried), a timer, a signal, a child, and a saga that compensates
// reserve when ship fails for good.
var (
	attemptSpans sync.Map // "activity/attempt" -> the span ID an attempt's ctx carried

	noteSpan = func(ctx context.Context) {
		info := activity.GetInfo(ctx)
		attemptSpans.Store(fmt.Sprintf("%s/%d", info.Activity, info.Attempt), trace.SpanContextFromContext(ctx).SpanID())
	}
	reserve = activity.New("reserve", func(ctx context.Context, n int) (int, error) { noteSpan(ctx); return n, nil })
	charge  = activity.New("charge", func(ctx context.Context, n int) (int, error) {
		noteSpan(ctx)
		if activity.GetInfo(ctx).Attempt == 1 {
			return 0, errors.New("card declined")
		}
		return n, nil
	})
	ship = activity.New("ship", func(ctx context.Context, n int) (int, error) {
		noteSpan(ctx)
		return 0, activity.NonRetryable(errors.New("no courier"))
	})
	release = activity.New("release", func(ctx context.Context, n int) (int, error) { noteSpan(ctx); return n, nil })
	notify  = workflow.New("notify", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	goSig   = workflow.NewSignal[int]("go")
	order   = workflow.New("order", func(ctx workflow.Context, n int) (_ int, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)
		if n, err = workflow.ExecuteActivity(ctx, reserve, n).Get(ctx); err != nil {
			return 0, err
		}
		if err := saga.Add(s, release, n); err != nil {
			return 0, err
		}
		if n, err = workflow.ExecuteActivity(ctx, charge, n).Get(ctx); err != nil {
			return 0, err
		}
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return 0, err
		}
		v, _ := workflow.GetSignalChannel(ctx, goSig).Receive(ctx)
		if n, err = workflow.ExecuteChildWorkflow(ctx, notify, n+v, &workflow.ChildOptions{ID: "order-1-notify"}).Get(ctx); err != nil {
			return 0, err
		}
		return workflow.ExecuteActivity(ctx, ship, n).Get(ctx)
	})
)

type telemetry struct {
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	obs    *chorusotel.Observer
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(tel.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	obs, err := chorusotel.NewObserver(chorusotel.WithTracerProvider(tel.tp), chorusotel.WithMeterProvider(mp))
	require.NoError(t, err)
	tel.obs = obs
	return tel
}

func openEngine(t *testing.T, path string, tel *telemetry) *chorus.Engine {
	t.Helper()
	eng, err := chorus.Open(context.Background(), path, &chorus.Options{
		Observer:           tel.obs,
		ContextPropagators: []chorus.ContextPropagator{chorusotel.Propagator()},
		DefaultActivityOptions: &activity.Options{RetryPolicy: &activity.RetryPolicy{
			InitialInterval: time.Millisecond, MaximumInterval: time.Millisecond}},
	})
	require.NoError(t, err)
	require.NoError(t, eng.Register(order, notify, reserve, charge, ship, release))
	return eng
}

// TestObserverKnownWorkflow runs the known workflow under a caller's span
// and checks every span (name, parent, attributes, status) and metric the
// observer emits.
func TestObserverKnownWorkflow(t *testing.T) {
	ctx := context.Background()
	tel := newTelemetry(t)
	eng := openEngine(t, filepath.Join(t.TempDir(), "otel.db"), tel)
	defer eng.Close(ctx)

	cctx, caller := tel.tp.Tracer("test").Start(ctx, "caller")
	run, err := chorus.Start(cctx, eng, order, 1, &chorus.StartOptions{ID: "order-1"})
	require.NoError(t, err)
	caller.End()
	require.NoError(t, chorus.Signal(ctx, eng, "order-1", goSig, 10))
	_, err = run.Result(ctx)
	require.Error(t, err)

	byName := map[string][]tracetest.SpanStub{}
	for _, s := range tel.spans.GetSpans() {
		byName[s.Name] = append(byName[s.Name], s)
	}
	var names []string
	for n, ss := range byName {
		for range ss {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	require.Equal(t, []string{
		"activity charge", "activity charge", "activity release", "activity reserve", "activity ship",
		"caller", "child notify", "compensation release", "signal go", "timer", "workflow notify", "workflow order",
	}, names)

	callerSC := byName["caller"][0].SpanContext
	for _, s := range tel.spans.GetSpans() {
		if s.Name == "caller" {
			continue
		}
		require.Equal(t, callerSC.TraceID(), s.SpanContext.TraceID(), "span %q is in the caller's trace", s.Name)
		require.Equal(t, callerSC.SpanID(), s.Parent.SpanID(), "span %q is a child of the caller's span", s.Name)
		require.True(t, s.Parent.IsRemote(), "span %q: its parent came through the journal", s.Name)
	}

	attrs := func(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
		m := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes {
			m[kv.Key] = kv.Value
		}
		return m
	}
	wf := byName["workflow order"][0]
	a := attrs(wf)
	require.Equal(t, "order-1", a[chorusotel.AttrRunID].AsString())
	require.Equal(t, "order", a[chorusotel.AttrWorkflow].AsString())
	require.Equal(t, "failed", a[chorusotel.AttrStatus].AsString())
	require.Equal(t, codes.Error, wf.Status.Code)
	require.Contains(t, wf.Status.Description, "no courier")
	h, err := chorus.History(ctx, eng, "order-1")
	require.NoError(t, err)
	require.True(t, wf.StartTime.Equal(h.Events[0].Time), "the workflow span starts when the journal says the run started: %v, %v", wf.StartTime, h.Events[0].Time)
	require.True(t, wf.EndTime.Equal(h.Events[len(h.Events)-1].Time), "the workflow span ends when the run ended: %v, %v", wf.EndTime, h.Events[len(h.Events)-1].Time)

	child := attrs(byName["workflow notify"][0])
	require.Equal(t, "order-1-notify", child[chorusotel.AttrRunID].AsString())
	require.Equal(t, "completed", child[chorusotel.AttrStatus].AsString())
	require.Equal(t, codes.Unset, byName["workflow notify"][0].Status.Code)

	// Attempts: charge's first fails and is retried.
	charges := byName["activity charge"]
	slices.SortFunc(charges, func(x, y tracetest.SpanStub) int {
		return int(attrs(x)[chorusotel.AttrAttempt].AsInt64() - attrs(y)[chorusotel.AttrAttempt].AsInt64())
	})
	c1, c2 := attrs(charges[0]), attrs(charges[1])
	require.Equal(t, int64(1), c1[chorusotel.AttrAttempt].AsInt64())
	require.True(t, c1[chorusotel.AttrRetry].AsBool())
	require.Equal(t, codes.Error, charges[0].Status.Code)
	require.Equal(t, "card declined", charges[0].Status.Description)
	require.Len(t, charges[0].Events, 1, "the error is recorded as an exception event")
	require.Equal(t, int64(2), c2[chorusotel.AttrAttempt].AsInt64())
	require.Equal(t, codes.Unset, charges[1].Status.Code)
	require.Equal(t, c1[chorusotel.AttrStep], c2[chorusotel.AttrStep])
	sh := byName["activity ship"][0]
	require.Equal(t, codes.Error, sh.Status.Code)
	require.False(t, attrs(sh)[chorusotel.AttrRetry].AsBool())
	for _, name := range []string{"reserve", "charge", "ship", "release"} {
		for _, s := range byName["activity "+name] {
			sa := attrs(s)
			require.Equal(t, "order-1", sa[chorusotel.AttrRunID].AsString())
			require.Equal(t, name, sa[chorusotel.AttrActivity].AsString())
			key := fmt.Sprintf("%s/%d", name, sa[chorusotel.AttrAttempt].AsInt64())
			got, ok := attemptSpans.Load(key)
			require.True(t, ok, key)
			require.Equal(t, s.SpanContext.SpanID(), got, "the ctx of attempt %s carries its span", key)
		}
	}

	sig := attrs(byName["signal go"][0])
	require.Equal(t, "go", sig[chorusotel.AttrSignal].AsString())
	ch := byName["child notify"][0]
	require.Equal(t, "order-1-notify", attrs(ch)[chorusotel.AttrChildRunID].AsString())
	require.Equal(t, "completed", attrs(ch)[chorusotel.AttrStatus].AsString())
	tm := byName["timer"][0]
	require.GreaterOrEqual(t, tm.EndTime.Sub(tm.StartTime), time.Millisecond, "the timer span lasts from its scheduling to its firing")
	comp := byName["compensation release"][0]
	ca := attrs(comp)
	require.Equal(t, int64(0), ca[chorusotel.AttrCompensation].AsInt64())
	require.Equal(t, saga.KindActivity, ca[chorusotel.AttrCompensationKind].AsString())
	require.False(t, ca[chorusotel.AttrSkipped].AsBool())
	require.Equal(t, codes.Unset, comp.Status.Code)
	rel := byName["activity release"][0]
	require.False(t, comp.StartTime.After(rel.StartTime), "the compensation span covers its activity")
	require.False(t, comp.EndTime.Before(rel.EndTime), "the compensation span covers its activity")

	m := collect(t, tel.reader)
	require.Equal(t, map[string]int64{"order": 1, "notify": 1}, m.sums("chorus.runs.started", chorusotel.AttrWorkflow))
	require.Equal(t, map[string]int64{"notify": 1}, m.sums("chorus.runs.completed", chorusotel.AttrWorkflow))
	require.Equal(t, map[string]int64{"order": 1}, m.sums("chorus.runs.failed", chorusotel.AttrWorkflow))
	require.Equal(t, map[string]int64{"failed": 1}, m.sums("chorus.runs.failed", chorusotel.AttrStatus))
	require.Equal(t, map[string]int64{"charge": 1}, m.sums("chorus.activity.retries", chorusotel.AttrActivity))
	require.Equal(t, map[string]int64{"reserve": 1, "charge": 2, "ship": 1, "release": 1}, m.counts("chorus.activity.duration", chorusotel.AttrActivity))
	require.Equal(t, map[string]int64{"completed": 3, "retried": 1, "failed": 1}, m.counts("chorus.activity.duration", chorusotel.AttrOutcome))
	require.Equal(t, map[string]int64{"reserve": 1, "charge": 2, "ship": 1, "release": 1}, m.counts("chorus.activity.schedule_to_start", chorusotel.AttrActivity))
	require.Positive(t, m.counts("chorus.commit.duration", "")[""])
	require.Equal(t, m.counts("chorus.commit.duration", "")[""], m.counts("chorus.commit.batch_size", "")[""])
	require.Zero(t, m.sums("chorus.runs.blocked", "")[""])
}

// metrics is one collection of a ManualReader.
type metrics map[string]metricdata.Aggregation

func collect(t *testing.T, r *sdkmetric.ManualReader) metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	m := metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, x := range sm.Metrics {
			m[x.Name] = x.Data
		}
	}
	return m
}

// sums adds up a counter's points by the value of attribute key ("" for
// all together).
func (m metrics) sums(name string, key attribute.Key) map[string]int64 {
	out := map[string]int64{}
	if s, ok := m[name].(metricdata.Sum[int64]); ok {
		for _, dp := range s.DataPoints {
			v, _ := dp.Attributes.Value(key)
			out[v.String()] += dp.Value
		}
	}
	return out
}

// counts adds up a histogram's counts by the value of attribute key.
func (m metrics) counts(name string, key attribute.Key) map[string]int64 {
	out := map[string]int64{}
	add := func(set attribute.Set, n uint64) {
		v, _ := set.Value(key)
		out[v.String()] += int64(n)
	}
	switch h := m[name].(type) {
	case metricdata.Histogram[float64]:
		for _, dp := range h.DataPoints {
			add(dp.Attributes, dp.Count)
		}
	case metricdata.Histogram[int64]:
		for _, dp := range h.DataPoints {
			add(dp.Attributes, dp.Count)
		}
	}
	return out
}
