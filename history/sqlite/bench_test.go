package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
)

// BenchmarkCommit measures group commit on a file store: each batch appends
// two events (an activity's completion and the next activity) to its run,
// adds the next task and deletes the finished one, as one workflow step
// does. With batches=100 each Commit carries 100 such batches, for 100
// different runs, in one transaction.
func BenchmarkCommit(b *testing.B) {
	for _, sync := range []sqlite.Synchronous{sqlite.SynchronousFull, sqlite.SynchronousNormal} {
		for _, per := range []int{1, 100} {
			b.Run(fmt.Sprintf("sync=%s/batches=%d", sync, per), func(b *testing.B) {
				benchmarkCommit(b, sync, per)
			})
		}
	}
}

func benchmarkCommit(b *testing.B, sync sqlite.Synchronous, per int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openStore(b, filepath.Join(b.TempDir(), "bench.db"), &sqlite.Options{Synchronous: sync})
	payload := []byte(`{"order":"A-1234","amount":1999,"currency":"EUR"}`)

	// One run per batch of a Commit, each waiting for the activity at step 2.
	last := make([]int64, per)
	var creates []*history.Batch
	for i := range per {
		b := createBatch(fmt.Sprintf("run-%04d", i))
		creates = append(creates, b)
		last[i] = 2
	}
	mustCommit(b, s, creates...)

	tm := t0
	for b.Loop() {
		tm = tm.Add(time.Millisecond)
		batches := make([]*history.Batch, per)
		for i := range batches {
			seq := last[i]
			batches[i] = &history.Batch{
				RunID: fmt.Sprintf("run-%04d", i),
				Time:  tm,
				Events: []history.Event{
					{Seq: seq + 1, Type: history.EventActivityCompleted, Ref: seq, Payload: payload, Time: tm},
					{Seq: seq + 2, Type: history.EventActivityScheduled, Name: "charge", Payload: payload, Time: tm},
				},
				AddTasks:  []history.Task{{Step: seq + 2, Name: "charge", Input: payload, Options: []byte(`{}`), Attempt: 1}},
				DoneTasks: []int64{seq},
			}
			last[i] = seq + 2
		}
		errs, err := s.Commit(ctx, batches)
		if err == nil {
			err = errors.Join(errs...)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "batches/s")
}

// BenchmarkEvents measures reading a run's journal back, as replay does:
// 200 events with a 50-byte payload each.
func BenchmarkEvents(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, filepath.Join(b.TempDir(), "bench.db"), nil)
	payload := []byte(`{"order":"A-1234","amount":1999,"currency":"EUR"}`)
	batch := createBatch("r")
	for seq := int64(3); seq <= 200; seq++ {
		batch.Events = append(batch.Events, history.Event{Seq: seq, Type: history.EventSideEffect, Name: "v", Payload: payload, Time: t0})
	}
	mustCommit(b, s, batch)
	for b.Loop() {
		events, err := s.Events(ctx, "r", 0)
		if err != nil || len(events) != 200 {
			b.Fatal(len(events), err)
		}
	}
	b.ReportMetric(float64(b.N*200)/b.Elapsed().Seconds(), "events/s")
}
