package trip_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/examples/trip-booking/trip"
	"github.com/chorusdev/chorus/saga"
	chorustest "github.com/chorusdev/chorus/testing"
)

// Unit tests of the BookTrip saga on chorustest: which bookings ran, which
// were compensated, and the compensation markers in the journal.

func tripEnv(t *testing.T) *chorustest.Env {
	return chorustest.New(t, &chorustest.Options{
		Definitions: []chorus.Definition{trip.BookTrip, trip.BookFlight, trip.BookHotel, trip.RentCar, trip.CancelHotel, trip.CancelFlight},
	})
}

var lisbon = trip.Trip{ID: "trip-7", Traveler: "Ada Lovelace", From: "London", To: "Lisbon", Nights: 3}

func TestTripCompensatedInReverseOrder(t *testing.T) {
	t.Parallel()
	env := tripEnv(t)
	cancelHotel := chorustest.OnActivity(env, trip.CancelHotel)
	cancelFlight := chorustest.OnActivity(env, trip.CancelFlight)
	_, err := chorustest.Result(env, chorustest.Start(env, trip.BookTrip, lisbon, &chorus.StartOptions{ID: "trip-7"}))
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "no-car", ae.Type)
	require.Equal(t, []string{"HT-trip-7"}, cancelHotel.Inputs())
	require.Equal(t, []string{"FL-trip-7"}, cancelFlight.Inputs())
	require.Equal(t, []string{"book-flight", "book-hotel", "rent-car", "cancel-hotel", "cancel-flight"}, env.ActivitiesRun("trip-7"))
	require.Equal(t, []string{saga.MarkerStart, saga.MarkerDone, saga.MarkerStart, saga.MarkerDone}, env.Markers("trip-7"))
}

func TestTripBookedWhenACarIsAvailable(t *testing.T) {
	t.Parallel()
	env := tripEnv(t)
	chorustest.OnActivity(env, trip.RentCar).Do(func(ctx context.Context, t trip.Trip) (trip.Booking, error) {
		return trip.Booking{ID: "CR-" + t.ID}, nil
	})
	it, err := chorustest.Result(env, chorustest.Start(env, trip.BookTrip, lisbon, &chorus.StartOptions{ID: "trip-7"}))
	require.NoError(t, err)
	require.Equal(t, trip.Itinerary{Flight: "FL-trip-7", Hotel: "HT-trip-7", Car: "CR-trip-7"}, it)
	require.Empty(t, env.Markers("trip-7"), "nothing compensated")
}

// A compensation that fails is recorded as such, and by default the ones
// after it are skipped, and recorded as skipped.
func TestTripCompensationFailure(t *testing.T) {
	t.Parallel()
	env := tripEnv(t)
	chorustest.OnActivity(env, trip.CancelHotel).ReturnError(activity.NonRetryable(activity.NewError("hotel-down", "try later")))
	cancelFlight := chorustest.OnActivity(env, trip.CancelFlight)
	_, err := chorustest.Result(env, chorustest.Start(env, trip.BookTrip, lisbon, &chorus.StartOptions{ID: "trip-7"}))
	require.Error(t, err)
	require.Zero(t, cancelFlight.Calls())
	require.Equal(t, []string{saga.MarkerStart, saga.MarkerFailed, saga.MarkerSkipped}, env.Markers("trip-7"))
}
