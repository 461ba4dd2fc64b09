//go:build browser

package ui_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/examples/approval/claim"
	"github.com/chorusdev/chorus/examples/quickstart/order"
	"github.com/chorusdev/chorus/examples/subscription/billing"
	"github.com/chorusdev/chorus/examples/trip-booking/trip"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

// browserStart is the fake clock's start: every timestamp the pages show
// follows from it, so the screenshots do not change from one run to the
// next.
var browserStart = time.Date(2026, time.November, 30, 9, 0, 0, 0, time.UTC)

// The runs of the fixture, by what the checks look for in them.
const (
	runOrder      = "order-1042" // completed: three activities
	runRefund     = "refund-9"   // failed: an activity that failed twice
	runRecovered  = "refund-10"  // completed: its activity's retry succeeded
	runTrip       = "trip-7"     // failed: the saga compensated, hotel then flight
	runBlocked    = "fulfil-77"  // blocked: its code changed under it
	runWaiting    = "claim-311"  // running: waits for a decision (a signal)
	runApproved   = "claim-310"  // completed: approved by a signal
	runParent     = "sub-acme"   // running: a child sent the invoice, then sleeps
	runChild      = "sub-acme/invoice-1"
	runGlobex     = "invoice-2002" // search attributes customer=globex
	refundFailure = "payment gateway timed out"
)

// browserFixture is a database filled by real runs of the examples'
// workflows and a few of its own, and the engine that owns it, still open.
type browserFixture struct {
	path string // the database file
	eng  *chorus.Engine
	// ids lists every run, children included.
	ids []string
}

// events returns the journal of a run.
func (f *browserFixture) events(t *testing.T, id string) []history.Event {
	t.Helper()
	evs, err := hook.Core(f.eng).Store().Events(context.Background(), id, 0)
	require.NoError(t, err)
	return evs
}

// waitJournal waits until the journal of a run holds an event of type
// typ: the fixture's runs that do not end are settled only then. The
// context bounds the wait; it is a guard, not a timing assumption.
func (f *browserFixture) waitJournal(ctx context.Context, t *testing.T, id string, typ history.EventType) {
	t.Helper()
	require.NoError(t, testutil.Await(ctx, f.eng, fmt.Sprintf("run %s to journal a %v event", id, typ), func() (bool, error) {
		evs, err := hook.Core(f.eng).Store().Events(ctx, id, 0)
		if errors.Is(err, history.ErrRunNotFound) {
			return false, nil
		}
		return slices.ContainsFunc(evs, func(ev history.Event) bool { return ev.Type == typ }), err
	}))
}

// newBrowserFixture fills a database with:
//   - three orders of the quickstart example, completed, of different
//     durations (order-1041..1043);
//   - a refund whose activity failed twice, after which the run failed,
//     and one whose activity succeeded at its second attempt;
//   - a trip of the trip-booking example whose saga compensated;
//   - a run started by older code that the current code no longer matches:
//     blocked, recorded vs issued;
//   - two claims of the approval example: one approved by a signal, one
//     waiting for its decision;
//   - a subscription of the subscription example, whose child sent the
//     invoice and which now sleeps for a month;
//   - three invoices with search attributes (customer, amount).
func newBrowserFixture(t *testing.T) *browserFixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	mock := clock.NewMock()
	mock.Set(browserStart)
	path := filepath.Join(t.TempDir(), "chorus.db")
	quiet := slog.New(slog.DiscardHandler) // the blocked run is expected

	// A fulfilment started by the old code: it waits an hour before
	// packing. The new code checks the stock first.
	pack := activity.New("pack-parcel", func(ctx context.Context, id string) (string, error) { return "PKG-" + id, nil })
	checkStock := activity.New("check-stock", func(ctx context.Context, id string) (bool, error) { return true, nil })
	oldFulfil := workflow.New("fulfil", func(ctx workflow.Context, id string) (string, error) {
		if err := workflow.Sleep(ctx, time.Hour); err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, pack, id).Get(ctx)
	})
	newFulfil := workflow.New("fulfil", func(ctx workflow.Context, id string) (string, error) {
		if _, err := workflow.ExecuteActivity(ctx, checkStock, id).Get(ctx); err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, pack, id).Get(ctx)
	})
	old, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock, Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, old.Register(oldFulfil, pack))
	_, err = chorus.Start(ctx, old, oldFulfil, "77", &chorus.StartOptions{ID: runBlocked})
	require.NoError(t, err)
	f := &browserFixture{path: path, ids: []string{runBlocked}}
	f.eng = old
	f.waitJournal(ctx, t, runBlocked, history.EventTimerScheduled)
	require.NoError(t, old.Close(ctx))

	// Refunds whose payment gateway times out: on both attempts of
	// refund-9, on the first of refund-10. A second attempt starts when the
	// fixture has moved the clock to the retry (the clock's timer starts it
	// on its way there).
	timeouts := map[string]int{runRefund: 2, runRecovered: 1}
	retryTime := map[string]chan struct{}{runRefund: make(chan struct{}), runRecovered: make(chan struct{})}
	refund := activity.New("refund-payment", func(ctx context.Context, cents int64) (string, error) {
		info := activity.GetInfo(ctx)
		if info.Attempt > 1 {
			select {
			case <-retryTime[info.RunID]:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		mock.Add(30 * time.Second) // the gateway's timeout
		if info.Attempt <= timeouts[info.RunID] {
			return "", activity.NewError("gateway-timeout", "%s after 30s", refundFailure)
		}
		return "RF-" + info.RunID, nil
	})
	refundWF := workflow.New("refund", func(ctx workflow.Context, cents int64) (string, error) {
		actx := workflow.WithActivityOptions(ctx, activity.Options{
			RetryPolicy: &activity.RetryPolicy{InitialInterval: time.Minute, MaximumAttempts: 2},
		})
		return workflow.ExecuteActivity(actx, refund, cents).Get(ctx)
	})

	// Invoices carry business keys as search attributes.
	customer, amount := chorus.NewKeyword("customer"), chorus.NewInt("amount")
	type invoiceIn struct {
		Customer string
		Cents    int64
	}
	invoice := workflow.New("invoice", func(ctx workflow.Context, in invoiceIn) (string, error) {
		if err := workflow.UpsertSearchAttributes(ctx, customer.Value(in.Customer), amount.Value(in.Cents)); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: %s", in.Customer, claim.Dollars(in.Cents)), nil
	})

	eng, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock, Logger: quiet})
	require.NoError(t, err)
	f.eng = eng
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, eng.Close(cctx))
	})
	require.NoError(t, eng.Register(
		newFulfil, pack, checkStock,
		order.PlaceOrder, order.Reserve, order.Charge, order.Ship,
		trip.BookTrip, trip.BookFlight, trip.BookHotel, trip.RentCar, trip.CancelHotel, trip.CancelFlight,
		claim.HandleClaim, claim.Assess, claim.Escalate, claim.Pay, claim.Reject,
		billing.Subscribe, billing.SendInvoice, billing.Charge, billing.EmailInvoice, billing.CloseAccount,
		refundWF, refund, invoice,
	))

	// The diverged run is blocked once the new code replays it, which a
	// signal makes it do.
	nudge := workflow.NewSignal[string]("nudge")
	if err := chorus.Signal(ctx, eng, runBlocked, nudge, "replay"); err != nil {
		require.ErrorIs(t, err, chorus.ErrRunBlocked)
	}
	require.NoError(t, testutil.AwaitStatus(ctx, eng, runBlocked, chorus.StatusBlocked))

	// Orders of different durations: each activity takes a few seconds of
	// fake time.
	var step time.Duration
	order.BeforeActivity = func(int) { mock.Add(step) }
	t.Cleanup(func() { order.BeforeActivity = nil })
	for i, secs := range []int{2, 5, 40} {
		step = time.Duration(secs) * time.Second
		id := fmt.Sprintf("order-%d", 1041+i)
		o := order.Order{ID: id, Item: "espresso beans 1kg", Qty: i + 1, Cents: 4250 * int64(i+1), Card: "4242"}
		r, err := chorus.Start(ctx, eng, order.PlaceOrder, o, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		_, err = r.Result(ctx)
		require.NoError(t, err)
		f.ids = append(f.ids, id)
		mock.Add(10 * time.Minute)
	}

	// The refunds: each retry waits a minute of fake time, which passes
	// once the retry is scheduled.
	refundRun := func(id string) error {
		r, err := chorus.Start(ctx, eng, refundWF, 1999, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		require.NoError(t, testutil.Await(ctx, eng, "the retry of "+id, func() (bool, error) {
			tasks, err := hook.Core(eng).Store().Tasks(ctx)
			return slices.ContainsFunc(tasks, func(tk history.Task) bool {
				return tk.RunID == id && tk.Kind == history.TaskActivity && tk.Attempt == 2
			}), err
		}))
		// The backoff is jittered, 48 to 60 s after the failure (now): the
		// clock moves by the most, which keeps the timestamps the same from
		// one test run to the next.
		mock.Set(mock.Now().Add(time.Minute))
		close(retryTime[id])
		_, err = r.Result(ctx)
		f.ids = append(f.ids, id)
		mock.Add(5 * time.Minute)
		return err
	}
	require.ErrorContains(t, refundRun(runRefund), refundFailure)
	require.NoError(t, refundRun(runRecovered))

	// The trip: the car rental fails, the hotel then the flight are
	// cancelled.
	rt, err := chorus.Start(ctx, eng, trip.BookTrip, trip.Trip{ID: runTrip, Traveler: "Ada Lovelace", From: "London", To: "Lisbon", Nights: 3},
		&chorus.StartOptions{ID: runTrip})
	require.NoError(t, err)
	_, err = rt.Result(ctx)
	require.ErrorContains(t, err, "no car available in Lisbon")
	f.ids = append(f.ids, runTrip)
	mock.Add(5 * time.Minute)

	// Two claims: one decided, one waiting for its decision.
	ra, err := chorus.Start(ctx, eng, claim.HandleClaim, claim.Claim{ID: runApproved, Claimant: "Grace Hopper", What: "water damage", Cents: 480000},
		&chorus.StartOptions{ID: runApproved})
	require.NoError(t, err)
	f.waitJournal(ctx, t, runApproved, history.EventTimerScheduled)
	mock.Add(3 * time.Hour)
	require.NoError(t, chorus.Signal(ctx, eng, runApproved, claim.Approve, claim.Decision{Approve: true, By: "ann"}))
	_, err = ra.Result(ctx)
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, claim.HandleClaim, claim.Claim{ID: runWaiting, Claimant: "Alan Turing", What: "stolen bicycle", Cents: 90000},
		&chorus.StartOptions{ID: runWaiting})
	require.NoError(t, err)
	f.waitJournal(ctx, t, runWaiting, history.EventTimerScheduled)
	f.ids = append(f.ids, runApproved, runWaiting)

	// A subscription: its first month's invoice is a child run; then it
	// sleeps for a month (the fake clock never gets there).
	_, err = chorus.Start(ctx, eng, billing.Subscribe, billing.Subscription{Customer: "acme", Email: "billing@acme.example", Cents: 4900, Month: 1},
		&chorus.StartOptions{ID: runParent})
	require.NoError(t, err)
	f.waitJournal(ctx, t, runParent, history.EventTimerScheduled)
	f.ids = append(f.ids, runParent, runChild)

	// Invoices with search attributes.
	for i, in := range []invoiceIn{{"acme", 12000}, {"globex", 98000}, {"acme", 4500}} {
		id := fmt.Sprintf("invoice-%d", 2001+i)
		r, err := chorus.Start(ctx, eng, invoice, in, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		_, err = r.Result(ctx)
		require.NoError(t, err)
		f.ids = append(f.ids, id)
		mock.Add(time.Minute)
	}
	return f
}
