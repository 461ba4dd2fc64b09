// Package trip is the workflow of the trip-booking program: a trip booked
// as a saga (a flight, a hotel and a rental car from three systems), where
// each booking that succeeds registers its cancellation and a failure
// cancels the earlier bookings in reverse order. It is a package of its own
// so that tests (and replay/, which replays its recorded histories) can
// import it.
package trip

import (
	"context"
	"fmt"

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
		if BeforeCancelFlight != nil {
			BeforeCancelFlight()
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

// BeforeCancelFlight, when set, is called as the flight cancellation
// starts, before it does anything. The trip-booking program sets it to kill
// itself there: the engine dispatches the flight cancellation only after
// committing the hotel cancellation's completion, so on the next run only
// the flight cancellation (cut short) runs again.
var BeforeCancelFlight func()
