// Command trip-booking books a trip as a saga: a flight, a hotel and a
// rental car, each from a different system, with no transaction spanning
// them. Each booking that succeeds registers its cancellation; the car
// rental fails, so the saga cancels the hotel and then the flight, in
// reverse order.
//
// The cancellations are journaled steps like any other. With
// -crash-during-compensation the process kills itself (SIGKILL) right after
// the hotel was cancelled, as the flight cancellation starts; running the
// program again on the same database finishes the compensation: the flight
// is cancelled and the hotel is not cancelled twice.
//
//	go run ./examples/trip-booking -fresh -crash-during-compensation   # killed mid-compensation
//	go run ./examples/trip-booking                                     # resumes: only the flight is cancelled
//
// The workflow and its activities are in package trip, beside this file.
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
	"github.com/chorusdev/chorus/examples/trip-booking/trip"
)

// crash kills the process as the flight cancellation starts (see
// trip.BeforeCancelFlight).
func crash() {
	fmt.Println("*** simulating a crash: killing the process as the flight cancellation starts ***")
	// Process.Kill is SIGKILL on Unix: no deferred calls, no Close, exactly
	// like pulling the plug.
	self, _ := os.FindProcess(os.Getpid())
	if err := self.Kill(); err != nil {
		panic(err)
	}
	select {} // the signal is on its way
}

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "chorus-trip-booking.db"), "journal database `file`")
	id := flag.String("id", "trip-7", "trip ID, used as the run ID")
	fresh := flag.Bool("fresh", false, "delete the database first")
	crashDuringCompensation := flag.Bool("crash-during-compensation", false,
		"SIGKILL the process after the hotel was cancelled, as the flight cancellation starts")
	flag.Parse()
	if *crashDuringCompensation {
		trip.BeforeCancelFlight = crash
	}
	if err := run(*db, *id, *fresh); err != nil {
		fmt.Fprintln(os.Stderr, "trip-booking:", err)
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
	exists := false
	switch info, err := eng.Describe(ctx, id); {
	case errors.Is(err, chorus.ErrRunNotFound):
		fmt.Println("starting", id)
	case err != nil:
		return err
	case info.Status == chorus.StatusRunning:
		exists = true
		fmt.Printf("resuming %s from its journal (%d events); finished steps and cancellations will not run again\n", id, info.Events)
	default:
		exists = true
		fmt.Printf("%s is already %s; printing its stored outcome\n", id, info.Status)
	}
	if err := eng.Register(trip.BookTrip, trip.BookFlight, trip.BookHotel, trip.RentCar, trip.CancelHotel, trip.CancelFlight); err != nil {
		return err
	}

	// The trip ID doubles as the run ID: running the program again looks
	// the run up instead of booking a second trip.
	var r *chorus.Run[trip.Itinerary]
	if exists {
		r, err = chorus.Lookup(ctx, eng, trip.BookTrip, id)
	} else {
		t := trip.Trip{ID: id, Traveler: "Ada Lovelace", From: "London", To: "Lisbon", Nights: 3}
		r, err = chorus.Start(ctx, eng, trip.BookTrip, t, &chorus.StartOptions{ID: id})
	}
	if err != nil {
		return err
	}
	it, err := r.Result(ctx)
	var we *chorus.WorkflowError
	switch {
	case errors.As(err, &we):
		fmt.Printf("%s not booked: %s\n", id, we.Message)
	case err != nil:
		return err
	default:
		fmt.Printf("%s booked: flight %s, hotel %s, car %s\n", id, it.Flight, it.Hotel, it.Car)
	}
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
		fmt.Fprintln(os.Stderr, "trip-booking: close:", err)
	}
}
