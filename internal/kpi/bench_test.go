package kpi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/kpi"
)

// BenchmarkCompute measures Compute over 10,000 completed runs of 3 steps
// each (one failed after 2 attempts, with its ActivityRetried note, and
// done again) in a SQLite file: the
// default limit, so every run's journal is read.
func BenchmarkCompute(b *testing.B) {
	const runs = 10_000
	st, _ := openStore(b)
	var batches []*history.Batch
	for i := range runs {
		id := fmt.Sprintf("run-%05d", i)
		j := newRun(id, "order", t0.Add(time.Duration(i)*time.Second))
		tm := j.created
		next := func() time.Time { tm = tm.Add(100 * time.Millisecond); return tm }
		j.done(j.sched("reserve", tm), next())
		s := j.sched("charge", tm)
		j.retried(s, 2, next(), next())
		j.fail(s, 2, "", tm)
		j.done(j.sched("charge", tm), next())
		j.add(history.EventRunCompleted, "", 0, nil, next())
		batches = append(batches, &history.Batch{RunID: id, Time: tm, Events: j.evs,
			Create: &history.RunInfo{ID: id, Workflow: "order", Status: history.StatusCompleted}})
		if len(batches) == 500 {
			errs, err := st.Commit(b.Context(), batches)
			require.NoError(b, err)
			for _, e := range errs {
				require.NoError(b, e)
			}
			batches = batches[:0]
		}
	}
	b.ResetTimer()
	for b.Loop() {
		ws, err := kpi.Compute(b.Context(), st, kpi.Filter{})
		if err != nil {
			b.Fatal(err)
		}
		if len(ws) != 1 || ws[0].Runs != runs || ws[0].Steps != 3*runs || ws[0].TimeToRecover.N != runs {
			b.Fatalf("unexpected KPIs %+v", ws)
		}
	}
}
