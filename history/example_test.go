package history_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// A run's journal, exported as a chorus-history document and read back:
// the commands the code issued (ActivityScheduled, RunCompleted), each
// input that answered one (ActivityCompleted refers to its step by Ref),
// and the payloads as the codec encoded them.
func ExampleExport() {
	var Greet = activity.New("greet", func(ctx context.Context, name string) (string, error) {
		return "hello " + name, nil
	})
	var Welcome = workflow.New("welcome", func(ctx workflow.Context, name string) (string, error) {
		return workflow.ExecuteActivity(ctx, Greet, name).Get(ctx)
	})

	ctx := context.Background()
	dir, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	eng, err := chorus.Open(ctx, filepath.Join(dir, "example.db"), &chorus.Options{Definitions: []chorus.Definition{Welcome, Greet}})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	run, _ := chorus.Start(ctx, eng, Welcome, "ada", &chorus.StartOptions{ID: "welcome-ada"})
	_, _ = run.Result(ctx)

	x, err := chorus.History(ctx, eng, "welcome-ada")
	if err != nil {
		log.Fatal(err)
	}
	var doc bytes.Buffer
	if err := x.Encode(&doc); err != nil { // what a file in replay's testdata holds
		log.Fatal(err)
	}
	back, err := history.DecodeExport(&doc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Run.ID, back.Run.Workflow, back.Run.Status)
	for _, ev := range back.Events {
		fmt.Printf("%d %s %q ref=%d %s\n", ev.Seq, ev.Type, ev.Name, ev.Ref, ev.Payload)
	}
	// Output:
	// welcome-ada welcome completed
	// 1 RunStarted "welcome" ref=0 "ada"
	// 2 ActivityScheduled "greet" ref=0 "ada"
	// 3 ActivityCompleted "greet" ref=2 "hello ada"
	// 4 RunCompleted "" ref=0 "hello ada"
}
