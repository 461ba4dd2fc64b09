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
const childEnv = "CHORUS_QUICKSTART_MAIN"

func TestMain(m *testing.M) {
	testutil.RunMainIfChild(childEnv, main)
	os.Exit(m.Run())
}

// quickstart runs the program with args and returns its output and exit
// error.
func quickstart(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return testutil.RunProgram(t, childEnv, args...)
}

const (
	reserveLine = "[activity] reserve-inventory: reserved 2 x espresso beans 1kg (attempt 1, key order-42/2)"
	chargeLine  = "[activity] charge-card: charged $42.50 to card ending 4242 (attempt 1, key order-42/4)"
	shipLine    = "[activity] ship-order: handed order-42 to the carrier (attempt 1, key order-42/6)"
	confLine    = "confirmation: order order-42, reservation RSV-order-42, charge CH-order-42, tracking TRK-order-42"
	journalLine = "journal: 8 events, status completed"
)

func TestPlainRun(t *testing.T) {
	t.Parallel()
	out, err := quickstart(t, "-db", filepath.Join(t.TempDir(), "q.db"))
	require.NoError(t, err, out)
	require.Equal(t, 3, strings.Count(out, "[activity] "), out)
	requireInOrder(t, out, "starting order-42", reserveLine, chargeLine, shipLine, confLine, journalLine)
}

func TestCrashAndResume(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "q.db")

	out, err := quickstart(t, "-db", db, "-crash-after", "2")
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "want the process killed, got %v; output:\n%s", err, out)
	ws := exit.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "want death by SIGKILL, got %v; output:\n%s", exit, out)
	requireInOrder(t, out, reserveLine, chargeLine, "simulating a crash")
	require.Equal(t, 2, strings.Count(out, "[activity] "), out)
	require.NotContains(t, out, "confirmation:")

	// Same database, no crash: the run resumes and only shipping runs.
	out, err = quickstart(t, "-db", db)
	require.NoError(t, err, out)
	require.Equal(t, 1, strings.Count(out, "[activity] "), out)
	requireInOrder(t, out, "resuming order-42", shipLine, "[workflow] shipped", confLine, journalLine)
	require.Equal(t, 1, strings.Count(out, "[workflow] "), "replayed steps must not be announced again:\n%s", out)

	// Once more: the run is over, nothing runs, the stored result is shown.
	out, err = quickstart(t, "-db", db)
	require.NoError(t, err, out)
	require.Zero(t, strings.Count(out, "[activity] "), out)
	require.Zero(t, strings.Count(out, "[workflow] "), out)
	requireInOrder(t, out, "order-42 is already completed", confLine, journalLine)
}

var requireInOrder = testutil.RequireInOrder
