package activity_test

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

// A long activity reports its progress with Heartbeat; when an attempt
// fails, the next one reads the last progress with HeartbeatDetails and
// resumes instead of starting over.
func ExampleHeartbeat() {
	failOnce := true
	var Import = activity.New("import-rows", func(ctx context.Context, rows int) (string, error) {
		info := activity.GetInfo(ctx)
		done := 0
		if activity.HeartbeatDetails(ctx, &done) {
			fmt.Printf("attempt %d: resuming after row %d\n", info.Attempt, done)
		}
		for done < rows {
			done++ // import one row
			activity.Heartbeat(ctx, done)
			if done == 3 && failOnce {
				failOnce = false
				fmt.Printf("attempt %d: failed after row %d\n", info.Attempt, done)
				return "", errors.New("connection reset")
			}
		}
		return fmt.Sprintf("%d rows imported in %d attempts", rows, info.Attempt), nil
	}).WithOptions(activity.Options{
		HeartbeatTimeout: time.Minute, // an attempt silent for a minute is stopped and retried
		RetryPolicy:      &activity.RetryPolicy{InitialInterval: time.Millisecond},
	})
	var Load = workflow.New("load", func(ctx workflow.Context, rows int) (string, error) {
		return workflow.ExecuteActivity(ctx, Import, rows).Get(ctx)
	})

	ctx := context.Background()
	dir, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	eng, err := chorus.Open(ctx, filepath.Join(dir, "example.db"), &chorus.Options{Definitions: []chorus.Definition{Load, Import}})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	run, _ := chorus.Start(ctx, eng, Load, 5, nil)
	fmt.Println(run.Result(ctx))
	// Output:
	// attempt 1: failed after row 3
	// attempt 2: resuming after row 3
	// 5 rows imported in 2 attempts <nil>
}
