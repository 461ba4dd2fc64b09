package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/examples/recover-after-bug/orders"
	"github.com/chorusdev/chorus/internal/testutil"
)

// The test runs the program as a child process, as a user would.
const childEnv = "CHORUS_RECOVER_MAIN"

func TestMain(m *testing.M) {
	testutil.RunMainIfChild(childEnv, main)
	os.Exit(m.Run())
}

func TestRecoverAfterBug(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	counts := filepath.Join(dir, "counts.txt")
	out, err := testutil.RunProgram(t, childEnv, "-db", filepath.Join(dir, "o.db"), "-counts", counts, "-n", "100")
	require.NoError(t, err, out)
	require.Contains(t, out, "release 1: 100 of 100 orders failed at step 3")
	require.Contains(t, out, "release 2: batch fix-ship-address: 100 reset, 0 skipped, 0 failed")
	require.Contains(t, out, "release 2: 100 of 100 orders completed")

	got, err := orders.ReadCounts(counts)
	require.NoError(t, err)
	for i := range 100 {
		id := fmt.Sprintf("order-%04d", i)
		require.Equal(t, 1, got[orders.StepReserve][id], "step 1 of %s", id)
		require.Equal(t, 1, got[orders.StepCharge][id], "step 2 of %s", id)
		require.Equal(t, 2, got[orders.StepShip][id], "step 3 of %s: once failed, once fixed", id)
	}
	for _, step := range []string{orders.StepReserve, orders.StepCharge, orders.StepShip} {
		require.Len(t, got[step], 100)
	}
	require.Contains(t, out, "charge-card ran 100 times in all, at most 1 times for one order")
}
