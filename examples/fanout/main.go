// Command fanout runs a batch job as one durable workflow: it processes N
// items in parallel, each as its own activity, and races the whole batch
// against a deadline. Every item's result is journaled as it arrives, so a
// crash half way through the batch redoes only the items that had not
// finished.
//
//	go run ./examples/fanout
//	go run ./examples/fanout -n 100 -deadline 150ms   # some items miss the deadline
//
// The workflow and its activities are in package batch, beside this file.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/fanout/batch"
)

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "chorus-fanout.db"), "journal database `file`")
	n := flag.Int("n", 20, "number of items to process in parallel")
	work := flag.Duration("work", 200*time.Millisecond, "how long the slowest item takes (item i of n takes i/n of it)")
	deadline := flag.Duration("deadline", 10*time.Second, "cancel the items still running after this long")
	flag.Parse()
	if *n < 1 || *work < 0 || *deadline <= 0 {
		fmt.Fprintln(os.Stderr, "fanout: -n and -deadline must be positive, -work not negative")
		os.Exit(2)
	}
	if err := run(*db, batch.Batch{Items: *n, Work: *work, Deadline: *deadline}); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

func run(db string, b batch.Batch) error {
	ctx := context.Background()
	fmt.Println("database:", db)
	runID, batchID, err := runBatch(ctx, db, b)
	if err != nil {
		return err
	}
	// Reopen the database and ask the finished run for its batch ID: the
	// engine replays the journal to answer, and the ID comes back the same
	// because NewUUID recorded it once.
	eng, err := chorus.Open(ctx, db, &chorus.Options{Definitions: []chorus.Definition{batch.RunBatch, batch.Process, batch.Publish}})
	if err != nil {
		return err
	}
	defer closeEngine(eng)
	id, err := chorus.Query(ctx, eng, runID, batch.BatchID, struct{}{})
	if err != nil {
		return err
	}
	fmt.Printf("after reopening, the batch-id query replays the journal: %s (same: %v)\n", id, id == batchID)
	return nil
}

// runBatch runs one batch to its end and prints its report.
func runBatch(ctx context.Context, db string, b batch.Batch) (runID, batchID string, err error) {
	eng, err := chorus.Open(ctx, db, nil)
	if err != nil {
		return "", "", err
	}
	defer closeEngine(eng)
	if err := eng.Register(batch.RunBatch, batch.Process, batch.Publish); err != nil {
		return "", "", err
	}

	start := time.Now()
	r, err := chorus.Start(ctx, eng, batch.RunBatch, b, nil) // a new run ID each time
	if err != nil {
		return "", "", err
	}
	rep, err := r.Result(ctx)
	if err != nil {
		return "", "", err
	}
	elapsed := time.Since(start)
	missed := ""
	if rep.MissedDeadline {
		missed = " (missed the deadline)"
	}
	fmt.Printf("%s: %d items done, %d not done%s, total %d\n", rep.BatchID, rep.Done, rep.Failed, missed, rep.Total)
	var sequential time.Duration
	for i := 1; i <= b.Items; i++ {
		sequential += b.Work * time.Duration(i) / time.Duration(b.Items)
	}
	fmt.Printf("wall time: %v for %d items (one after the other they would take %v)\n",
		elapsed.Round(time.Millisecond), b.Items, sequential.Round(time.Millisecond))
	return r.ID(), rep.BatchID, nil
}

// closeEngine gives running activities up to 10 seconds to finish; then
// they are interrupted without a recorded failure and run again after the
// next Open.
func closeEngine(eng *chorus.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "fanout: close:", err)
	}
}
