// Package batch is the workflow of the fanout program: a batch job as one
// durable workflow that processes its items in parallel, each as its own
// activity, and races the whole batch against a deadline. It is a package
// of its own so that tests (and replay/, which replays its recorded
// histories) can import it.
package batch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

type (
	Batch struct {
		Items    int
		Work     time.Duration // how long the slowest item takes
		Deadline time.Duration
	}
	Item struct {
		N    int
		Work time.Duration
	}
	// Result is what an item's workflow goroutine hands back on the channel.
	Result struct {
		Item, Value int
		Err         string
	}
	Report struct {
		BatchID        string
		Done, Failed   int
		Total          int
		MissedDeadline bool
	}
)

// BatchID answers the batch's ID, read from the workflow's state.
var BatchID = workflow.NewQuery[struct{}, string]("batch-id")

var (
	// Process stands for real work (an API call, a file to convert): item i
	// of n takes i/n of the -work duration, and gives up when the workflow
	// cancels it.
	Process = activity.New("process-item", func(ctx context.Context, it Item) (int, error) {
		select {
		case <-time.After(it.Work):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		fmt.Printf("[activity] process-item %d: done in %v\n", it.N, it.Work)
		return it.N * it.N, nil
	})
	Publish = activity.New("publish-summary", func(ctx context.Context, r Report) (struct{}, error) {
		fmt.Printf("[activity] publish-summary: %s: %d done, %d not done, total %d\n", r.BatchID, r.Done, r.Failed, r.Total)
		return struct{}{}, nil
	})
)

var RunBatch = workflow.New("run-batch", func(ctx workflow.Context, b Batch) (Report, error) {
	say := func(format string, args ...any) {
		if !workflow.IsReplaying(ctx) {
			fmt.Printf("[workflow] "+format+"\n", args...)
		}
	}
	// A random ID would change each time the run is replayed (after a
	// crash, or to answer a query), so it must not come from uuid.New:
	// NewUUID journals the ID it draws and returns the journaled one on
	// replay. SideEffect does the same for any small non-deterministic
	// value, here the machine the batch started on.
	batchID := "batch-" + workflow.NewUUID(ctx).String()[:8]
	host := workflow.SideEffect(ctx, func() string {
		h, err := Hostname()
		if err != nil {
			return "unknown host"
		}
		return h
	})
	workflow.SetQueryHandler(ctx, BatchID, func(struct{}) (string, error) { return batchID, nil })
	say("%s: %d items, started on %s, deadline %v", batchID, b.Items, host, b.Deadline)

	// One workflow goroutine per item (workflow.Go, never the go
	// statement: the engine schedules them deterministically). Each waits
	// for its activity and hands the result over a buffered channel with
	// room for every item, so no sender ever blocks.
	batchCtx, cancelBatch := workflow.WithCancel(ctx)
	results := workflow.NewBufferedChannel[Result](ctx, b.Items)
	wg := workflow.NewWaitGroup(ctx)
	for n := 1; n <= b.Items; n++ {
		wg.Add(1)
		workflow.Go(batchCtx, func(ctx workflow.Context) {
			defer wg.Done()
			work := b.Work * time.Duration(n) / time.Duration(b.Items)
			v, err := workflow.ExecuteActivity(ctx, Process, Item{N: n, Work: work}).Get(ctx)
			r := Result{Item: n, Value: v}
			switch {
			case errors.Is(err, workflow.ErrCanceled):
				r.Err = err.Error()
				say("item %d: canceled", n)
			case err != nil:
				// Activities retry until they succeed by default, so this
				// only happens with a retry policy that gives up.
				r.Err = err.Error()
				say("item %d: failed: %v", n, err)
			default:
				say("item %d = %d", n, v)
			}
			results.Send(ctx, r)
		})
	}
	// Turn "every goroutine is done" into something a Selector can wait
	// on: a channel that is closed when the wait group reaches zero.
	allDone := workflow.NewChannel[struct{}](ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		wg.Wait(ctx)
		allDone.Close()
	})

	// Race the batch against a durable timer. The timer has its own
	// cancellation scope so that a batch that wins can drop it.
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	deadline := workflow.NewTimer(timerCtx, b.Deadline)
	var missed bool
	workflow.NewSelector(ctx).
		AddReceive(allDone, func() { cancelTimer() }).
		AddFuture(deadline, func() {
			missed = true
			say("deadline of %v passed: canceling the unfinished items", b.Deadline)
			cancelBatch() // their activities fail with ErrCanceled at once
		}).
		Select(ctx)
	wg.Wait(ctx)
	results.Close()

	rep := Report{BatchID: batchID, MissedDeadline: missed}
	for {
		r, ok := results.Receive(ctx)
		if !ok {
			break
		}
		if r.Err != "" {
			rep.Failed++
			continue
		}
		rep.Done++
		rep.Total += r.Value
	}

	// GetVersion guards a step added after the first release of this
	// workflow. A run that got past this point under the old code went
	// straight to RunCompleted and has no publish-summary in its journal;
	// replaying it (after a crash, or to answer the batch-id query) with
	// code that now schedules the activity would not match the journal, and
	// the engine would block the run with a NonDeterminismError. GetVersion
	// journals a marker the first time a run gets here: a run without the
	// marker replays as DefaultVersion and skips the step, a run that
	// recorded version 1 publishes. Once no run older than the change can
	// be replayed, raise minSupported to 1 and delete the old branch.
	if workflow.GetVersion(ctx, "publish-summary", workflow.DefaultVersion, 1) == 1 {
		if _, err := workflow.ExecuteActivity(ctx, Publish, rep).Get(ctx); err != nil {
			return rep, err
		}
	}
	return rep, nil
})

// Hostname is where the workflow reads the name of the machine a batch
// starts on (in a SideEffect, so once per run). Tests that record
// histories set it to a fixed name, so that what they record is the same on
// every machine.
var Hostname = os.Hostname
