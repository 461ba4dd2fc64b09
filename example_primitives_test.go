package chorus_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// exampleEngine opens an engine on a fresh database for an example.
func exampleEngine(opts *chorus.Options, defs ...chorus.Definition) (*chorus.Engine, func()) {
	dir, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	eng, err := chorus.Open(ctx, filepath.Join(dir, "example.db"), opts)
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Register(defs...); err != nil {
		log.Fatal(err)
	}
	return eng, func() { eng.Close(ctx); os.RemoveAll(dir) }
}

// A claim waits up to 48 hours for a person's decision: a signal raced
// against a durable timer. A fake clock makes the 48 hours pass at once.
func ExampleSignal_approvalWithTimeout() {
	type Decision struct{ Approved bool }
	var Approve = workflow.NewSignal[Decision]("approve")

	var Claim = workflow.New("claim", func(ctx workflow.Context, id string) (string, error) {
		d, ok := workflow.GetSignalChannel(ctx, Approve).ReceiveWithTimeout(ctx, 48*time.Hour)
		switch {
		case !ok:
			return id + ": no decision within 48h, escalated", nil
		case d.Approved:
			return id + ": approved", nil
		}
		return id + ": rejected", nil
	})

	ctx := context.Background()
	mock := clock.NewMock()
	eng, done := exampleEngine(&chorus.Options{Clock: mock}, Claim)
	defer done()

	a, _ := chorus.Start(ctx, eng, Claim, "claim-a", &chorus.StartOptions{ID: "claim-a"})
	b, _ := chorus.Start(ctx, eng, Claim, "claim-b", &chorus.StartOptions{ID: "claim-b"})
	mock.Add(3 * time.Hour)
	_ = chorus.Signal(ctx, eng, "claim-a", Approve, Decision{Approved: true})
	mock.Add(45 * time.Hour)

	for _, r := range []*chorus.Run[string]{a, b} {
		fmt.Println(r.Result(ctx))
	}
	// Output:
	// claim-a: approved <nil>
	// claim-b: no decision within 48h, escalated <nil>
}

// Queries read a run's state without changing its journal.
func ExampleQuery() {
	var Progress = workflow.NewQuery[struct{}, string]("progress")
	var Next = workflow.NewSignal[struct{}]("next")

	var Steps = workflow.New("steps", func(ctx workflow.Context, n int) (int, error) {
		done := 0
		workflow.SetQueryHandler(ctx, Progress, func(struct{}) (string, error) {
			return fmt.Sprintf("%d of %d steps done", done, n), nil
		})
		for done < n {
			workflow.GetSignalChannel(ctx, Next).Receive(ctx)
			done++
		}
		return done, nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Steps)
	defer done()
	_, _ = chorus.Start(ctx, eng, Steps, 3, &chorus.StartOptions{ID: "job-1"})
	_ = chorus.Signal(ctx, eng, "job-1", Next, struct{}{})
	fmt.Println(chorus.Query(ctx, eng, "job-1", Progress, struct{}{}))
	// Output:
	// 1 of 3 steps done <nil>
}
