package replay_test

import (
	"bytes"
	"context"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/examples/approval/claim"
	"github.com/chorusdev/chorus/examples/subscription/billing"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/replay"
)

var update = flag.Bool("update", false, "record the golden histories in testdata/ again")

// goldenDir holds the golden histories. Each is what a run of an example
// workflow recorded; they are recorded again only with -update, when a
// change of the examples is meant to break old runs. Replaying them on
// every test run is the CI gate: a change of the workflow code that old
// runs would not survive fails TestGoldenHistoriesReplay.
const goldenDir = "testdata"

// goldens records each golden history.
var goldens = []struct {
	name   string
	record func(t *testing.T) *history.Export
}{
	{"place-order", func(t *testing.T) *history.Export {
		r := newRecorder(t, PlaceOrder, Reserve, Charge, Ship)
		order := Order{ID: "order-42", Item: "espresso beans 1kg", Qty: 2, Cents: 4250, Card: "4242"}
		run, err := chorus.Start(r.ctx, r.eng, PlaceOrder, order, &chorus.StartOptions{ID: order.ID})
		require.NoError(t, err)
		conf, err := run.Result(r.ctx)
		require.NoError(t, err)
		require.Equal(t, Confirmation{OrderID: "order-42", Reservation: "RSV-order-42", Charge: "CH-order-42", Tracking: "TRK-order-42"}, conf)
		return r.export(order.ID)
	}},
	{"place-order-in-flight", func(t *testing.T) *history.Export {
		// The quickstart run killed while shipping: its journal ends with
		// the ship-order activity scheduled and not completed.
		started := make(chan struct{}, 1)
		slowShip := activity.New(Ship.Name(), func(ctx context.Context, o Order) (Shipment, error) {
			started <- struct{}{}
			<-ctx.Done() // until the recorder closes the engine
			return Shipment{}, ctx.Err()
		})
		r := newRecorder(t, PlaceOrder, Reserve, Charge, slowShip)
		order := Order{ID: "order-43", Item: "filter papers", Qty: 1, Cents: 599, Card: "1881"}
		_, err := chorus.Start(r.ctx, r.eng, PlaceOrder, order, &chorus.StartOptions{ID: order.ID})
		require.NoError(t, err)
		select {
		case <-started:
		case <-time.After(testTimeout):
			t.Fatal("timed out waiting for ship-order to start")
		}
		return r.export(order.ID)
	}},
	{"handle-claim-approved", func(t *testing.T) *history.Export {
		// Claim A of examples/approval: approved 3 hours in.
		r := newRecorder(t, HandleClaim, Assess, Escalate, Pay, Reject)
		c := Claim{ID: "claim-A", Claimant: "Jo Park", What: "burst pipe", Cents: 240000}
		run, err := chorus.Start(r.ctx, r.eng, HandleClaim, c, &chorus.StartOptions{ID: c.ID})
		require.NoError(t, err)
		r.waitLast(c.ID, history.EventTimerScheduled)
		r.mock.Add(3 * time.Hour)
		require.NoError(t, chorus.Signal(r.ctx, r.eng, c.ID, Approve, Decision{Approve: true, By: "Ana (adjuster)"}))
		out, err := run.Result(r.ctx)
		require.NoError(t, err)
		require.Equal(t, "paid $2150.00", out.Result)
		return r.export(c.ID)
	}},
	{"handle-claim-escalated", func(t *testing.T) *history.Export {
		// Claim B of examples/approval: nobody decides in 48 hours, it is
		// escalated, and the manager approves 2 hours later.
		r := newRecorder(t, HandleClaim, Assess, Escalate, Pay, Reject)
		c := Claim{ID: "claim-B", Claimant: "Sam Ortiz", What: "hail damage", Cents: 910000}
		run, err := chorus.Start(r.ctx, r.eng, HandleClaim, c, &chorus.StartOptions{ID: c.ID})
		require.NoError(t, err)
		r.waitLast(c.ID, history.EventTimerScheduled)
		r.mock.Add(claim.DecisionTimeout)
		r.waitFor("the second wait of claim-B", func() bool { return len(r.export(c.ID).Events) == 8 })
		r.mock.Add(2 * time.Hour)
		require.NoError(t, chorus.Signal(r.ctx, r.eng, c.ID, Approve, Decision{Approve: true, By: "Mo (claims manager)"}))
		out, err := run.Result(r.ctx)
		require.NoError(t, err)
		require.Equal(t, "Mo (claims manager)", out.DecidedBy)
		return r.export(c.ID)
	}},
	{"run-batch", func(t *testing.T) *history.Export {
		// examples/fanout with 3 items, all done before the deadline.
		r := newRecorder(t, RunBatch, Process, Publish)
		run, err := chorus.Start(r.ctx, r.eng, RunBatch, Batch{Items: 3, Deadline: time.Hour}, &chorus.StartOptions{ID: "batch-1"})
		require.NoError(t, err)
		rep, err := run.Result(r.ctx)
		require.NoError(t, err)
		require.Equal(t, 1+4+9, rep.Total)
		return r.export("batch-1")
	}},
	{"subscription", func(t *testing.T) *history.Export {
		// examples/subscription: three months billed, each generation
		// continuing as new, then canceled while it sleeps: it closes the
		// account and ends canceled.
		r := newRecorder(t, Subscribe, SendInvoice, ChargeMonth, EmailInvoice, CloseAccount)
		const id = "sub-acme"
		run, err := chorus.Start(r.ctx, r.eng, Subscribe, Subscription{Customer: "acme", Email: "billing@acme.example", Cents: 4900, Month: 1},
			&chorus.StartOptions{ID: id})
		require.NoError(t, err)
		for month := 1; ; month++ {
			r.waitLast(id, history.EventTimerScheduled)
			if month == 3 {
				break
			}
			r.mock.Add(billing.BillingPeriod)
		}
		require.NoError(t, r.eng.Cancel(r.ctx, id))
		_, err = run.Result(r.ctx)
		require.ErrorIs(t, err, chorus.ErrCanceled)
		return r.export(id)
	}},
	{"book-trip", func(t *testing.T) *history.Export {
		// examples/trip-booking: the car rental fails, the hotel and then
		// the flight are canceled.
		r := newRecorder(t, BookTrip, BookFlight, BookHotel, RentCar, CancelHotel, CancelFlight)
		tr := Trip{ID: "trip-7", Traveler: "Ada Lovelace", From: "London", To: "Lisbon", Nights: 3}
		run, err := chorus.Start(r.ctx, r.eng, BookTrip, tr, &chorus.StartOptions{ID: tr.ID})
		require.NoError(t, err)
		_, err = run.Result(r.ctx)
		require.ErrorContains(t, err, "saga compensated 2 step(s)")
		return r.export(tr.ID)
	}},
	{"checkout", func(t *testing.T) *history.Export {
		// examples/tracing: the card gateway times out on the first
		// attempt, the retry succeeds, a durable timer, then shipping.
		r := newRecorder(t, Checkout, CheckoutReserve, CheckoutCharge, CheckoutShip)
		run, err := chorus.Start(r.ctx, r.eng, Checkout, 4250, &chorus.StartOptions{ID: "checkout-1"})
		require.NoError(t, err)
		// The retry of charge waits for its backoff, then the workflow
		// sleeps: move the fake clock past each wait until the run ends.
		for {
			r.waitFor("checkout-1 to wait on the clock or end", func() bool { return true })
			info, err := r.eng.Describe(r.ctx, "checkout-1")
			require.NoError(t, err)
			if info.Status != history.StatusRunning {
				break
			}
			r.mock.Add(time.Second)
		}
		out, err := run.Result(r.ctx)
		require.NoError(t, err)
		require.Equal(t, "TRK-2", out)
		return r.export("checkout-1")
	}},
}

// lockedReader makes a deterministic random source safe for concurrent
// use.
type lockedReader struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// recordGoldens writes every golden history to goldenDir.
func recordGoldens(t *testing.T) {
	// NewUUID draws from the uuid package's random source: a fixed seed
	// makes the UUID that run-batch records the same on every -update.
	uuid.SetRand(&lockedReader{r: rand.NewChaCha8([32]byte{'c', 'h', 'o', 'r', 'u', 's'})})
	defer uuid.SetRand(nil)
	for _, g := range goldens {
		x := g.record(t)
		b, err := x.Marshal()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(goldenDir, g.name+".json"), b, 0o644))
		t.Logf("recorded %s: %d events, status %s", g.name, len(x.Events), x.Run.Status)
	}
}

// TestGoldenHistoriesReplay replays every golden history against the
// example workflows; with -update it records them first.
func TestGoldenHistoriesReplay(t *testing.T) {
	if *update {
		recordGoldens(t) // not in parallel: other tests read the files
	} else {
		t.Parallel()
	}
	replay.Test(t, goldenDir, exampleDefs()...)
	require.NoError(t, replay.Dir(testContext(t), goldenDir, exampleDefs()...))

	for _, g := range goldens {
		t.Run(g.name+"/format", func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join(goldenDir, g.name+".json"))
			require.NoError(t, err, "golden %s is missing: run go test ./replay -update", g.name)
			x, err := history.UnmarshalExport(b)
			require.NoError(t, err)
			again, err := x.Marshal()
			require.NoError(t, err)
			require.True(t, bytes.Equal(b, again), "decoding and encoding %s gives other bytes", g.name)
		})
	}
}

// TestGoldenRecordingsReplay records each golden scenario afresh and
// replays the result, so the scenarios keep working even before -update.
func TestGoldenRecordingsReplay(t *testing.T) {
	t.Parallel()
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			x := g.record(t)
			require.NoError(t, replay.Run(testContext(t), x, exampleDefs()...))
		})
	}
}
