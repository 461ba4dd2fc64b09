package chorus_test

import (
	"context"
	"fmt"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// Customer and Total are search attributes: declared once, set by workflow
// code, and used to list runs.
var (
	Customer = chorus.NewKeyword("customer")
	Total    = chorus.NewInt("total")
)

// An order workflow tags its run with the customer and the order's total,
// and leaves an unindexed note in its memo; runs are then listed by
// customer and counted by total, and Describe shows both.
func ExampleNewKeyword() {
	type Order struct {
		Customer string
		Total    int64
	}
	var Checkout = workflow.New("checkout", func(ctx workflow.Context, o Order) (string, error) {
		if err := workflow.UpsertSearchAttributes(ctx, Customer.Value(o.Customer), Total.Value(o.Total)); err != nil {
			return "", err
		}
		if err := workflow.UpsertMemo(ctx, "note", "gift wrap"); err != nil {
			return "", err
		}
		return "shipped", nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Checkout)
	defer done()
	for i, o := range []Order{{"acme", 120}, {"globex", 80}, {"acme", 40}} {
		run, _ := chorus.Start(ctx, eng, Checkout, o, &chorus.StartOptions{ID: fmt.Sprintf("order-%d", i+1)})
		_, _ = run.Result(ctx)
	}

	runs, _ := eng.List(ctx, &chorus.ListOptions{Attrs: []chorus.AttrFilter{Customer.Is("acme")}})
	for _, r := range runs {
		fmt.Println(r.ID, r.Status)
	}
	n, _ := eng.Count(ctx, &chorus.ListOptions{Attrs: []chorus.AttrFilter{Total.AtLeast(50)}})
	fmt.Println("orders of 50 or more:", n)

	info, _ := eng.Describe(ctx, "order-1")
	var note string
	_ = eng.DecodeMemo(info.Memo["note"], &note)
	fmt.Println(info.SearchAttributes, note)
	// Output:
	// order-1 completed
	// order-3 completed
	// orders of 50 or more: 2
	// [customer=acme total=120] gift wrap
}
