package chorus_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// A nightly report reuses its run ID every night: the run of the night
// before has ended, so IDReuseAllowDuplicate lets a new run take the ID.
// With the default policy of Start, a second start under an ID is refused,
// so an ID doubles as an idempotency key.
func ExampleIDReusePolicy() {
	var Report = workflow.New("report", func(ctx workflow.Context, night string) (string, error) {
		return "report for " + night, nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Report)
	defer done()

	first, _ := chorus.Start(ctx, eng, Report, "monday", &chorus.StartOptions{ID: "nightly-report"})
	fmt.Println(first.Result(ctx))

	_, err := chorus.Start(ctx, eng, Report, "tuesday", &chorus.StartOptions{ID: "nightly-report"})
	fmt.Println(errors.Is(err, chorus.ErrRunExists))

	second, _ := chorus.Start(ctx, eng, Report, "tuesday",
		&chorus.StartOptions{ID: "nightly-report", IDReusePolicy: chorus.IDReuseAllowDuplicate})
	fmt.Println(second.Result(ctx))
	// Output:
	// report for monday <nil>
	// true
	// report for tuesday <nil>
}
