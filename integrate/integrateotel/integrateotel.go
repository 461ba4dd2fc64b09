// Package integrateotel records the decisions of package integrate's
// circuit breakers, rate limiters and calls as OpenTelemetry metrics:
//
//	obs, err := integrateotel.New(otel.GetMeterProvider())
//	defer obs.Close()
//	lim, err := integrate.NewLimiter("payment-api", integrate.LimiterOptions{Rate: 10, Observer: obs})
//	call, err := integrate.NewHTTP("payment.charge", url, &integrate.HTTPOptions[Req, Resp]{Limiter: lim, Observer: obs})
//
// The instruments, under the scope [ScopeName]:
//
//   - chorus.integrate.breaker.state (gauge): the state of every breaker of
//     the process (0 closed, 1 half-open, 2 open), read from
//     integrate.Snapshot at each collection, whatever its observer;
//   - chorus.integrate.breaker.transitions (counter): state changes, by
//     breaker, from and to;
//   - chorus.integrate.limiter.wait (histogram, seconds): how long calls
//     waited for their turn, by limiter;
//   - chorus.integrate.limiter.denials (counter): calls a limiter refused;
//   - chorus.integrate.retries and chorus.integrate.fallbacks (counters):
//     retries within a call and calls served by a fallback, by endpoint.
//
// It lives in a package of its own so that OpenTelemetry reaches only the
// programs that import it.
package integrateotel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/chorusdev/chorus/integrate"
)

// ScopeName is the instrumentation scope of the instruments.
const ScopeName = "github.com/chorusdev/chorus/integrate"

// Observer is an [integrate.Observer] that records what it hears as
// metrics. Pass it as the Observer of breakers, limiters and calls. It is
// safe for concurrent use.
type Observer struct {
	transitions, denials, retries, fallbacks metric.Int64Counter
	wait                                     metric.Float64Histogram
	reg                                      metric.Registration
}

var _ integrate.Observer = (*Observer)(nil)

// New creates the instruments on mp. Call Close to stop reporting the
// breakers' states.
func New(mp metric.MeterProvider) (*Observer, error) {
	if mp == nil {
		return nil, errors.New("integrateotel: nil MeterProvider")
	}
	m := mp.Meter(ScopeName)
	o := &Observer{}
	var errs []error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		return c
	}
	o.transitions = counter("chorus.integrate.breaker.transitions", "Circuit breaker state changes.", "{transition}")
	o.denials = counter("chorus.integrate.limiter.denials", "Calls a client-side rate limiter refused.", "{call}")
	o.retries = counter("chorus.integrate.retries", "Retries within a call, after a transport error or a retryable status.", "{retry}")
	o.fallbacks = counter("chorus.integrate.fallbacks", "Calls served by their fallback endpoint or function.", "{call}")
	var err error
	o.wait, err = m.Float64Histogram("chorus.integrate.limiter.wait", metric.WithDescription("How long calls waited for their turn at a rate limiter."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	errs = append(errs, err)
	state, err := m.Int64ObservableGauge("chorus.integrate.breaker.state",
		metric.WithDescription("Circuit breaker state: 0 closed, 1 half-open, 2 open."), metric.WithUnit("{state}"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("integrateotel: create instruments: %w", err)
	}
	o.reg, err = m.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		for _, s := range integrate.Snapshot() {
			if v, ok := stateValue(s.BreakerState); ok {
				ob.ObserveInt64(state, v, metric.WithAttributes(attribute.String("breaker", s.Name)))
			}
		}
		return nil
	}, state)
	if err != nil {
		return nil, fmt.Errorf("integrateotel: register the breaker state callback: %w", err)
	}
	return o, nil
}

func stateValue(s string) (int64, bool) {
	switch s {
	case integrate.BreakerClosed.String():
		return 0, true
	case integrate.BreakerHalfOpen.String():
		return 1, true
	case integrate.BreakerOpen.String():
		return 2, true
	}
	return 0, false
}

// Close stops reporting the breakers' states.
func (o *Observer) Close() error { return o.reg.Unregister() }

// BreakerStateChanged counts a transition.
func (o *Observer) BreakerStateChanged(name string, from, to integrate.BreakerState) {
	o.transitions.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("breaker", name), attribute.String("from", from.String()), attribute.String("to", to.String())))
}

// LimiterWaited records a wait.
func (o *Observer) LimiterWaited(name string, d time.Duration) {
	o.wait.Record(context.Background(), d.Seconds(), metric.WithAttributes(attribute.String("limiter", name)))
}

// LimiterDenied counts a refusal.
func (o *Observer) LimiterDenied(name string, _ time.Duration) {
	o.denials.Add(context.Background(), 1, metric.WithAttributes(attribute.String("limiter", name)))
}

// Retrying counts a retry.
func (o *Observer) Retrying(endpoint string, _ int, _ time.Duration, _ error) {
	o.retries.Add(context.Background(), 1, metric.WithAttributes(attribute.String("endpoint", endpoint)))
}

// FellBack counts a call served by its fallback.
func (o *Observer) FellBack(endpoint string, _ error) {
	o.fallbacks.Add(context.Background(), 1, metric.WithAttributes(attribute.String("endpoint", endpoint)))
}
