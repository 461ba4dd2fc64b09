// Package chorusotel reports what a Chorus engine does as OpenTelemetry
// traces and metrics. It depends on the OpenTelemetry API only: the
// application brings the SDK and the exporter it wants (see the
// examples/tracing program), and an application that does not import this
// package links none of OpenTelemetry.
//
// Install both halves when opening the engine:
//
//	obs, err := chorusotel.NewObserver() // global providers, or WithTracerProvider, WithMeterProvider
//	...
//	eng, err := chorus.Open(ctx, path, &chorus.Options{
//		Observer:           obs,
//		ContextPropagators: []chorus.ContextPropagator{chorusotel.Propagator()},
//	})
//
// # Trace context
//
// [Propagator] journals the trace context of the context given to
// chorus.Start (W3C traceparent, tracestate and baggage, under those keys
// of the run's chorus.Header) with the run's start, so it survives
// restarts: every span of the run is a child of the caller's span, in the
// caller's trace, whichever process emits it. An activity's context
// carries the span of its attempt, so the calls the activity makes with it
// (an HTTP client, a database driver that is instrumented) are children of
// the attempt. Child runs inherit their parent's trace context.
//
// A run started without a trace context (or without the Propagator) gets
// one derived from its run ID alone ([RunTraceID]): all its spans share that
// trace, across restarts, under a parent span that is never emitted.
//
// # Spans
//
// The observer emits, with attributes chorus.run_id and chorus.workflow on
// each:
//
//   - "workflow NAME": one per run (per generation, for a run that
//     continues as new), emitted once, when the run ends, from the time
//     its journal says it started (so a run that spans restarts is still
//     one span) to its end, with chorus.status; status Error unless it
//     completed or continued as new.
//   - "activity NAME": one per activity attempt, from its start to its
//     end, with chorus.activity, chorus.step, chorus.attempt and, for a
//     failed attempt, status Error, the error recorded as an exception
//     event, chorus.failure_type, and chorus.retry (whether it is tried
//     again). It is emitted once the attempt's outcome (or its retry) is
//     journaled; an attempt that a crash cut short is not emitted, and its
//     new execution after the restart is.
//   - "timer": one per timer that fired, from its scheduling to its firing
//     (a canceled timer has none), with chorus.step.
//   - "signal NAME": a span without duration when a signal is received,
//     with chorus.signal.
//   - "child NAME": one per child run the parent saw end, from its start
//     to the moment the parent recorded its end, with chorus.child.run_id
//     and chorus.status.
//   - "compensation NAME": one per saga compensation, from its start to
//     its end, with chorus.saga, chorus.compensation.index,
//     chorus.compensation.kind, chorus.compensation.skipped, status Error
//     when it failed. A compensation that began before a restart starts
//     when it ended.
//
// The workflow span and the others are siblings under the run's trace
// context: the workflow span only exists once the run has ended, possibly
// in another process, so nothing can be its child.
//
// # Metrics
//
// Through the meter named like this package: counters chorus.runs.started,
// chorus.runs.completed, chorus.runs.failed (with chorus.status: failed,
// canceled, terminated, timed-out), chorus.runs.blocked (each with
// chorus.workflow), chorus.activity.retries (with chorus.activity),
// chorus.run_cache.hits, chorus.run_cache.evictions, chorus.run_cache.loads
// (runs rebuilt from the journal); histograms chorus.activity.duration
// (seconds, with chorus.activity and chorus.outcome: completed, failed,
// retried, pending), chorus.activity.schedule_to_start (seconds, with
// chorus.activity), chorus.commit.duration (seconds) and
// chorus.commit.batch_size (runs per transaction).
//
// [QueueMetrics] adds gauges of the engine's work queues, read at each
// collection: chorus.queue.waiting (depth), chorus.queue.running,
// chorus.queue.oldest_wait (seconds) and chorus.queue.activities.running
// and .waiting, each with chorus.queue.
//
// # People and models
//
// From the journal markers of the human and decide packages (read as
// JSON, without importing those packages), through the same meter:
//
//   - chorus.human.tasks.created, chorus.human.tasks.completed (by a
//     person), chorus.human.tasks.timed_out (deadline passed: an SLA
//     breach) and chorus.human.tasks.escalated (escalation steps taken):
//     counters with chorus.human.task (the task kind's name) and
//     chorus.human.group (the group the task is assigned to at that
//     moment, the one it was asked for when it is created; empty for a
//     task held by a user alone);
//   - chorus.human.time_to_claim (from a task's creation to its first
//     claim, or to its completion when nobody claimed it) and
//     chorus.human.time_to_decide (from its creation to its completion):
//     histograms in seconds, on the workflow's clock, with the same
//     attributes;
//   - chorus.decide.decisions with chorus.decide.model and
//     chorus.decided_by ("model" or "person": the automated and manual
//     shares); chorus.decide.fallbacks with chorus.decide.model and
//     chorus.decide.fallback (why a person decided: timeout, error,
//     invalid-score, low-confidence, model-off);
//     chorus.decide.compared (a person decided a case the model had a
//     suggestion for) and chorus.decide.agreed (and chose it), with
//     chorus.decide.model: their ratio is the model's agreement rate;
//   - chorus.decide.switches (a model switched off or on) with
//     chorus.decide.model, chorus.decide.enabled and
//     chorus.decide.switched_by ("watch" or "operator"), and the gauge
//     chorus.decide.model.enabled (1 or 0 for each model, as its latest
//     switch seen by this process left it).
//
// The times come from the markers' times, so they hold on a fake clock.
// Each audit entry carries the task's creation time, group and claim
// count, so a task created before the process started (a restart while it
// was open) is measured like any other; entries journaled before those
// fields existed are followed from the task's creation as this process
// saw it. A marker whose details do not decode is skipped.
//
// # Exactly once
//
// Nothing is emitted while the engine replays a run: spans and counters
// come from live transitions and markers only, once their commit landed,
// so a run rebuilt after a crash, a restart or a cache eviction never
// reports a step, a human task's action or a decision twice. A crash
// between a commit and its report loses that report instead of doubling
// it.
package chorusotel

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/chorusdev/chorus/chorusotel"

// Attribute keys of the spans and metrics.
const (
	AttrRunID            = attribute.Key("chorus.run_id")
	AttrWorkflow         = attribute.Key("chorus.workflow")
	AttrStatus           = attribute.Key("chorus.status")
	AttrActivity         = attribute.Key("chorus.activity")
	AttrStep             = attribute.Key("chorus.step")
	AttrAttempt          = attribute.Key("chorus.attempt")
	AttrRetry            = attribute.Key("chorus.retry")
	AttrFailureType      = attribute.Key("chorus.failure_type")
	AttrOutcome          = attribute.Key("chorus.outcome")
	AttrSignal           = attribute.Key("chorus.signal")
	AttrChildRunID       = attribute.Key("chorus.child.run_id")
	AttrSaga             = attribute.Key("chorus.saga")
	AttrCompensation     = attribute.Key("chorus.compensation.index")
	AttrCompensationKind = attribute.Key("chorus.compensation.kind")
	AttrSkipped          = attribute.Key("chorus.compensation.skipped")
	AttrContinuedAsNew   = attribute.Key("chorus.continued_as_new")
)

// Option configures [NewObserver] and [Propagator].
type Option func(*config)

type config struct {
	tp   trace.TracerProvider
	mp   metric.MeterProvider
	prop propagation.TextMapPropagator
}

// WithTracerProvider sets the provider of the observer's tracer. Defaults
// to otel.GetTracerProvider() at the time of NewObserver.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets the provider of the observer's meter. Defaults to
// otel.GetMeterProvider() at the time of NewObserver.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithTextMapPropagator sets how the trace context is written to and read
// from a run's header. Defaults to W3C trace context and baggage
// (propagation.TraceContext and propagation.Baggage). The Propagator and
// the observer of one engine must use the same.
func WithTextMapPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return c
}

// Observer is a [chorus.Observer] that emits OpenTelemetry spans and
// metrics; see the package documentation for what it emits. Make one with
// [NewObserver].
type Observer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator

	runsStarted, runsCompleted, runsFailed, runsBlocked metric.Int64Counter
	retries, cacheHits, cacheEvictions, cacheLoads      metric.Int64Counter
	activityDuration, scheduleToStart, commitDuration   metric.Float64Histogram
	commitBatch                                         metric.Int64Histogram
	people                                              people

	// attrs holds the measurement attributes by workflow, activity,
	// outcome and status: building an attribute set for each measurement
	// would cost more than the measurement. There are as many as
	// registered names (and human task names, groups and models).
	mu    sync.RWMutex
	attrs map[attrKey]metric.MeasurementOption
}

type attrKey struct {
	k1, k2, k3 attribute.Key
	v1, v2, v3 string
}

// measured returns the measurement option with attributes k1=v1 (and
// k2=v2 unless k2 is empty), built once.
func (o *Observer) measured(k1 attribute.Key, v1 string, k2 attribute.Key, v2 string) metric.MeasurementOption {
	return o.measured3(k1, v1, k2, v2, "", "")
}

// measured3 is measured with a third attribute k3=v3 unless k3 is empty.
func (o *Observer) measured3(k1 attribute.Key, v1 string, k2 attribute.Key, v2 string, k3 attribute.Key, v3 string) metric.MeasurementOption {
	key := attrKey{k1, k2, k3, v1, v2, v3}
	o.mu.RLock()
	m, ok := o.attrs[key]
	o.mu.RUnlock()
	if ok {
		return m
	}
	kvs := []attribute.KeyValue{k1.String(v1)}
	if k2 != "" {
		kvs = append(kvs, k2.String(v2))
	}
	if k3 != "" {
		kvs = append(kvs, k3.String(v3))
	}
	m = metric.WithAttributeSet(attribute.NewSet(kvs...))
	o.mu.Lock()
	o.attrs[key] = m
	o.mu.Unlock()
	return m
}

var _ chorus.Observer = (*Observer)(nil)

// Bucket boundaries of the histograms.
var (
	secondsBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600}
	commitBuckets  = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
	batchBuckets   = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
)

// NewObserver returns an observer that uses the tracer and meter of the
// configured providers. It fails only if the meter refuses an instrument.
func NewObserver(opts ...Option) (*Observer, error) {
	c := newConfig(opts)
	o := &Observer{tracer: c.tp.Tracer(ScopeName), prop: c.prop, attrs: map[attrKey]metric.MeasurementOption{}}
	m := c.mp.Meter(ScopeName)
	var errs []error
	counter := func(name, desc, unit string) metric.Int64Counter {
		x, err := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		return x
	}
	seconds := func(name, desc string, buckets []float64) metric.Float64Histogram {
		x, err := m.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(buckets...))
		errs = append(errs, err)
		return x
	}
	o.runsStarted = counter("chorus.runs.started", "Runs started (a run that continues as new counts once per generation).", "{run}")
	o.runsCompleted = counter("chorus.runs.completed", "Runs that completed.", "{run}")
	o.runsFailed = counter("chorus.runs.failed", "Runs that failed, were canceled, terminated or timed out.", "{run}")
	o.runsBlocked = counter("chorus.runs.blocked", "Times a run was blocked.", "{run}")
	o.retries = counter("chorus.activity.retries", "Activity attempts that failed and are tried again.", "{attempt}")
	o.cacheHits = counter("chorus.run_cache.hits", "Inputs that found their run idle in the run cache.", "{run}")
	o.cacheEvictions = counter("chorus.run_cache.evictions", "Idle runs evicted from the run cache.", "{run}")
	o.cacheLoads = counter("chorus.run_cache.loads", "Runs rebuilt from the journal by replay.", "{run}")
	o.activityDuration = seconds("chorus.activity.duration", "Duration of activity attempts.", secondsBuckets)
	o.scheduleToStart = seconds("chorus.activity.schedule_to_start", "Time from an attempt's scheduling (or the end of its retry backoff) to its start.", secondsBuckets)
	o.commitDuration = seconds("chorus.commit.duration", "Duration of a journal transaction.", commitBuckets)
	var err error
	o.commitBatch, err = m.Int64Histogram("chorus.commit.batch_size", metric.WithDescription("Runs committed in one journal transaction."),
		metric.WithUnit("{run}"), metric.WithExplicitBucketBoundaries(batchBuckets...))
	errs = append(errs, err, o.people.init(m))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// Observe emits the spans and metrics of ev; it implements
// [chorus.Observer].
func (o *Observer) Observe(ctx context.Context, ev chorus.Event) context.Context {
	switch ev.Kind {
	case chorus.EventRunStarted:
		o.runsStarted.Add(ctx, 1, o.measured(AttrWorkflow, ev.Workflow, "", ""))
	case chorus.EventRunEnded:
		o.runEnded(ctx, ev)
	case chorus.EventRunBlocked:
		o.runsBlocked.Add(ctx, 1, o.measured(AttrWorkflow, ev.Workflow, "", ""))
	case chorus.EventActivityStarted:
		ctx, _ = o.tracer.Start(o.parent(ctx, ev), "activity "+ev.Name, trace.WithTimestamp(ev.Time),
			trace.WithAttributes(AttrRunID.String(ev.RunID), AttrWorkflow.String(ev.Workflow), AttrActivity.String(ev.Name),
				AttrStep.Int64(ev.Step), AttrAttempt.Int(ev.Attempt)))
		return ctx
	case chorus.EventActivityEnded:
		o.activityEnded(ctx, ev)
	case chorus.EventTimerFired:
		o.span(ctx, ev, "timer", ev.Start, nil, AttrStep.Int64(ev.Step))
	case chorus.EventSignalReceived:
		o.span(ctx, ev, "signal "+ev.Name, ev.Time, nil, AttrSignal.String(ev.Name), AttrStep.Int64(ev.Step))
	case chorus.EventChildEnded:
		o.span(ctx, ev, "child "+ev.Name, ev.Start, ev.Err, AttrChildRunID.String(ev.ChildID), AttrStatus.String(ev.Status.String()),
			AttrStep.Int64(ev.Step))
	case chorus.EventCompensationEnded:
		o.span(ctx, ev, "compensation "+ev.Name, ev.Start, ev.Err, AttrSaga.String(ev.Saga), AttrCompensation.Int(ev.Index),
			AttrCompensationKind.String(ev.CompensationKind), AttrSkipped.Bool(ev.Skipped))
	case chorus.EventCommit:
		o.commitDuration.Record(ctx, ev.Latency.Seconds())
		o.commitBatch.Record(ctx, int64(ev.BatchSize))
	case chorus.EventCacheHit:
		o.cacheHits.Add(ctx, 1)
	case chorus.EventCacheEviction:
		o.cacheEvictions.Add(ctx, 1)
	case chorus.EventRunLoaded:
		o.cacheLoads.Add(ctx, 1)
	case chorus.EventMarker:
		o.marker(ctx, ev)
	}
	return ctx
}

// runEnded emits the run's span and counts how it ended.
func (o *Observer) runEnded(ctx context.Context, ev chorus.Event) {
	o.forgetTasks(ev.RunID)
	attrs := []attribute.KeyValue{AttrRunID.String(ev.RunID), AttrWorkflow.String(ev.Workflow)}
	switch {
	case ev.ContinuedAsNew:
		attrs = append(attrs, AttrContinuedAsNew.Bool(true))
	case ev.Status == chorus.StatusCompleted:
		o.runsCompleted.Add(ctx, 1, o.measured(AttrWorkflow, ev.Workflow, "", ""))
		attrs = append(attrs, AttrStatus.String(ev.Status.String()))
	default:
		o.runsFailed.Add(ctx, 1, o.measured(AttrWorkflow, ev.Workflow, AttrStatus, ev.Status.String()))
		attrs = append(attrs, AttrStatus.String(ev.Status.String()))
	}
	_, span := o.tracer.Start(o.parent(ctx, ev), "workflow "+ev.Workflow, trace.WithTimestamp(startOr(ev.Start, ev.Time)),
		trace.WithAttributes(attrs...))
	if ev.Err != nil {
		span.SetStatus(codes.Error, ev.Err.Error())
	}
	span.End(trace.WithTimestamp(ev.Time))
}

// activityEnded ends the attempt's span and records its metrics.
func (o *Observer) activityEnded(ctx context.Context, ev chorus.Event) {
	outcome := "completed"
	switch {
	case ev.Pending:
		outcome = "pending"
	case ev.Retry:
		outcome = "retried"
	case ev.Err != nil:
		outcome = "failed"
	}
	o.activityDuration.Record(ctx, ev.Time.Sub(ev.Start).Seconds(), o.measured(AttrActivity, ev.Name, AttrOutcome, outcome))
	act := o.measured(AttrActivity, ev.Name, "", "")
	o.scheduleToStart.Record(ctx, ev.Latency.Seconds(), act)
	if ev.Retry {
		o.retries.Add(ctx, 1, act)
	}
	span := trace.SpanFromContext(ctx)
	if ev.Err != nil {
		span.SetAttributes(AttrRetry.Bool(ev.Retry), AttrFailureType.String(ev.FailureType))
		span.RecordError(ev.Err, trace.WithTimestamp(ev.Time))
		span.SetStatus(codes.Error, ev.Err.Error())
	}
	span.End(trace.WithTimestamp(ev.Time))
}

// span emits a span of the run from start to ev.Time.
func (o *Observer) span(ctx context.Context, ev chorus.Event, name string, start time.Time, err error, attrs ...attribute.KeyValue) {
	attrs = append(attrs, AttrRunID.String(ev.RunID), AttrWorkflow.String(ev.Workflow))
	_, span := o.tracer.Start(o.parent(ctx, ev), name, trace.WithTimestamp(startOr(start, ev.Time)), trace.WithAttributes(attrs...))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(trace.WithTimestamp(ev.Time))
}

func startOr(start, end time.Time) time.Time {
	if start.IsZero() || start.After(end) {
		return end
	}
	return start
}

// parent returns ctx with the run's trace context: the one its header
// carries, or else the one derived from its ID. An attempt's context
// already has it when the Propagator extracted it.
func (o *Observer) parent(ctx context.Context, ev chorus.Event) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	if len(ev.Header) > 0 {
		ctx = o.prop.Extract(ctx, headerCarrier(ev.Header))
	}
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, runSpanContext(ev.RunID))
}

// RunTraceID is the trace ID of the spans of a run that was started
// without a trace context: a hash of its run ID, so a run's trace can be
// found from its ID alone.
func RunTraceID(runID string) trace.TraceID { return runSpanContext(runID).TraceID() }

func runSpanContext(runID string) trace.SpanContext {
	sum := sha256.Sum256([]byte("chorus run\x00" + runID))
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}

// headerCarrier reads and writes a run's header as a TextMap carrier.
type headerCarrier chorus.Header

func (h headerCarrier) Get(key string) string { return string(h[key]) }
func (h headerCarrier) Set(key, value string) { h[key] = []byte(value) }
func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// Propagator returns the [chorus.ContextPropagator] that carries the trace
// context (and baggage) of the context given to chorus.Start into the run,
// its activities and its children, journaled with the run's start so that
// it survives restarts; see the package documentation. Install it in
// chorus.Options.ContextPropagators next to the [Observer], with the same
// [WithTextMapPropagator] if any (other options are ignored).
func Propagator(opts ...Option) chorus.ContextPropagator {
	return &propagator{prop: newConfig(opts).prop}
}

type propagator struct{ prop propagation.TextMapPropagator }

// Inject writes the trace context of ctx to h.
func (p *propagator) Inject(ctx context.Context, h chorus.Header) error {
	p.prop.Inject(ctx, headerCarrier(h))
	return nil
}

// Extract returns ctx with the trace context of h as its remote parent.
func (p *propagator) Extract(ctx context.Context, h chorus.Header) (context.Context, error) {
	if len(h) == 0 {
		return ctx, nil
	}
	return p.prop.Extract(ctx, headerCarrier(h)), nil
}

type spanContextKey struct{}

// ExtractToWorkflow returns ctx with the run's trace context, which
// [SpanContext] reads (to log the trace ID, say).
func (p *propagator) ExtractToWorkflow(ctx workflow.Context, h chorus.Header) (workflow.Context, error) {
	if len(h) == 0 {
		return ctx, nil
	}
	sc := trace.SpanContextFromContext(p.prop.Extract(context.Background(), headerCarrier(h)))
	if !sc.IsValid() {
		return ctx, nil
	}
	return workflow.WithValue(ctx, spanContextKey{}, sc), nil
}

// SpanContext returns the trace context that [Propagator] carried into
// workflow code, or an invalid one if there is none.
func SpanContext(ctx workflow.Context) trace.SpanContext {
	sc, _ := ctx.Value(spanContextKey{}).(trace.SpanContext)
	return sc
}
