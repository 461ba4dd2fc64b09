// Command quickstart places an order through a durable Chorus workflow:
// reserve the items, charge the card, ship the parcel. Every step is
// journaled to SQLite, so a run killed half way continues where it stopped
// the next time the program runs, and the activities that already completed
// do not run again.
//
//	go run ./examples/quickstart -fresh -crash-after 2   # killed after the charge
//	go run ./examples/quickstart                         # resumes: only shipping runs
//
// The workflow and its activities are in package order, beside this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/quickstart/order"
)

// crash kills the process as activity n starts, when -crash-after says so:
// activities 1..n-1 completed and are journaled, activity n is scheduled and
// cut short.
func crash(crashAfter, n int) {
	if crashAfter == 0 || n != crashAfter+1 {
		return
	}
	fmt.Printf("*** simulating a crash: killing the process before activity %d does anything ***\n", n)
	// SIGKILL on Unix: no deferred calls, no Close, like pulling the plug.
	self, _ := os.FindProcess(os.Getpid())
	if err := self.Kill(); err != nil {
		panic(err)
	}
	select {} // the signal is on its way
}

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "chorus-quickstart.db"), "journal database `file`")
	id := flag.String("id", "order-42", "order ID, used as the run ID")
	fresh := flag.Bool("fresh", false, "delete the database first")
	crashAfter := flag.Int("crash-after", 0, "SIGKILL the process once `N` activities (1 or 2) have completed; 0 = never")
	flag.Parse()
	if *crashAfter < 0 || *crashAfter > 2 {
		fmt.Fprintln(os.Stderr, "quickstart: -crash-after must be 0, 1 or 2")
		os.Exit(2)
	}
	order.BeforeActivity = func(n int) { crash(*crashAfter, n) }
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
	defer closeEngine(eng)

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
	if err := eng.Register(order.PlaceOrder, order.Reserve, order.Charge, order.Ship); err != nil {
		return err
	}

	// The order ID doubles as the run ID, so running the program again
	// attaches to the same run instead of placing a second order.
	o := order.Order{ID: id, Item: "espresso beans 1kg", Qty: 2, Cents: 4250, Card: "4242"}
	r, err := chorus.Start(ctx, eng, order.PlaceOrder, o, &chorus.StartOptions{ID: id, IfExists: chorus.AttachIfExists})
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

// closeEngine gives running activities up to 10 seconds to finish; then
// they are interrupted without a recorded failure and run again after the
// next Open.
func closeEngine(eng *chorus.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart: close:", err)
	}
}
