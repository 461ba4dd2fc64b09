package chorus_test

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

type Order struct {
	ID    string
	Cents int
}

type ChargeReq struct {
	Order string
	Cents int
}

type Receipt struct{ ID string }

type Confirmation struct {
	Order   string
	Receipt string
}

var Charge = activity.New("charge-card", func(ctx context.Context, in ChargeReq) (Receipt, error) {
	// A real activity hands the key to the payment API so that a retry
	// after a crash does not charge twice.
	key := activity.GetInfo(ctx).IdempotencyKey
	return Receipt{ID: "rcpt-" + key}, nil
})

var PlaceOrder = workflow.New("place-order", func(ctx workflow.Context, o Order) (Confirmation, error) {
	r, err := workflow.ExecuteActivity(ctx, Charge, ChargeReq{Order: o.ID, Cents: o.Cents}).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	return Confirmation{Order: o.ID, Receipt: r.ID}, nil
})

// The quick start of the README: define, register, start, wait.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "chorus-example")
	defer os.RemoveAll(dir)

	eng, err := chorus.Open(ctx, filepath.Join(dir, "orders.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		// Running activities get 10 s to finish; then they are interrupted
		// without a recorded failure and run again after the next Open.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			log.Print(err)
		}
	}()
	if err := eng.Register(PlaceOrder, Charge); err != nil {
		log.Fatal(err)
	}

	run, err := chorus.Start(ctx, eng, PlaceOrder, Order{ID: "42", Cents: 4250},
		&chorus.StartOptions{ID: "order-42", IfExists: chorus.AttachIfExists})
	if err != nil {
		log.Fatal(err)
	}
	conf, err := run.Result(ctx)
	fmt.Printf("%+v %v\n", conf, err)

	// A restarted process gets a handle to the same run by its ID.
	again, _ := chorus.Lookup(ctx, eng, PlaceOrder, "order-42")
	info, _ := again.Describe(ctx)
	fmt.Println(info.Status, info.Events, "events")
	// Output:
	// {Order:42 Receipt:rcpt-order-42/2} <nil>
	// completed 4 events
}

// Activity failures reach the workflow typed; errors cross the journal as
// data, so match on the recorded type rather than on Go error values.
func ExampleWorkflowError() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "chorus-example")
	defer os.RemoveAll(dir)

	declined := activity.New("charge-declined", func(ctx context.Context, in ChargeReq) (Receipt, error) {
		return Receipt{}, activity.NonRetryable(activity.NewError("card-declined", "card ending 4242 declined"))
	})
	pay := workflow.New("pay", func(ctx workflow.Context, o Order) (string, error) {
		_, err := workflow.ExecuteActivity(ctx, declined, ChargeReq{Order: o.ID}).Get(ctx)
		var ae *activity.Error
		if errors.As(err, &ae) && ae.Type == "card-declined" {
			return "", fmt.Errorf("order %s: ask the customer for another card: %w", o.ID, err)
		}
		return "paid", err
	})

	eng, _ := chorus.Open(ctx, filepath.Join(dir, "pay.db"), nil)
	defer eng.Close(ctx)
	_ = eng.Register(pay, declined)
	run, _ := chorus.Start(ctx, eng, pay, Order{ID: "7"}, &chorus.StartOptions{ID: "pay-7"})
	_, err := run.Result(ctx)
	fmt.Println(err)
	// Output:
	// chorus: run "pay-7" of workflow "pay" failed: order 7: ask the customer for another card: activity "charge-declined" (step 2) failed after 1 attempt(s): card-declined: card ending 4242 declined
}
