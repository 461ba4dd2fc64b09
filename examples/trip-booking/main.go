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
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// Payloads are plain structs: the journal stores them as JSON.
type (
	Trip struct {
		ID       string
		Traveler string
		From, To string
		Nights   int
	}
	Booking   struct{ ID string }
	Itinerary struct{ Flight, Hotel, Car string }
)

// The bookings and their cancellations are activities: they call other
// systems. Cancellations must be idempotent (they run again if the process
// dies while they run), which a cancellation by booking ID naturally is.
var (
	BookFlight = activity.New("book-flight", func(ctx context.Context, t Trip) (Booking, error) {
		id := "FL-" + t.ID
		fmt.Printf("[activity] book-flight: booked %s to %s for %s (%s)\n", t.From, t.To, t.Traveler, id)
		return Booking{ID: id}, nil
	})
	BookHotel = activity.New("book-hotel", func(ctx context.Context, t Trip) (Booking, error) {
		id := "HT-" + t.ID
		fmt.Printf("[activity] book-hotel: booked %d nights in %s (%s)\n", t.Nights, t.To, id)
		return Booking{ID: id}, nil
	})
	RentCar = activity.New("rent-car", func(ctx context.Context, t Trip) (Booking, error) {
		fmt.Printf("[activity] rent-car: no car available in %s\n", t.To)
		// Not retryable: the workflow hears about it at once.
		return Booking{}, activity.NonRetryable(activity.NewError("no-car", "no car available in %s", t.To))
	})
	CancelHotel = activity.New("cancel-hotel", func(ctx context.Context, id string) (struct{}, error) {
		fmt.Printf("[activity] cancel-hotel: cancelled %s\n", id)
		return struct{}{}, nil
	})
	CancelFlight = activity.New("cancel-flight", func(ctx context.Context, id string) (struct{}, error) {
		if crashDuringCompensation {
			crash()
		}
		fmt.Printf("[activity] cancel-flight: cancelled %s\n", id)
		return struct{}{}, nil
	})
)

// BookTrip is the workflow. Each successful booking adds its cancellation
// to the saga; the deferred CompensateOnError runs them, last one first,
// when the workflow returns an error. Its prints are guarded by
// IsReplaying so that replayed steps are not announced twice.
var BookTrip = workflow.New("book-trip", func(ctx workflow.Context, t Trip) (_ Itinerary, err error) {
	say := func(msg string) {
		if !workflow.IsReplaying(ctx) {
			fmt.Println("[workflow]", msg)
		}
	}
	s := saga.New(ctx, nil)
	defer s.CompensateOnError(&err)

	say("booking the flight")
	flight, err := workflow.ExecuteActivity(ctx, BookFlight, t).Get(ctx)
	if err != nil {
		return Itinerary{}, err
	}
	saga.Add(s, CancelFlight, flight.ID)

	say("booking the hotel")
	hotel, err := workflow.ExecuteActivity(ctx, BookHotel, t).Get(ctx)
	if err != nil {
		return Itinerary{}, err // the flight is cancelled
	}
	saga.Add(s, CancelHotel, hotel.ID)

	say("renting a car")
	car, err := workflow.ExecuteActivity(ctx, RentCar, t).Get(ctx)
	if err != nil {
		say("the car rental failed: cancelling the hotel, then the flight")
		return Itinerary{}, err // the hotel, then the flight, are cancelled
	}
	return Itinerary{Flight: flight.ID, Hotel: hotel.ID, Car: car.ID}, nil
})

// crashDuringCompensation is the -crash-during-compensation flag.
var crashDuringCompensation bool

// crash kills the process as the flight cancellation starts. The engine
// dispatches it only after committing the hotel cancellation's completion,
// so that one is durable: on the next run only the flight cancellation (cut
// short here) runs again.
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
	flag.BoolVar(&crashDuringCompensation, "crash-during-compensation", false,
		"SIGKILL the process after the hotel was cancelled, as the flight cancellation starts")
	flag.Parse()
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
	defer eng.Close(ctx)

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
	if err := eng.Register(BookTrip, BookFlight, BookHotel, RentCar, CancelHotel, CancelFlight); err != nil {
		return err
	}

	// The trip ID doubles as the run ID: running the program again looks
	// the run up instead of booking a second trip.
	var r *chorus.Run[Itinerary]
	if exists {
		r, err = chorus.Lookup(ctx, eng, BookTrip, id)
	} else {
		trip := Trip{ID: id, Traveler: "Ada Lovelace", From: "London", To: "Lisbon", Nights: 3}
		r, err = chorus.Start(ctx, eng, BookTrip, trip, &chorus.StartOptions{ID: id})
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
