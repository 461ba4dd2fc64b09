package chorusotel_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/chorusotel"
	"github.com/chorusdev/chorus/workflow"
)

var (
	queueDone = workflow.NewSignal[struct{}]("done")
	queued    = workflow.New("queued", func(ctx workflow.Context, _ int) (int, error) {
		workflow.GetSignalChannel(ctx, queueDone).Receive(ctx)
		return 0, nil
	})
)

// gauges collects the queue gauges by name and queue.
func gauges(t *testing.T, r *sdkmetric.ManualReader) map[string]map[string]float64 {
	t.Helper()
	out := map[string]map[string]float64{}
	for name, data := range collect(t, r) {
		switch g := data.(type) {
		case metricdata.Gauge[int64]:
			for _, dp := range g.DataPoints {
				q, _ := dp.Attributes.Value(chorusotel.AttrQueue)
				if out[name] == nil {
					out[name] = map[string]float64{}
				}
				out[name][q.AsString()] = float64(dp.Value)
			}
		case metricdata.Gauge[float64]:
			for _, dp := range g.DataPoints {
				q, _ := dp.Attributes.Value(chorusotel.AttrQueue)
				if out[name] == nil {
					out[name] = map[string]float64{}
				}
				out[name][q.AsString()] = dp.Value
			}
		}
	}
	return out
}

// TestQueueMetrics reads a queue's depth, running runs and the age of its
// oldest waiting run, on the engine's fake clock, as the queue moves.
func TestQueueMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
	eng, err := chorus.Open(ctx, filepath.Join(t.TempDir(), "q.db"), &chorus.Options{
		Clock:       mock,
		Definitions: []chorus.Definition{queued},
		Queues:      []chorus.Queue{{Name: "one", Concurrency: 1}, {Name: "idle"}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Close(context.Background()) })

	reader := sdkmetric.NewManualReader()
	stop, err := chorusotel.QueueMetrics(eng, mock, chorusotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	require.NoError(t, err)

	first, err := chorus.Start(ctx, eng, queued, 1, &chorus.StartOptions{ID: "first", Queue: "one"})
	require.NoError(t, err)
	mock.Add(3 * time.Second)
	for _, id := range []string{"second", "third"} {
		_, err = chorus.Start(ctx, eng, queued, 1, &chorus.StartOptions{ID: id, Queue: "one"})
		require.NoError(t, err)
	}
	mock.Add(5 * time.Second)
	require.Eventually(t, func() bool { return gauges(t, reader)["chorus.queue.running"]["one"] == 1 }, 30*time.Second, time.Millisecond,
		"the first run starts")
	g := gauges(t, reader)
	require.Equal(t, map[string]float64{"one": 2, "idle": 0}, g["chorus.queue.waiting"])
	require.Equal(t, map[string]float64{"one": 1, "idle": 0}, g["chorus.queue.running"])
	require.Equal(t, map[string]float64{"one": 5, "idle": 0}, g["chorus.queue.oldest_wait"], "the second run has waited 5 s")
	require.Contains(t, g, "chorus.queue.activities.running")
	require.Contains(t, g, "chorus.queue.activities.waiting")

	// The first run ends and the second takes its place.
	require.NoError(t, chorus.Signal(ctx, eng, "first", queueDone, struct{}{}))
	_, err = first.Result(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return gauges(t, reader)["chorus.queue.waiting"]["one"] == 1 }, 30*time.Second, time.Millisecond,
		"the second run starts")
	g = gauges(t, reader)
	require.Equal(t, 1.0, g["chorus.queue.running"]["one"])
	require.Equal(t, 5.0, g["chorus.queue.oldest_wait"]["one"], "the third run was enqueued with the second")

	// Stopped, the gauges are no longer read.
	require.NoError(t, stop())
	require.Empty(t, gauges(t, reader))
}

// Bad arguments are refused with an error naming them.
func TestQueueMetricsRefusesNil(t *testing.T) {
	_, err := chorusotel.QueueMetrics(nil, chorusotel.NowFunc(time.Now))
	require.ErrorContains(t, err, "nil engine")
}
