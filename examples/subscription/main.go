// Command subscription bills a monthly subscription with a workflow that
// never ends on its own: each month it charges the card, has a child
// workflow send the invoice, sleeps 30 days on a durable timer, and then
// continues as new with the next month. Continuing as new starts the run's
// journal over, so a subscription in its tenth year replays as fast as in
// its first month instead of dragging 120 months of history along.
//
// The program runs on a fake clock that it moves forward 30 days at a time,
// then cancels the subscription; the workflow closes the account in a
// disconnected context, which the cancellation does not reach.
//
//	go run ./examples/subscription
//	go run ./examples/subscription -months 12
//
// The workflows and activities are in package billing, beside this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/subscription/billing"
)

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "chorus-subscription.db"), "journal database `file` (recreated on each run)")
	months := flag.Int("months", 3, "cancel the subscription after this many monthly bills")
	flag.Parse()
	if *months < 1 {
		fmt.Fprintln(os.Stderr, "subscription: -months must be at least 1")
		os.Exit(2)
	}
	if err := run(*db, *months); err != nil {
		fmt.Fprintln(os.Stderr, "subscription:", err)
		os.Exit(1)
	}
}

func run(db string, months int) error {
	ctx := context.Background()
	// The demo plays a fixed timeline on a fake clock, so it starts from an
	// empty journal every time.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	mock := clock.NewMock()
	mock.Set(time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC))
	fmt.Println("database:", db)
	fmt.Printf("[clock] fake clock set to %s; the program moves it forward, nothing really waits\n", mock.Now().Format("2006-01-02"))

	eng, err := chorus.Open(ctx, db, &chorus.Options{Clock: mock})
	if err != nil {
		return err
	}
	defer closeEngine(eng)
	if err := eng.Register(billing.Subscribe, billing.SendInvoice, billing.Charge, billing.EmailInvoice, billing.CloseAccount); err != nil {
		return err
	}

	const id = "sub-acme"
	r, err := chorus.Start(ctx, eng, billing.Subscribe, billing.Subscription{Customer: "acme", Email: "billing@acme.example", Cents: 4900, Month: 1},
		&chorus.StartOptions{ID: id})
	if err != nil {
		return err
	}
	for month := 1; ; month++ {
		if err := waitForSleep(ctx, eng, id, month); err != nil {
			return err
		}
		info, err := eng.Describe(ctx, id)
		if err != nil {
			return err
		}
		fmt.Printf("[journal] %s: %d events in the current generation\n", id, info.Events)
		if month == months {
			break
		}
		fmt.Println("[clock] moving the fake clock 30 days ahead")
		mock.Add(billing.BillingPeriod)
	}

	// Cancel the run while it sleeps: the timer is canceled, Sleep returns
	// ErrCanceled, and the workflow cleans up before it ends.
	fmt.Printf("[person] the customer cancels after %d months: chorus.Cancel(%q)\n", months, id)
	if err := eng.Cancel(ctx, id); err != nil {
		return err
	}
	if _, err := r.Result(ctx); !errors.Is(err, chorus.ErrCanceled) {
		return fmt.Errorf("want the run canceled, got %v", err)
	}
	st, err := chorus.Query(ctx, eng, id, billing.StatusQuery, struct{}{})
	if err != nil {
		return err
	}
	info, err := eng.Describe(ctx, id)
	if err != nil {
		return err
	}
	fmt.Printf("result: %s %s after month %d, %s billed in all\n", id, info.Status, st.Month, billing.Dollars(st.BilledCents))
	fmt.Printf("[journal] %s: %d events in its last generation, however many months came before: continue-as-new keeps it short\n", id, info.Events)
	return nil
}

// waitForSleep polls the status query until the run sleeps in month. The
// demo needs it before moving the fake clock: a timer exists once the step
// that created it is committed, and a query is answered only after that
// commit, so a run that says it sleeps has its timer armed. (With a real
// clock there is nothing to wait for.)
func waitForSleep(ctx context.Context, eng *chorus.Engine, id string, month int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		st, err := chorus.Query(ctx, eng, id, billing.StatusQuery, struct{}{})
		if err != nil {
			return fmt.Errorf("waiting for %s to sleep in month %d: %w", id, month, err)
		}
		if st.Month == month && st.Stage == "sleeping" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is %q in month %d, want sleeping in month %d: %w", id, st.Stage, st.Month, month, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// closeEngine gives running activities up to 10 seconds to finish; then
// they are interrupted without a recorded failure and run again after the
// next Open.
func closeEngine(eng *chorus.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "subscription: close:", err)
	}
}
