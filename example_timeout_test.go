package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// An order waits for its payment for at most a week: the execution timeout
// ends the run, whatever its code waits for, once the week has passed. A
// fake clock makes the week pass at once.
func ExampleStartOptions_timeout() {
	var Paid = workflow.NewSignal[string]("paid")
	var Order = workflow.New("order", func(ctx workflow.Context, id string) (string, error) {
		ref, _ := workflow.GetSignalChannel(ctx, Paid).Receive(ctx)
		return id + " paid with " + ref, nil
	})

	ctx := context.Background()
	mock := clock.NewMock()
	eng, done := exampleEngine(&chorus.Options{Clock: mock}, Order)
	defer done()

	run, _ := chorus.Start(ctx, eng, Order, "order-1", &chorus.StartOptions{ID: "order-1", ExecutionTimeout: 7 * 24 * time.Hour})
	mock.Add(7 * 24 * time.Hour)

	_, err := run.Result(ctx)
	var we *chorus.WorkflowError
	fmt.Println(errors.Is(err, chorus.ErrWorkflowTimeout), errors.As(err, &we) && we.TimedOut)
	info, _ := eng.Describe(ctx, "order-1")
	fmt.Println(info.Status)
	// Output:
	// true true
	// timed-out
}
