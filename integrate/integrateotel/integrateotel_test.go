package integrateotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/integrate/integrateotel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// points returns the data points of the instrument name, keyed by the
// value of attribute key.
func points(t *testing.T, rm metricdata.ResourceMetrics, name, key string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			label := func(set attribute.Set) string {
				v, _ := set.Value(attribute.Key(key))
				s := v.AsString()
				if f, ok := set.Value("to"); ok {
					s += ">" + f.AsString()
				}
				return s
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[label(p.Attributes)] += float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[label(p.Attributes)] = float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[label(p.Attributes)] += p.Sum
				}
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	obs, err := integrateotel.New(mp)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, obs.Close()) })

	var hits atomic.Int64
	primary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(primary.Close)
	backup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(backup.Close)

	call, err := integrate.NewHTTP("otel-call", primary.URL, &integrate.HTTPOptions[struct{}, struct{}]{
		Client: primary.Client(), Observer: obs, FallbackEndpoint: backup.URL,
		Retry:          &integrate.RetryOptions{MaxAttempts: 2, InitialInterval: time.Millisecond},
		BreakerOptions: &integrate.BreakerOptions{FailureThreshold: 2, OpenTimeout: time.Hour},
	})
	require.NoError(t, err)
	ctx := context.Background()
	for range 2 {
		_, err := call.Do(ctx, struct{}{})
		require.NoError(t, err, "served by the fallback")
	}
	require.EqualValues(t, 2, hits.Load(), "two requests opened the breaker; the second call went straight to the fallback")
	denier, err := integrate.NewLimiter("otel-denier", integrate.LimiterOptions{Rate: 1.0 / 3600, MaxWait: time.Second, Observer: obs})
	require.NoError(t, err)
	require.NoError(t, denier.Wait(ctx))
	require.ErrorIs(t, denier.Wait(ctx), integrate.ErrRateLimited)
	spacer, err := integrate.NewLimiter("otel-spacer", integrate.LimiterOptions{Rate: 100, Observer: obs})
	require.NoError(t, err)
	require.NoError(t, spacer.Wait(ctx))
	require.NoError(t, spacer.Wait(ctx)) // waits for the next turn

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	require.Equal(t, map[string]float64{"otel-call>open": 1}, points(t, rm, "chorus.integrate.breaker.transitions", "breaker"))
	require.Equal(t, 2.0, points(t, rm, "chorus.integrate.breaker.state", "breaker")["otel-call"], "open")
	require.Equal(t, 0.0, points(t, rm, "chorus.integrate.breaker.state", "breaker")["otel-call (fallback)"], "closed")
	require.Equal(t, map[string]float64{"otel-call": 1}, points(t, rm, "chorus.integrate.retries", "endpoint"))
	require.Equal(t, map[string]float64{"otel-call": 2}, points(t, rm, "chorus.integrate.fallbacks", "endpoint"))
	require.Equal(t, map[string]float64{"otel-denier": 1}, points(t, rm, "chorus.integrate.limiter.denials", "limiter"))
	require.Positive(t, points(t, rm, "chorus.integrate.limiter.wait", "limiter")["otel-spacer"], "the second call waited for its turn")
}

func TestNilMeterProvider(t *testing.T) {
	_, err := integrateotel.New(nil)
	require.ErrorContains(t, err, "nil MeterProvider")
}
