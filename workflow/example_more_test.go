package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// One workflow signals another by its run ID. The future is ready once the
// signal is delivered (journaled by the receiving run).
func ExampleSignalExternal() {
	var Ready = workflow.NewSignal[string]("ready")
	var Waiter = workflow.New("waiter", func(ctx workflow.Context, _ struct{}) (string, error) {
		from, _ := workflow.GetSignalChannel(ctx, Ready).Receive(ctx)
		return "woken by " + from, nil
	})
	var Notifier = workflow.New("notifier", func(ctx workflow.Context, target string) (string, error) {
		if _, err := workflow.SignalExternal(ctx, target, Ready, workflow.GetInfo(ctx).RunID).Get(ctx); err != nil {
			return "", err
		}
		return "signaled " + target, nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Waiter, Notifier)
	defer done()
	waiter, _ := chorus.Start(ctx, eng, Waiter, struct{}{}, &chorus.StartOptions{ID: "waiter-1"})
	notifier, _ := chorus.Start(ctx, eng, Notifier, "waiter-1", &chorus.StartOptions{ID: "notifier-1"})
	fmt.Println(notifier.Result(ctx))
	fmt.Println(waiter.Result(ctx))
	// Output:
	// signaled waiter-1 <nil>
	// woken by notifier-1 <nil>
}

// Now is the time its input was recorded at, from the engine's clock: the
// same on every replay. A fake clock makes it predictable here.
func ExampleNow() {
	var Continue = workflow.NewSignal[struct{}]("continue")
	var Stamp = workflow.New("stamp", func(ctx workflow.Context, _ struct{}) (string, error) {
		started := workflow.Now(ctx) // when RunStarted was recorded
		workflow.GetSignalChannel(ctx, Continue).Receive(ctx)
		signaled := workflow.Now(ctx) // when the signal was recorded
		return fmt.Sprintf("started %s, signaled %v later", started.Format(time.DateTime), signaled.Sub(started)), nil
	})

	ctx := context.Background()
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	eng, done := exampleEngine(&chorus.Options{Clock: mock}, Stamp)
	defer done()
	run, _ := chorus.Start(ctx, eng, Stamp, struct{}{}, nil)
	mock.Add(90 * time.Minute)
	_ = chorus.Signal(ctx, eng, run.ID(), Continue, struct{}{})
	fmt.Println(run.Result(ctx))
	// Output:
	// started 2026-03-01 09:00:00, signaled 1h30m0s later <nil>
}

// WithCancel gives part of a workflow a cancellation scope of its own:
// canceling it stops what was started under it, and the rest of the run
// carries on.
func ExampleWithCancel() {
	var Race = workflow.New("race", func(ctx workflow.Context, _ struct{}) (string, error) {
		scope, cancel := workflow.WithCancel(ctx)
		reminder := workflow.NewTimer(scope, time.Hour)
		cancel() // nothing to remind of any more
		_, err := reminder.Get(ctx)
		return fmt.Sprintf("timer canceled: %v, run canceled: %v", errors.Is(err, workflow.ErrCanceled), ctx.Err() != nil), nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(nil, Race)
	defer done()
	run, _ := chorus.Start(ctx, eng, Race, struct{}{}, nil)
	fmt.Println(run.Result(ctx))
	// Output:
	// timer canceled: true, run canceled: false <nil>
}

// Logger logs through Options.Logger with the run's ID, and stays silent
// while the code replays, so each line is logged once even when the run is
// rebuilt from its journal.
func ExampleLogger() {
	var Greet = workflow.New("greet", func(ctx workflow.Context, name string) (string, error) {
		workflow.Logger(ctx).Info("greeting", "name", name)
		return "hello " + name, nil
	})

	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{} // no time stamps: the output is checked
			}
			return a
		},
	}))
	eng, done := exampleEngine(&chorus.Options{Logger: logger}, Greet)
	defer done()
	run, _ := chorus.Start(ctx, eng, Greet, "ada", &chorus.StartOptions{ID: "greet-ada"})
	fmt.Println(run.Result(ctx))
	// Output:
	// level=INFO msg=greeting run_id=greet-ada workflow=greet name=ada
	// hello ada <nil>
}
