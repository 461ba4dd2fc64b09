package chorustest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

var CheckCredit = activity.New("check-credit", func(ctx context.Context, customer string) (bool, error) {
	return false, fmt.Errorf("would call the credit bureau about %s", customer) // not in a unit test
})

// ApplyForLoan gives the credit check a day, then decides by hand.
var ApplyForLoan = workflow.New("apply-for-loan", func(ctx workflow.Context, customer string) (string, error) {
	check := workflow.ExecuteActivity(ctx, CheckCredit, customer)
	deadline := workflow.NewTimer(ctx, 24*time.Hour)
	workflow.Await(ctx, func() bool { return check.IsReady() || deadline.IsReady() })
	if !check.IsReady() {
		return "manual review", nil
	}
	ok, err := check.Get(ctx)
	return fmt.Sprintf("approved=%v", ok), err
})

// A mock that takes fake time to answer: a credit bureau that answers in
// two hours, then one that takes two days, past the workflow's deadline.
func ExampleActivityMock_After() {
	t := &exampleTB{}
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{ApplyForLoan, CheckCredit}})
	chorustest.OnActivity(env, CheckCredit).Once().After(2*time.Hour).Return(true, nil)
	got, _ := chorustest.Result(env, chorustest.Start(env, ApplyForLoan, "ann", nil))
	fmt.Printf("+%v: %s\n", env.Elapsed(), got)

	chorustest.OnActivity(env, CheckCredit).After(48*time.Hour).Return(true, nil)
	got, _ = chorustest.Result(env, chorustest.Start(env, ApplyForLoan, "bob", nil))
	fmt.Printf("+%v: %s\n", env.Elapsed(), got)
	t.finish()
	// Output:
	// +2h0m0s: approved=true
	// +26h0m0s: manual review
}

var Released = workflow.NewSignal[string]("released")

// ShipParcel tells the order's run that its parcel left the warehouse.
var ShipParcel = workflow.New("ship-parcel", func(ctx workflow.Context, order string) (string, error) {
	if err := workflow.Wait(ctx, workflow.SignalExternal(ctx, order, Released, "parcel-1")); err != nil {
		return "", err
	}
	return "shipped " + order, nil
})

// Signals to other runs are mocked with OnSignalExternal: the order run
// need not exist in the test.
func ExampleOnSignalExternal() {
	t := &exampleTB{}
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{ShipParcel}})
	released := chorustest.OnSignalExternal(env, Released).Return(nil)
	got, err := chorustest.Result(env, chorustest.Start(env, ShipParcel, "order-9", nil))
	fmt.Println(got, err, released.Targets(), released.Values())
	t.finish()
	// Output:
	// shipped order-9 <nil> [order-9] [parcel-1]
}
