package chorus_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// An activity hands its key to a person and returns "result pending"; the
// person's answer, arriving later through some handler (a webhook, a form),
// completes it by that key. The pending attempt is journaled: it is not
// retried, and a restart does not run it again.
func ExampleCompleteActivity() {
	inbox := make(chan string, 1) // stands for an e-mail with a link
	var AskManager = activity.New("ask-manager", func(ctx context.Context, expense string) (string, error) {
		inbox <- activity.GetInfo(ctx).IdempotencyKey
		return "", activity.ErrResultPending
	})
	var Expense = workflow.New("expense", func(ctx workflow.Context, expense string) (string, error) {
		decision, err := workflow.ExecuteActivity(ctx, AskManager, expense).Get(ctx)
		return expense + ": " + decision, err
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Expense, AskManager)
	defer done()

	run, _ := chorus.Start(ctx, eng, Expense, "taxi 42 EUR", &chorus.StartOptions{ID: "expense-7"})
	key := <-inbox
	fmt.Println("key:", key)

	// Later, in the handler of the manager's click:
	fmt.Println(chorus.CompleteActivity(ctx, eng, AskManager, key, "approved"))
	fmt.Println(run.Result(ctx))
	// A second answer is refused.
	err := chorus.CompleteActivity(ctx, eng, AskManager, key, "rejected")
	fmt.Println(errors.Is(err, chorus.ErrActivityCompleted))
	// Output:
	// key: expense-7/2
	// <nil>
	// taxi 42 EUR: approved <nil>
	// true
}
