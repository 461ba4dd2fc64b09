package chorusotel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/chorusdev/chorus"
)

// AttrQueue is the attribute naming the queue of the queue gauges.
const AttrQueue = attribute.Key("chorus.queue")

// Now is the clock the queue gauges read to age the oldest waiting run:
// an engine's [chorus.Options].Clock satisfies it, and so does a function
// returning time.Now through [NowFunc].
type Now interface{ Now() time.Time }

// NowFunc adapts a function to [Now].
type NowFunc func() time.Time

// Now calls f.
func (f NowFunc) Now() time.Time { return f() }

// QueueMetrics reports the engine's work queues ([chorus.Engine.Queues])
// as gauges read at each collection, each with chorus.queue:
//
//   - chorus.queue.waiting: runs waiting to start (the queue's depth);
//   - chorus.queue.running: runs started and not ended;
//   - chorus.queue.oldest_wait: seconds the longest-waiting run has
//     waited, by clock (0 when none waits), so that an alert can fire on
//     a queue that does not move;
//   - chorus.queue.activities.running and chorus.queue.activities.waiting:
//     activity attempts bound to the queue in this engine.
//
// Pass the engine's clock (time.Now's when it has none: NowFunc(time.Now)).
// A collection reads the store; one that fails is reported to the meter
// provider's error handler and the gauges skip it. Call the returned
// function to stop reporting, before the engine closes.
//
// Queue gauges are separate from [NewObserver] because they read the
// engine, which exists only once the observer has been given to it.
func QueueMetrics(eng *chorus.Engine, clock Now, opts ...Option) (stop func() error, err error) {
	if eng == nil {
		return nil, errors.New("chorusotel: QueueMetrics: nil engine")
	}
	if clock == nil {
		return nil, errors.New("chorusotel: QueueMetrics: nil clock (pass the engine's, or NowFunc(time.Now))")
	}
	m := newConfig(opts).mp.Meter(ScopeName)
	var errs []error
	gauge := func(name, desc, unit string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		return g
	}
	waiting := gauge("chorus.queue.waiting", "Runs waiting in the queue to start.", "{run}")
	running := gauge("chorus.queue.running", "Runs of the queue started and not ended.", "{run}")
	actsRunning := gauge("chorus.queue.activities.running", "Activity attempts bound to the queue running in this engine.", "{attempt}")
	actsWaiting := gauge("chorus.queue.activities.waiting", "Activity attempts bound to the queue waiting for a slot in this engine.", "{attempt}")
	oldest, err := m.Float64ObservableGauge("chorus.queue.oldest_wait", metric.WithDescription(
		"Seconds the run that has waited longest in the queue has waited (0 when none waits)."), metric.WithUnit("s"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("chorusotel: QueueMetrics: %w", err)
	}

	var mu sync.Mutex
	attrs := map[string]metric.ObserveOption{} // by queue, built once
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		qs, err := eng.Queues(ctx)
		if err != nil {
			return fmt.Errorf("chorusotel: read the queues: %w", err)
		}
		now := clock.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, q := range qs {
			a, ok := attrs[q.Name]
			if !ok {
				a = metric.WithAttributeSet(attribute.NewSet(AttrQueue.String(q.Name)))
				attrs[q.Name] = a
			}
			o.ObserveInt64(waiting, int64(q.Waiting), a)
			o.ObserveInt64(running, int64(q.Running), a)
			o.ObserveInt64(actsRunning, int64(q.ActivitiesRunning), a)
			o.ObserveInt64(actsWaiting, int64(q.ActivitiesWaiting), a)
			age := 0.0
			if !q.OldestWaiting.IsZero() {
				age = max(now.Sub(q.OldestWaiting).Seconds(), 0)
			}
			o.ObserveFloat64(oldest, age, a)
		}
		return nil
	}, waiting, running, actsRunning, actsWaiting, oldest)
	if err != nil {
		return nil, fmt.Errorf("chorusotel: QueueMetrics: register the callback: %w", err)
	}
	return reg.Unregister, nil
}
