package activity_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// exampleEngine opens an engine on a fresh database for an example.
func exampleEngine(defs ...chorus.Definition) (*chorus.Engine, func()) {
	dir, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	eng, err := chorus.Open(ctx, filepath.Join(dir, "example.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Register(defs...); err != nil {
		log.Fatal(err)
	}
	return eng, func() { eng.Close(ctx); os.RemoveAll(dir) }
}

// With WaitForCancellation, canceling an activity's scope waits for the
// running attempt to return, so the code after Get runs after the
// activity's own cleanup.
func ExampleOptions_waitForCancellation() {
	started := make(chan struct{})
	var mu sync.Mutex
	var lines []string
	note := func(s string) { mu.Lock(); lines = append(lines, s); mu.Unlock() }
	var Upload = activity.New("upload", func(ctx context.Context, file string) (string, error) {
		close(started)
		<-ctx.Done()
		note("upload: removed partial " + file) // cleanup after the cancellation
		return "", ctx.Err()
	}).WithOptions(activity.Options{WaitForCancellation: true})
	var Abort = workflow.NewSignal[struct{}]("abort")
	var Sync = workflow.New("sync", func(ctx workflow.Context, file string) (string, error) {
		upload, cancel := workflow.WithCancel(ctx)
		f := workflow.ExecuteActivity(upload, Upload, file)
		workflow.GetSignalChannel(ctx, Abort).Receive(ctx)
		cancel()
		_, err := f.Get(ctx)
		note(fmt.Sprintf("workflow: upload ended, canceled: %v", errors.Is(err, workflow.ErrCanceled)))
		return "aborted", nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(Sync, Upload)
	defer done()

	run, _ := chorus.Start(ctx, eng, Sync, "big.iso", &chorus.StartOptions{ID: "sync-1"})
	<-started
	_ = chorus.Signal(ctx, eng, run.ID(), Abort, struct{}{})
	fmt.Println(run.Result(ctx))
	mu.Lock()
	defer mu.Unlock()
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// aborted <nil>
	// upload: removed partial big.iso
	// workflow: upload ended, canceled: true
}
