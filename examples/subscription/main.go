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
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

type (
	// Subscription is the workflow's input. Everything a generation needs
	// from the previous ones travels in it, since the journal does not.
	Subscription struct {
		Customer, Email string
		Cents           int64 // monthly price
		Month           int   // the month this generation bills, from 1
		BilledCents     int64 // billed in earlier months
	}
	Invoice struct {
		Customer, Email, Charge string
		Month                   int
		Cents                   int64
	}
	Status struct {
		Month       int
		Stage       string
		BilledCents int64
	}
)

var StatusQuery = workflow.NewQuery[struct{}, Status]("status")

// billingPeriod is how long the workflow sleeps between two charges.
const billingPeriod = 30 * 24 * time.Hour

var (
	Charge = activity.New("charge-card", func(ctx context.Context, s Subscription) (string, error) {
		// The idempotency key differs for every charge, across generations,
		// and stays the same when one charge is retried.
		key := activity.GetInfo(ctx).IdempotencyKey
		fmt.Printf("[activity] charge-card: month %d: charged %s to %s (idempotency key %s)\n", s.Month, dollars(s.Cents), s.Customer, key)
		return fmt.Sprintf("CH-%s-%d", s.Customer, s.Month), nil
	})
	EmailInvoice = activity.New("email-invoice", func(ctx context.Context, inv Invoice) (string, error) {
		number := fmt.Sprintf("INV-%s-%03d", inv.Customer, inv.Month)
		fmt.Printf("[activity] email-invoice: sent %s (%s, charge %s) to %s\n", number, dollars(inv.Cents), inv.Charge, inv.Email)
		return number, nil
	})
	CloseAccount = activity.New("close-account", func(ctx context.Context, s Subscription) (struct{}, error) {
		fmt.Printf("[activity] close-account: revoked %s's access and deleted the card on file\n", s.Customer)
		return struct{}{}, nil
	})
)

// SendInvoice is a child workflow: a run of its own, with its own journal
// and ID, that the parent starts and waits for.
var SendInvoice = workflow.New("send-invoice", func(ctx workflow.Context, inv Invoice) (string, error) {
	return workflow.ExecuteActivity(ctx, EmailInvoice, inv).Get(ctx)
})

// Subscribe is the billing workflow. It is assigned in init because its
// function names it (to continue as new): a package-level initializer that
// refers to its own variable is an initialization cycle in Go.
var Subscribe *workflow.Definition[Subscription, Status]

func init() { Subscribe = workflow.New("subscription", subscribe) }

func subscribe(ctx workflow.Context, s Subscription) (Status, error) {
	say := func(format string, args ...any) {
		if !workflow.IsReplaying(ctx) {
			fmt.Printf("[workflow] %s month %d: %s\n", workflow.Now(ctx).Format("2006-01-02"), s.Month, fmt.Sprintf(format, args...))
		}
	}
	st := Status{Month: s.Month, Stage: "charging", BilledCents: s.BilledCents}
	workflow.SetQueryHandler(ctx, StatusQuery, func(struct{}) (Status, error) { return st, nil })

	say("charging %s", dollars(s.Cents))
	charge, err := workflow.ExecuteActivity(ctx, Charge, s).Get(ctx)
	if err != nil {
		return st, err
	}
	st.BilledCents += s.Cents
	st.Stage = "invoicing"
	// The child's ID names the month, so each invoice run can be looked up
	// (chorus.Lookup) by an ID that means something.
	inv := Invoice{Customer: s.Customer, Email: s.Email, Charge: charge, Month: s.Month, Cents: s.Cents}
	childID := fmt.Sprintf("%s/invoice-%d", workflow.GetInfo(ctx).RunID, s.Month)
	number, err := workflow.ExecuteChildWorkflow(ctx, SendInvoice, inv, &workflow.ChildOptions{ID: childID}).Get(ctx)
	if err != nil {
		return st, err
	}
	st.Stage = "sleeping"
	say("invoice %s sent by child run %s; sleeping 30 days", number, childID)

	if err := workflow.Sleep(ctx, billingPeriod); err != nil {
		if !errors.Is(err, workflow.ErrCanceled) {
			return st, err
		}
		// The run was canceled, and ctx with it: an activity started under
		// ctx would fail at once without running. A disconnected context
		// keeps ctx's values and options but not its cancellation, so the
		// cleanup runs (and is retried, and survives a crash) as usual.
		say("subscription canceled: closing the account")
		st.Stage = "closing"
		cleanup := workflow.NewDisconnectedContext(ctx)
		if _, err := workflow.ExecuteActivity(cleanup, CloseAccount, s).Get(cleanup); err != nil {
			return st, err
		}
		st.Stage = "closed"
		return st, workflow.ErrCanceled // the run ends as canceled
	}

	// Start the next month as a new generation of the same run: same run
	// ID, an empty journal, and the input below as all it remembers.
	next := s
	next.Month++
	next.BilledCents = st.BilledCents
	return st, workflow.ContinueAsNew(ctx, Subscribe, next)
}

func dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

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
	defer eng.Close(ctx)
	if err := eng.Register(Subscribe, SendInvoice, Charge, EmailInvoice, CloseAccount); err != nil {
		return err
	}

	const id = "sub-acme"
	r, err := chorus.Start(ctx, eng, Subscribe, Subscription{Customer: "acme", Email: "billing@acme.example", Cents: 4900, Month: 1},
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
		mock.Add(billingPeriod)
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
	st, err := chorus.Query(ctx, eng, id, StatusQuery, struct{}{})
	if err != nil {
		return err
	}
	info, err := eng.Describe(ctx, id)
	if err != nil {
		return err
	}
	fmt.Printf("result: %s %s after month %d, %s billed in all\n", id, info.Status, st.Month, dollars(st.BilledCents))
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
		st, err := chorus.Query(ctx, eng, id, StatusQuery, struct{}{})
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
