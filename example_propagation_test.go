package chorus_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// Values on the context given to Start (a tenant, a request ID) reach the
// workflow code, its activities and its children, through the engine's
// context propagators. They are journaled with the run's start, so a run
// resumed after a restart sees them too.
func ExampleNewStringPropagator() {
	var Audit = activity.NewVoid("audit", func(ctx context.Context, what string) error {
		fmt.Printf("activity: tenant=%s request=%s: %s\n",
			chorus.StringValue(ctx, "tenant"), chorus.StringValue(ctx, "request-id"), what)
		return nil
	})
	var Invoice = workflow.New("invoice", func(ctx workflow.Context, n int) (string, error) {
		tenant := chorus.StringValue(ctx, "tenant")
		if err := workflow.Wait(ctx, workflow.ExecuteActivity(ctx, Audit, fmt.Sprintf("invoice %d", n))); err != nil {
			return "", err
		}
		return fmt.Sprintf("invoice %d for %s", n, tenant), nil
	})

	ctx := context.Background()
	dir, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	eng, err := chorus.Open(ctx, filepath.Join(dir, "example.db"), &chorus.Options{
		Definitions:        []chorus.Definition{Invoice, Audit},
		ContextPropagators: []chorus.ContextPropagator{chorus.NewStringPropagator("tenant", "request-id")},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)

	// Typically set by the HTTP middleware that authenticated the request.
	reqCtx := chorus.WithStringValue(ctx, "tenant", "acme")
	reqCtx = chorus.WithStringValue(reqCtx, "request-id", "req-7")
	run, err := chorus.Start(reqCtx, eng, Invoice, 42, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Result(ctx))
	// Output:
	// activity: tenant=acme request=req-7: invoice 42
	// invoice 42 for acme <nil>
}
