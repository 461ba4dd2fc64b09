// Package billing is the workflow of the subscription program: a monthly
// subscription that charges the card, has a child workflow send the
// invoice, sleeps 30 days on a durable timer and continues as new with the
// next month, until it is canceled. It is a package of its own so that
// tests (and replay/, which replays its recorded histories) can import it.
package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// BillingPeriod is how long the workflow sleeps between two charges.
const BillingPeriod = 30 * 24 * time.Hour

var (
	Charge = activity.New("charge-subscription", func(ctx context.Context, s Subscription) (string, error) {
		// The idempotency key differs for every charge, across generations,
		// and stays the same when one charge is retried.
		key := activity.GetInfo(ctx).IdempotencyKey
		fmt.Printf("[activity] charge-subscription: month %d: charged %s to %s (idempotency key %s)\n", s.Month, Dollars(s.Cents), s.Customer, key)
		return fmt.Sprintf("CH-%s-%d", s.Customer, s.Month), nil
	})
	EmailInvoice = activity.New("email-invoice", func(ctx context.Context, inv Invoice) (string, error) {
		number := fmt.Sprintf("INV-%s-%03d", inv.Customer, inv.Month)
		fmt.Printf("[activity] email-invoice: sent %s (%s, charge %s) to %s\n", number, Dollars(inv.Cents), inv.Charge, inv.Email)
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

	say("charging %s", Dollars(s.Cents))
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

	if err := workflow.Sleep(ctx, BillingPeriod); err != nil {
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

// Dollars prints an amount in cents as dollars.
func Dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }
