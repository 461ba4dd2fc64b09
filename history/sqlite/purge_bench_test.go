package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
)

// BenchmarkPurge measures one PurgeRuns call of 500 runs, each with 12
// events, in a file that holds another 10,000 runs that ended after the
// cutoff: the time the writer is held by one purge transaction, which is
// how long a commit of the engine may wait behind it. Each iteration
// refills 500 runs outside the timer.
func BenchmarkPurge(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, filepath.Join(b.TempDir(), "bench.db"), &sqlite.Options{Synchronous: sqlite.SynchronousNormal})
	payload := []byte(`{"order":"A-1234","amount":1999,"currency":"EUR"}`)
	fill := func(prefix string, n int, at time.Time) {
		for i := 0; i < n; i += 500 {
			var bs []*history.Batch
			for j := i; j < min(n, i+500); j++ {
				id := fmt.Sprintf("%s-%06d", prefix, j)
				evs := []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Payload: payload, Time: at}}
				for k := int64(2); k <= 12; k++ {
					evs = append(evs, history.Event{Seq: k, Type: history.EventActivityCompleted, Ref: k - 1, Payload: payload, Time: at})
				}
				bs = append(bs, &history.Batch{RunID: id, Time: at, Events: evs,
					Create: &history.RunInfo{ID: id, Workflow: "wf", Status: history.StatusCompleted, Result: payload}})
			}
			mustCommit(b, s, bs...)
		}
	}
	fill("recent", 10_000, t0.Add(time.Hour))
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		fill(fmt.Sprintf("old%d", round), 500, t0)
		b.StartTimer()
		res, err := s.PurgeRuns(ctx, history.PurgeFilter{Before: t0.Add(time.Minute), Limit: 500})
		if err != nil || res.Deleted != 500 {
			b.Fatalf("purged %d: %v", res.Deleted, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/500, "µs/run")
}
