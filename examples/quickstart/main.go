// Command quickstart places an order through a durable Chorus workflow:
// reserve the items, charge the card, ship the parcel. Every step is
// journaled to SQLite, so a run killed half way continues where it stopped
// the next time the program runs, and the activities that already completed
// do not run again.
//
//	go run ./examples/quickstart -fresh -crash-after 2   # killed after the charge
//	go run ./examples/quickstart                         # resumes: only shipping runs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chorusdev/chorus"
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
// across retries and crashes, to the system it calls; here we only print it.
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

// crashAfter is the -crash-after flag: kill the process once that many
// activities have completed.
var crashAfter int

// begin is called by activity n as it starts, and is where the crash demo
// strikes. The engine dispatches activity n only after committing the
// journal entry that records activity n-1 as completed, so dying here shows
// the guarantee: on the next run activity n (scheduled, cut short) runs
// again and activities 1..n-1 do not. Dying at the end of activity n-1
// instead would lose its unrecorded result, and it would rightly run again.
func begin(ctx context.Context, n int) (attemptAndKey string) {
	if crashAfter > 0 && n == crashAfter+1 {
		fmt.Printf("*** simulating a crash: killing the process before activity %d does anything ***\n", n)
		// SIGKILL on Unix: no deferred calls, no Close, like pulling the plug.
		self, _ := os.FindProcess(os.Getpid())
		if err := self.Kill(); err != nil {
			panic(err)
		}
		select {} // the signal is on its way
	}
	info := activity.GetInfo(ctx)
	return fmt.Sprintf("attempt %d, key %s", info.Attempt, info.IdempotencyKey)
}

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "chorus-quickstart.db"), "journal database `file`")
	id := flag.String("id", "order-42", "order ID, used as the run ID")
	fresh := flag.Bool("fresh", false, "delete the database first")
	flag.IntVar(&crashAfter, "crash-after", 0, "SIGKILL the process once `N` activities (1 or 2) have completed; 0 = never")
	flag.Parse()
	if crashAfter < 0 || crashAfter > 2 {
		fmt.Fprintln(os.Stderr, "quickstart: -crash-after must be 0, 1 or 2")
		os.Exit(2)
	}
	if err := run(*db, *id, *fresh); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(db, id string, fresh bool) error {
	ctx := context.Background()
	if fresh {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	fmt.Println("database:", db)
	eng, err := chorus.Open(ctx, db, nil)
	if err != nil {
		return err
	}
	defer eng.Close(ctx)

	// Say what the journal holds before registering: registration releases
	// the work recovered from the journal, which starts running at once.
	switch info, err := eng.Describe(ctx, id); {
	case errors.Is(err, chorus.ErrRunNotFound):
		fmt.Println("starting", id)
	case err != nil:
		return err
	case info.Status == chorus.StatusRunning:
		fmt.Printf("resuming %s from its journal (%d events); completed activities will not run again\n", id, info.Events)
	default:
		fmt.Printf("%s is already %s; printing its stored result\n", id, info.Status)
	}
	if err := eng.Register(PlaceOrder, Reserve, Charge, Ship); err != nil {
		return err
	}

	// The order ID doubles as the run ID, so running the program again
	// attaches to the same run instead of placing a second order.
	order := Order{ID: id, Item: "espresso beans 1kg", Qty: 2, Cents: 4250, Card: "4242"}
	r, err := chorus.Start(ctx, eng, PlaceOrder, order, &chorus.StartOptions{ID: id, IfExists: chorus.AttachIfExists})
	if err != nil {
		return err
	}
	conf, err := r.Result(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("confirmation: order %s, reservation %s, charge %s, tracking %s\n", conf.OrderID, conf.Reservation, conf.Charge, conf.Tracking)
	info, err := eng.Describe(ctx, id)
	if err != nil {
		return err
	}
	fmt.Printf("journal: %d events, status %s\n", info.Events, info.Status)
	return nil
}
