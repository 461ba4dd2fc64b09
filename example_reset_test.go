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

// A bug fails a run at its second step; once the fix is registered, Retry
// runs that step again without running the first one twice.
func ExampleEngine_Retry() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "chorus-example")
	defer os.RemoveAll(dir)

	fixed := false
	reserve := activity.New("ex-reserve", func(ctx context.Context, item string) (string, error) {
		fmt.Println("reserving", item)
		return item + " reserved", nil
	})
	ship := activity.New("ex-ship", func(ctx context.Context, item string) (string, error) {
		if !fixed {
			return "", activity.NonRetryable(errors.New("the shipping bug"))
		}
		return item + ", shipped", nil
	})
	wf := workflow.New("ex-order", func(ctx workflow.Context, item string) (string, error) {
		r, err := workflow.ExecuteActivity(ctx, reserve, item).Get(ctx)
		if err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, ship, r).Get(ctx)
	})

	eng, err := chorus.Open(ctx, filepath.Join(dir, "orders.db"), &chorus.Options{Definitions: []chorus.Definition{wf, reserve, ship}})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		eng.Close(ctx)
	}()
	run, err := chorus.Start(ctx, eng, wf, "book", &chorus.StartOptions{ID: "order-1"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := run.Result(ctx); err != nil {
		fmt.Println("failed:", errors.Unwrap(err) != nil)
	}

	fixed = true // the fix is deployed
	res, err := eng.Retry(chorus.WithIdentity(ctx, "ops"), "order-1", &chorus.RetryOptions{Reason: "shipping fixed"})
	if err != nil {
		log.Fatal(err)
	}
	out, err := run.Result(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("reset to step %d: %s\n", res.Step, out)
	// Output:
	// reserving book
	// failed: true
	// reset to step 4: book reserved, shipped
}
