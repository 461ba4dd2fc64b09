package saga_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// exampleEngine opens an engine on a fresh database for an example.
func exampleEngine(defs ...chorus.Definition) (*chorus.Engine, func()) {
	dir, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	eng, err := chorus.Open(ctx, filepath.Join(dir, "example.db"), &chorus.Options{Definitions: defs})
	if err != nil {
		log.Fatal(err)
	}
	return eng, func() { eng.Close(ctx); os.RemoveAll(dir) }
}

// book returns an activity that books something, or fails for good when
// available is false.
func exampleBook(name string, available bool) *activity.Definition[string, string] {
	return activity.New("book-"+name, func(ctx context.Context, trip string) (string, error) {
		if !available {
			return "", activity.NonRetryable(activity.NewError("unavailable", "no %s for %s", name, trip))
		}
		fmt.Println("booked", name)
		return name + "-" + trip, nil
	})
}

// cancel returns the activity that undoes a booking; it fails for good when
// broken is true.
func exampleCancel(name string, broken bool) *activity.Definition[string, struct{}] {
	return activity.New("cancel-"+name, func(ctx context.Context, id string) (struct{}, error) {
		if broken {
			return struct{}{}, activity.NonRetryable(errors.New("the " + name + " system is down"))
		}
		fmt.Println("canceled", id)
		return struct{}{}, nil
	})
}

// Each booking that succeeded registers its cancellation; when the car
// rental fails, the hotel and then the flight are canceled.
func Example() {
	bookFlight, bookHotel, rentCar := exampleBook("flight", true), exampleBook("hotel", true), exampleBook("car", false)
	cancelFlight, cancelHotel := exampleCancel("flight", false), exampleCancel("hotel", false)

	bookTrip := workflow.New("book-trip", func(ctx workflow.Context, trip string) (_ string, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)

		flight, err := workflow.ExecuteActivity(ctx, bookFlight, trip).Get(ctx)
		if err != nil {
			return "", err
		}
		saga.Add(s, cancelFlight, flight)
		hotel, err := workflow.ExecuteActivity(ctx, bookHotel, trip).Get(ctx)
		if err != nil {
			return "", err
		}
		saga.Add(s, cancelHotel, hotel)
		car, err := workflow.ExecuteActivity(ctx, rentCar, trip).Get(ctx)
		if err != nil {
			return "", err
		}
		return flight + " " + hotel + " " + car, nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(bookTrip, bookFlight, bookHotel, rentCar, cancelFlight, cancelHotel)
	defer done()
	run, _ := chorus.Start(ctx, eng, bookTrip, "lisbon", &chorus.StartOptions{ID: "trip-1"})
	_, err := run.Result(ctx)
	var we *chorus.WorkflowError
	if errors.As(err, &we) {
		fmt.Println(we.Message)
	}
	// Output:
	// booked flight
	// booked hotel
	// canceled hotel-lisbon
	// canceled flight-lisbon
	// activity "book-car" (step 6) failed after 1 attempt(s): unavailable: no car for lisbon; saga compensated 2 step(s)
}

// A compensation that fails stops the ones after it (unless
// Options.ContinueOnError is set); the CompensationError says which failed
// and which were skipped.
func ExampleCompensationError() {
	bookFlight, bookHotel := exampleBook("flight", true), exampleBook("hotel", true)
	cancelFlight, cancelHotel := exampleCancel("flight", false), exampleCancel("hotel", true)

	bookTrip := workflow.New("book-trip", func(ctx workflow.Context, trip string) (string, error) {
		s := saga.New(ctx, nil)
		flight, err := workflow.ExecuteActivity(ctx, bookFlight, trip).Get(ctx)
		if err != nil {
			return "", err
		}
		saga.Add(s, cancelFlight, flight)
		hotel, err := workflow.ExecuteActivity(ctx, bookHotel, trip).Get(ctx)
		if err != nil {
			return "", err
		}
		saga.Add(s, cancelHotel, hotel)

		// The customer changed their mind: undo everything.
		var ce *saga.CompensationError
		if err := s.Compensate(ctx); !errors.As(err, &ce) {
			return "", err
		}
		return fmt.Sprintf("failed: %s (#%d), skipped: %s (#%d)",
			ce.Failed[0].Name, ce.Failed[0].Index, ce.Skipped[0].Name, ce.Skipped[0].Index), nil
	})

	ctx := context.Background()
	eng, done := exampleEngine(bookTrip, bookFlight, bookHotel, cancelFlight, cancelHotel)
	defer done()
	run, _ := chorus.Start(ctx, eng, bookTrip, "porto", &chorus.StartOptions{ID: "trip-2"})
	fmt.Println(run.Result(ctx))
	// Output:
	// booked flight
	// booked hotel
	// failed: cancel-hotel (#1), skipped: cancel-flight (#0) <nil>
}
