package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// exampleEngine opens an engine on a fresh database for an example.
func exampleEngine(opts *chorus.Options, defs ...chorus.Definition) (*chorus.Engine, func()) {
	dir, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	eng, err := chorus.Open(ctx, filepath.Join(dir, "example.db"), opts)
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Register(defs...); err != nil {
		log.Fatal(err)
	}
	return eng, func() { eng.Close(ctx); os.RemoveAll(dir) }
}

// Workflow goroutines, a wait group and a selector: fan out, then race the
// batch against a deadline. All of it is deterministic under replay.
func ExampleGo() {
	var Square = activity.New("square", func(ctx context.Context, n int) (int, error) { return n * n, nil })

	var SumOfSquares = workflow.New("sum-of-squares", func(ctx workflow.Context, n int) (string, error) {
		results := workflow.NewBufferedChannel[int](ctx, n)
		wg := workflow.NewWaitGroup(ctx)
		for i := 1; i <= n; i++ {
			wg.Add(1)
			workflow.Go(ctx, func(ctx workflow.Context) {
				defer wg.Done()
				v, _ := workflow.ExecuteActivity(ctx, Square, i).Get(ctx)
				results.Send(ctx, v)
			})
		}
		finished := workflow.NewChannel[struct{}](ctx)
		workflow.Go(ctx, func(ctx workflow.Context) { wg.Wait(ctx); finished.Close() })

		outcome := ""
		workflow.NewSelector(ctx).
			AddReceive(finished, func() {
				sum := 0
				for results.Len() > 0 {
					v, _ := results.ReceiveAsync()
					sum += v
				}
				outcome = fmt.Sprint("sum = ", sum)
			}).
			AddFuture(workflow.NewTimer(ctx, time.Hour), func() { outcome = "deadline passed" }).
			Select(ctx)
		return outcome, nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, SumOfSquares, Square)
	defer done()
	run, _ := chorus.Start(ctx, eng, SumOfSquares, 10, nil)
	fmt.Println(run.Result(ctx))
	// Output:
	// sum = 385 <nil>
}

// Values that must not change on replay are recorded once.
func ExampleSideEffect() {
	var Ticket = workflow.New("ticket", func(ctx workflow.Context, _ struct{}) (bool, error) {
		id := workflow.NewUUID(ctx)                                                      // recorded once
		n := workflow.NewRandom(ctx).IntN(100)                                           // seed recorded once
		region := workflow.SideEffect(ctx, func() string { return os.Getenv("REGION") }) // any value, recorded once
		_ = region
		return id.String() != "" && n >= 0, nil
	})
	ctx := context.Background()
	eng, done := exampleEngine(nil, Ticket)
	defer done()
	run, _ := chorus.Start(ctx, eng, Ticket, struct{}{}, nil)
	fmt.Println(run.Result(ctx))
	// Output:
	// true <nil>
}

// A child workflow is a run of its own, started and awaited by its parent.
func ExampleExecuteChildWorkflow() {
	var Invoice = workflow.New("invoice", func(ctx workflow.Context, month int) (string, error) {
		return fmt.Sprintf("INV-2026-%02d", month), nil
	})
	var Billing = workflow.New("billing", func(ctx workflow.Context, month int) (string, error) {
		child := workflow.ExecuteChildWorkflow(ctx, Invoice, month, nil)
		inv, err := child.Get(ctx)
		return fmt.Sprintf("%s (child run %s)", inv, child.RunID()), err
	})
	ctx := context.Background()
	eng, done := exampleEngine(nil, Billing, Invoice)
	defer done()
	run, _ := chorus.Start(ctx, eng, Billing, 11, &chorus.StartOptions{ID: "billing"})
	fmt.Println(run.Result(ctx))
	// Output:
	// INV-2026-11 (child run billing/2) <nil>
}

// A loop that would grow its journal forever continues as new instead.
func ExampleContinueAsNew() {
	var Countdown = workflow.New("countdown", func(ctx workflow.Context, n int) (string, error) {
		if n == 0 {
			return "liftoff", nil
		}
		if err := workflow.Sleep(ctx, 10*time.Millisecond); err != nil {
			return "", err
		}
		// The run's own definition cannot be named here (it would refer to
		// itself), so the input alone says how to go on.
		return "", workflow.ContinueAsNewWith(ctx, n-1)
	})
	ctx := context.Background()
	eng, done := exampleEngine(nil, Countdown)
	defer done()
	run, _ := chorus.Start(ctx, eng, Countdown, 3, &chorus.StartOptions{ID: "countdown"})
	fmt.Println(run.Result(ctx))
	info, _ := eng.Describe(ctx, "countdown")
	fmt.Println(info.Events, "events in the last generation")
	// Output:
	// liftoff <nil>
	// 2 events in the last generation
}

// Cleanup runs after cancellation in a disconnected context.
func ExampleNewDisconnectedContext() {
	started := make(chan struct{})
	var Hold = activity.New("hold-seat", func(ctx context.Context, seat string) (string, error) {
		close(started)
		<-ctx.Done() // a long call, interrupted by the cancellation
		return "", ctx.Err()
	})
	var Release = activity.New("release-seat", func(ctx context.Context, seat string) (string, error) {
		return "released " + seat, nil
	})
	var Book = workflow.New("book", func(ctx workflow.Context, seat string) (string, error) {
		_, err := workflow.ExecuteActivity(ctx, Hold, seat).Get(ctx)
		if errors.Is(err, workflow.ErrCanceled) {
			cleanup := workflow.NewDisconnectedContext(ctx)
			msg, _ := workflow.ExecuteActivity(cleanup, Release, seat).Get(cleanup)
			workflow.Logger(ctx).Info(msg)
		}
		return "", err
	})
	ctx := context.Background()
	eng, done := exampleEngine(nil, Book, Hold, Release)
	defer done()
	run, _ := chorus.Start(ctx, eng, Book, "12A", nil)
	<-started
	_ = run.Cancel(ctx)
	_, err := run.Result(ctx)
	fmt.Println(errors.Is(err, chorus.ErrCanceled))
	// Output:
	// true
}

// GetVersion lets runs started on old code keep the old path after an
// upgrade, while new runs take the new one.
func ExampleGetVersion() {
	var Notify = workflow.New("notify", func(ctx workflow.Context, user string) (string, error) {
		if workflow.GetVersion(ctx, "sms-instead-of-email", workflow.DefaultVersion, 1) == 1 {
			return "sms to " + user, nil
		}
		return "email to " + user, nil
	})
	ctx := context.Background()
	eng, done := exampleEngine(nil, Notify)
	defer done()
	run, _ := chorus.Start(ctx, eng, Notify, "ada", nil)
	fmt.Println(run.Result(ctx))
	// Output:
	// sms to ada <nil>
}
