package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// SignalWithStart delivers a signal to a run, starting the run first when
// none has the ID: the same call serves the first message and every later
// one, so a sender never has to know whether the run exists yet.
func ExampleSignalWithStart() {
	var Item = workflow.NewSignal[string]("add-item")

	var Cart = workflow.New("cart", func(ctx workflow.Context, customer string) (string, error) {
		items := workflow.GetSignalChannel(ctx, Item)
		var got []string
		for len(got) < 2 {
			v, _ := items.Receive(ctx)
			got = append(got, v)
		}
		return customer + ": " + strings.Join(got, ", "), nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Cart)
	defer done()

	opts := &chorus.StartOptions{ID: "cart-ada"}
	first, _ := chorus.SignalWithStart(ctx, eng, Cart, "ada", opts, Item, "tea")   // starts the run
	second, _ := chorus.SignalWithStart(ctx, eng, Cart, "ada", opts, Item, "cups") // only signals it
	fmt.Println(first.ID() == second.ID())
	fmt.Println(second.Result(ctx))
	// Output:
	// true
	// ada: tea, cups <nil>
}

// Cancel asks a run to stop: its context is canceled, and its code decides
// what to do. Here it releases what it held, in a disconnected context that
// the cancellation does not reach, and ends as canceled.
func ExampleEngine_Cancel() {
	var Release = activity.New("release-seat", func(ctx context.Context, seat string) (string, error) {
		return "released " + seat, nil
	})
	var Hold = workflow.New("hold-seat", func(ctx workflow.Context, seat string) (string, error) {
		if err := workflow.Sleep(ctx, 24*time.Hour); !errors.Is(err, workflow.ErrCanceled) {
			return "expired", err
		}
		cleanup := workflow.NewDisconnectedContext(ctx)
		msg, err := workflow.ExecuteActivity(cleanup, Release, seat).Get(cleanup)
		if err != nil {
			return "", err
		}
		return "", fmt.Errorf("%s: %w", msg, workflow.ErrCanceled)
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Hold, Release)
	defer done()
	run, _ := chorus.Start(ctx, eng, Hold, "12A", &chorus.StartOptions{ID: "hold-12A"})
	fmt.Println(eng.Cancel(ctx, run.ID()))
	_, err := run.Result(ctx)
	fmt.Println(errors.Is(err, chorus.ErrCanceled))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// chorus: run "hold-12A" of workflow "hold-seat" was canceled: released 12A: chorus: canceled
}

// Terminate stops a run at once, without running any more of its code, and
// records the reason.
func ExampleEngine_Terminate() {
	var Never = workflow.NewSignal[struct{}]("never")
	var Wait = workflow.New("wait", func(ctx workflow.Context, _ struct{}) (string, error) {
		workflow.GetSignalChannel(ctx, Never).Receive(ctx)
		return "signaled", nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Wait)
	defer done()
	run, _ := chorus.Start(ctx, eng, Wait, struct{}{}, &chorus.StartOptions{ID: "order-7"})
	fmt.Println(eng.Terminate(ctx, run.ID(), "operator: duplicate order"))
	_, err := run.Result(ctx)
	var we *chorus.WorkflowError
	fmt.Println(errors.As(err, &we) && we.Terminated)
	fmt.Println(err)
	info, _ := run.Describe(ctx)
	fmt.Println(info.Status)
	// Output:
	// <nil>
	// true
	// chorus: run "order-7" of workflow "wait" was terminated: operator: duplicate order
	// terminated
}

// After a deploy, CheckUpgrade replays every run still in flight against
// the registered code and lists the ones the change would break, before
// any of them resumes.
func ExampleEngine_CheckUpgrade() {
	var Step = workflow.NewSignal[struct{}]("step")
	var Reserve = activity.New("reserve", func(ctx context.Context, id string) (string, error) { return "rsv-" + id, nil })
	var Charge = activity.New("charge", func(ctx context.Context, id string) (string, error) { return "ch-" + id, nil })
	order := func(first, second *activity.Definition[string, string]) *workflow.Definition[string, string] {
		return workflow.New("order", func(ctx workflow.Context, id string) (string, error) {
			a, err := workflow.ExecuteActivity(ctx, first, id).Get(ctx)
			if err != nil {
				return "", err
			}
			workflow.GetSignalChannel(ctx, Step).Receive(ctx)
			b, err := workflow.ExecuteActivity(ctx, second, id).Get(ctx)
			return a + " " + b, err
		})
	}
	v1, v2 := order(Reserve, Charge), order(Charge, Reserve) // v2 swaps the steps

	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "chorus-example")
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "orders.db")

	// The old binary: Start returns once the run's first step (scheduling
	// reserve) is durable.
	eng, _ := chorus.Open(ctx, db, &chorus.Options{Definitions: []chorus.Definition{v1, Reserve, Charge}})
	_, _ = chorus.Start(ctx, eng, v1, "o-1", &chorus.StartOptions{ID: "o-1"})
	_ = eng.Close(ctx)

	// The new binary checks before it resumes anything.
	eng, _ = chorus.Open(ctx, db, &chorus.Options{Definitions: []chorus.Definition{v2, Reserve, Charge}})
	defer eng.Close(ctx)
	divs, err := eng.CheckUpgrade(ctx)
	fmt.Println(len(divs), err)
	for _, d := range divs {
		var nde *chorus.NonDeterminismError
		if errors.As(d.Err, &nde) {
			fmt.Printf("%s (%s): step %d: journal holds %s, code %s\n", d.RunID, d.Workflow, nde.Step, nde.Recorded, nde.Issued)
		}
	}
	// Output:
	// 1 <nil>
	// o-1 (order): step 2: journal holds ActivityScheduled "reserve", code issues ActivityScheduled "charge"
}
