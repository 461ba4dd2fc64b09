// Package order is the workflow of the quickstart program: an order placed
// in three activities (reserve the items, charge the card, ship the parcel),
// each journaled, so that a run killed half way continues where it stopped
// and the activities that completed do not run again. It is a package of its
// own so that tests (and replay/, which replays its recorded histories) can
// import it; main.go only opens the engine and starts the run.
package order

import (
	"context"
	"fmt"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// Payloads are plain structs: the journal stores them as JSON.
type (
	Order struct {
		ID    string
		Item  string
		Qty   int
		Cents int64
		Card  string // last four digits
	}
	Reservation  struct{ ID string }
	Receipt      struct{ ChargeID string }
	Shipment     struct{ Tracking string }
	Confirmation struct{ OrderID, Reservation, Charge, Tracking string }
)

// Activities do the real work. They may run more than once (a crash in the
// middle of one runs it again), so each hands its idempotency key, stable
// across retries and crashes, to the system it calls; here they only print
// it.
var (
	Reserve = activity.New("reserve-inventory", func(ctx context.Context, o Order) (Reservation, error) {
		key := begin(ctx, 1)
		fmt.Printf("[activity] reserve-inventory: reserved %d x %s (%s)\n", o.Qty, o.Item, key)
		return Reservation{ID: "RSV-" + o.ID}, nil
	})
	Charge = activity.New("charge-card", func(ctx context.Context, o Order) (Receipt, error) {
		key := begin(ctx, 2)
		fmt.Printf("[activity] charge-card: charged $%d.%02d to card ending %s (%s)\n", o.Cents/100, o.Cents%100, o.Card, key)
		return Receipt{ChargeID: "CH-" + o.ID}, nil
	})
	Ship = activity.New("ship-order", func(ctx context.Context, o Order) (Shipment, error) {
		key := begin(ctx, 3)
		fmt.Printf("[activity] ship-order: handed %s to the carrier (%s)\n", o.ID, key)
		return Shipment{Tracking: "TRK-" + o.ID}, nil
	})
)

// PlaceOrder is the workflow: ordinary Go code. After a crash the engine
// calls it again from the top and feeds it the journaled results, so it must
// be deterministic and do its I/O in activities. Its own prints are guarded
// by IsReplaying so that replayed steps are not announced twice.
var PlaceOrder = workflow.New("place-order", func(ctx workflow.Context, o Order) (Confirmation, error) {
	say := func(msg string) {
		if !workflow.IsReplaying(ctx) {
			fmt.Println("[workflow]", msg)
		}
	}
	say("reserving inventory for " + o.ID)
	rsv, err := workflow.ExecuteActivity(ctx, Reserve, o).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	say("reserved " + rsv.ID + "; charging the card")
	rcpt, err := workflow.ExecuteActivity(ctx, Charge, o).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	say("charged " + rcpt.ChargeID + "; shipping")
	shp, err := workflow.ExecuteActivity(ctx, Ship, o).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	say("shipped " + shp.Tracking)
	return Confirmation{OrderID: o.ID, Reservation: rsv.ID, Charge: rcpt.ChargeID, Tracking: shp.Tracking}, nil
})

// BeforeActivity, when set, is called by activity n (1 reserve, 2 charge,
// 3 ship) as it starts, before it does anything. The quickstart program
// sets it to kill itself there. The engine dispatches activity n only after
// committing the journal entry that records activity n-1 as completed, so
// dying here shows the guarantee: on the next run activity n (scheduled,
// cut short) runs again and activities 1..n-1 do not.
var BeforeActivity func(n int)

// begin is called by activity n as it starts; it returns the attempt and
// idempotency key for the activity to print.
func begin(ctx context.Context, n int) (attemptAndKey string) {
	if BeforeActivity != nil {
		BeforeActivity(n)
	}
	info := activity.GetInfo(ctx)
	return fmt.Sprintf("attempt %d, key %s", info.Attempt, info.IdempotencyKey)
}
