package chorus_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// An update changes a running workflow and returns a result: here an order
// takes extra items until it is closed. The validator refuses a bad request
// before anything is journaled; the handler runs as workflow code and may
// execute activities. The same update ID twice returns the recorded result.
func ExampleUpdate() {
	type AddItem struct {
		SKU string
		Qty int
	}
	var Add = workflow.NewUpdate[AddItem, int]("add-item") // returns the new item count
	var Close = workflow.NewSignal[struct{}]("close")
	var Reserve = activity.New("reserve", func(_ context.Context, it AddItem) (int, error) {
		return it.Qty, nil // a call to the warehouse
	})

	var Order = workflow.New("order", func(ctx workflow.Context, _ string) (int, error) {
		items := 0
		workflow.SetUpdateHandler(ctx, Add, func(ctx workflow.Context, it AddItem) (int, error) {
			n, err := workflow.ExecuteActivity(ctx, Reserve, it).Get(ctx)
			if err != nil {
				return 0, err
			}
			items += n
			return items, nil
		}, &workflow.UpdateOptions[AddItem]{Validator: func(it AddItem) error {
			if it.Qty <= 0 {
				return errors.New("quantity must be positive")
			}
			return nil
		}})
		workflow.GetSignalChannel(ctx, Close).Receive(ctx)
		// Let running handlers finish before the run ends.
		workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return items, nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Order, Reserve)
	defer done()
	run, _ := chorus.Start(ctx, eng, Order, "", &chorus.StartOptions{ID: "order-1"})

	fmt.Println(chorus.UpdateWithID(ctx, eng, "order-1", "req-1", Add, AddItem{SKU: "apple", Qty: 3}))
	fmt.Println(chorus.UpdateWithID(ctx, eng, "order-1", "req-1", Add, AddItem{SKU: "apple", Qty: 3})) // a retry
	_, err := chorus.Update(ctx, eng, "order-1", Add, AddItem{SKU: "pear", Qty: 0})
	var rej *chorus.UpdateRejectedError
	fmt.Println(errors.As(err, &rej), rej.Err)
	fmt.Println(chorus.Update(ctx, eng, "order-1", Add, AddItem{SKU: "pear", Qty: 2}))

	_ = chorus.Signal(ctx, eng, "order-1", Close, struct{}{})
	fmt.Println(run.Result(ctx))
	// Output:
	// 3 <nil>
	// 3 <nil>
	// true quantity must be positive
	// 5 <nil>
	// 5 <nil>
}
