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

// Purge deletes the runs that ended before a cutoff, with their history;
// a run that has not ended stays whatever its age. (Options.Retention does
// the same in the background.) A purged run's ID is free again.
func ExampleEngine_Purge() {
	var Greet = workflow.New("greet", func(ctx workflow.Context, name string) (string, error) {
		return "hello " + name, nil
	})
	var proceed = workflow.NewSignal[string]("proceed")
	var Wait = workflow.New("wait", func(ctx workflow.Context, _ string) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, proceed).Receive(ctx)
		return v, nil
	})

	ctx := context.Background()
	clk := clock.NewMock() // the engine's clock dates each run's end
	eng, done := exampleEngine(&chorus.Options{Clock: clk}, Greet, Wait)
	defer done()

	old, _ := chorus.Start(ctx, eng, Greet, "ada", &chorus.StartOptions{ID: "greet-ada"})
	fmt.Println(old.Result(ctx))
	chorus.Start(ctx, eng, Wait, "", &chorus.StartOptions{ID: "waiting"})

	clk.Add(48 * time.Hour)
	recent, _ := chorus.Start(ctx, eng, Greet, "bob", &chorus.StartOptions{ID: "greet-bob"})
	fmt.Println(recent.Result(ctx))

	n, err := eng.Purge(ctx, chorus.PurgeOptions{FinishedBefore: clk.Now().Add(-24 * time.Hour)})
	fmt.Println("purged", n, err)
	for _, id := range []string{"greet-ada", "waiting", "greet-bob"} {
		info, err := eng.Describe(ctx, id)
		if errors.Is(err, chorus.ErrRunNotFound) {
			fmt.Println(id, "gone")
			continue
		}
		fmt.Println(id, info.Status)
	}
	again, _ := chorus.Start(ctx, eng, Greet, "ada again", &chorus.StartOptions{ID: "greet-ada"})
	fmt.Println(again.Result(ctx))
	// Output:
	// hello ada <nil>
	// hello bob <nil>
	// purged 1 <nil>
	// greet-ada gone
	// waiting running
	// greet-bob completed
	// hello ada again <nil>
}
