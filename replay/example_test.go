package replay_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// Record a run's history, then check that new code still replays it: the
// same check a CI gate runs over histories exported from production with
// replay.Dir or replay.Test.
func ExampleRun() {
	ctx := context.Background()
	greet := activity.New("greet", func(ctx context.Context, name string) (string, error) { return "hello " + name, nil })
	shout := activity.New("shout", func(ctx context.Context, s string) (string, error) { return s + "!", nil })
	v1 := workflow.New("welcome", func(ctx workflow.Context, name string) (string, error) {
		return workflow.ExecuteActivity(ctx, greet, name).Get(ctx)
	})

	dir, _ := os.MkdirTemp("", "chorus-replay")
	defer os.RemoveAll(dir)
	eng, _ := chorus.Open(ctx, filepath.Join(dir, "prod.db"), &chorus.Options{Definitions: []chorus.Definition{v1, greet}})
	run, _ := chorus.Start(ctx, eng, v1, "ada", &chorus.StartOptions{ID: "welcome-ada"})
	_, _ = run.Result(ctx)
	h, _ := chorus.History(ctx, eng, "welcome-ada") // h.Encode(file) writes the JSON format
	_ = eng.Close(ctx)

	fmt.Println("same code:", replay.Run(ctx, h, v1, greet))

	v2 := workflow.New("welcome", func(ctx workflow.Context, name string) (string, error) {
		return workflow.ExecuteActivity(ctx, shout, name).Get(ctx) // a different first step
	})
	err := replay.Run(ctx, h, v2, greet, shout)
	var nde *chorus.NonDeterminismError
	if errors.As(err, &nde) {
		fmt.Printf("changed code: step %d: journal holds %s, code %s\n", nde.Step, nde.Recorded, nde.Issued)
	}
	// Output:
	// same code: <nil>
	// changed code: step 2: journal holds ActivityScheduled "greet", code issues ActivityScheduled "shout"
}
