package chorus_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/workflow"
)

// BenchmarkReplay rebuilds a run from a 10,000-event journal (5,000
// activities, each scheduled and completed) by replaying it against its
// code: what a cache miss or a restart costs for a long run.
func BenchmarkReplay(b *testing.B) {
	const activities = 5000
	step := activity.New("bench-replay-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	wf := workflow.New("bench-replay", func(ctx workflow.Context, n int) (int, error) {
		for range activities {
			var err error
			if n, err = workflow.ExecuteActivity(ctx, step, n).Get(ctx); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
	t0 := time.Unix(1_700_000_000, 0).UTC()
	events := []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: wf.Name(), Payload: []byte("0"), Time: t0}}
	for i := range activities {
		seq := int64(len(events) + 1)
		events = append(events,
			history.Event{Seq: seq, Type: history.EventActivityScheduled, Name: step.Name(), Payload: []byte(strconv.Itoa(i)), Time: t0},
			history.Event{Seq: seq + 1, Type: history.EventActivityCompleted, Name: step.Name(), Ref: seq, Payload: []byte(strconv.Itoa(i + 1)), Time: t0})
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, ":memory:", nil)
	if err != nil {
		b.Fatal(err)
	}
	h := &history.Export{Run: history.RunInfo{ID: "long", Workflow: wf.Name(), Status: history.StatusRunning, FirstSeq: 1,
		CreatedAt: t0, UpdatedAt: t0, LastSeq: int64(len(events))}, Events: events}
	if err := chorus.ImportHistory(ctx, store, h); err != nil {
		b.Fatal(err)
	}
	eng, err := chorus.OpenStore(ctx, store, &chorus.Options{Definitions: []chorus.Definition{wf, step}})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	core := hook.Core(eng)
	b.ResetTimer()
	for range b.N {
		if err := core.ReplayRun(ctx, "long"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(events)), "events")
}
