package activity_test

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

type Email struct {
	To, Subject string
}

// An activity with nothing to return is defined with NewVoid, and workflow
// code waits for it with workflow.Wait, which returns only the error.
func ExampleNewVoid() {
	var SendEmail = activity.NewVoid("send-email", func(ctx context.Context, e Email) error {
		fmt.Printf("to %s: %s\n", e.To, e.Subject)
		return nil
	})
	var Welcome = workflow.NewVoid("welcome", func(ctx workflow.Context, user string) error {
		return workflow.Wait(ctx, workflow.ExecuteActivity(ctx, SendEmail, Email{To: user, Subject: "Welcome!"}))
	})

	ctx := context.Background()
	dir, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	eng, err := chorus.Open(ctx, filepath.Join(dir, "example.db"), &chorus.Options{Definitions: []chorus.Definition{Welcome, SendEmail}})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	run, err := chorus.Start(ctx, eng, Welcome, "ann@example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	_, err = run.Result(ctx)
	fmt.Println("error:", err)
	// Output:
	// to ann@example.com: Welcome!
	// error: <nil>
}
