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

// A queue caps a partner API at 10 calls per second across every run, and
// lets at most 2 payments run at once, one per customer, lowest priority
// number first.
func Example_queues() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "chorus-queues")
	defer os.RemoveAll(dir)

	release := make(chan struct{}) // holds the partner call until the example lets it go
	callPartner := activity.New("call-partner", func(ctx context.Context, order string) (string, error) {
		<-release
		return "ok:" + order, nil
	}).WithOptions(activity.Options{Queue: "partner-api"})
	pay := workflow.New("pay", func(ctx workflow.Context, order string) (string, error) {
		return workflow.ExecuteActivity(ctx, callPartner, order).Get(ctx)
	})

	eng, err := chorus.Open(ctx, filepath.Join(dir, "pay.db"), &chorus.Options{
		Definitions: []chorus.Definition{pay, callPartner},
		Queues: []chorus.Queue{
			{Name: "payments", Concurrency: 2, PartitionConcurrency: 1},
			{Name: "partner-api", RateLimit: &chorus.RateLimit{Limit: 10, Period: time.Second}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)

	run, err := chorus.Start(ctx, eng, pay, "order-1", &chorus.StartOptions{
		Queue: "payments", Priority: 1, PartitionKey: "customer-42", DedupID: "order-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	// While order-1 has not ended, its deduplication ID is taken.
	_, err = chorus.Start(ctx, eng, pay, "order-1", &chorus.StartOptions{Queue: "payments", PartitionKey: "customer-42", DedupID: "order-1"})
	fmt.Println(errors.Is(err, chorus.ErrQueueDuplicate))

	close(release)
	out, err := run.Result(ctx)
	fmt.Println(out, err)
	// Output:
	// true
	// ok:order-1 <nil>
}
