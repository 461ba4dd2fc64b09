//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/testutil"
)

// The tests run the program as a child process, so that it can really be
// killed: the test binary re-executes itself and runs main() instead of the
// tests when this variable is set.
const childEnv = "CHORUS_TRIP_BOOKING_MAIN"

func TestMain(m *testing.M) {
	testutil.RunMainIfChild(childEnv, main)
	os.Exit(m.Run())
}

// tripBooking runs the program with args and returns its output and exit
// error.
func tripBooking(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return testutil.RunProgram(t, childEnv, args...)
}

const (
	flightLine       = "[activity] book-flight: booked London to Lisbon for Ada Lovelace (FL-trip-7)"
	hotelLine        = "[activity] book-hotel: booked 3 nights in Lisbon (HT-trip-7)"
	carLine          = "[activity] rent-car: no car available in Lisbon"
	compensatingLine = "[workflow] the car rental failed: cancelling the hotel, then the flight"
	cancelHotelLine  = "[activity] cancel-hotel: cancelled HT-trip-7"
	cancelFlightLine = "[activity] cancel-flight: cancelled FL-trip-7"
	resultLine       = `trip-7 not booked: activity "rent-car" (step 6) failed after 1 attempt(s): no-car: no car available in Lisbon; saga compensated 2 step(s)`
	// RunStarted; 3 x (scheduled, outcome); 2 x (start marker, scheduled,
	// completed, done marker); RunFailed.
	journalLine = "journal: 16 events, status failed"
)

func TestPlainRun(t *testing.T) {
	t.Parallel()
	out, err := tripBooking(t, "-db", filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err, out)
	require.Equal(t, 5, strings.Count(out, "[activity] "), out)
	requireInOrder(t, out, "starting trip-7", flightLine, hotelLine, carLine, compensatingLine,
		cancelHotelLine, cancelFlightLine, resultLine, journalLine)
}

func TestCrashDuringCompensationAndResume(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "t.db")

	out, err := tripBooking(t, "-db", db, "-crash-during-compensation")
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "want the process killed, got %v; output:\n%s", err, out)
	ws := exit.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "want death by SIGKILL, got %v; output:\n%s", exit, out)
	requireInOrder(t, out, flightLine, hotelLine, carLine, compensatingLine, cancelHotelLine, "simulating a crash")
	require.Equal(t, 4, strings.Count(out, "[activity] "), out)
	require.NotContains(t, out, cancelFlightLine)
	require.NotContains(t, out, "not booked")

	// Same database, no crash: the compensation resumes; the hotel is not
	// cancelled again, only the flight cancellation runs.
	out, err = tripBooking(t, "-db", db)
	require.NoError(t, err, out)
	require.Equal(t, 1, strings.Count(out, "[activity] "), out)
	require.NotContains(t, out, "[workflow]", "the steps before are replayed, not announced again")
	requireInOrder(t, out, "resuming trip-7 from its journal (13 events)", cancelFlightLine, resultLine, journalLine)

	// Once more: the run is over, nothing runs, the stored outcome is shown.
	out, err = tripBooking(t, "-db", db)
	require.NoError(t, err, out)
	require.Zero(t, strings.Count(out, "[activity] "), out)
	requireInOrder(t, out, "trip-7 is already failed", resultLine, journalLine)
}

var requireInOrder = testutil.RequireInOrder
