package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/testutil"
)

// The tests run the program as a child process, exactly as a user would:
// the test binary re-executes itself and runs main() instead of the tests
// when this variable is set.
const childEnv = "CHORUS_SUBSCRIPTION_MAIN"

func TestMain(m *testing.M) {
	testutil.RunMainIfChild(childEnv, main)
	os.Exit(m.Run())
}

// subscription runs the program with args on a new database and returns
// its output, failing the test if it does not exit cleanly.
func subscription(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"-db", filepath.Join(t.TempDir(), "s.db")}, args...)
	out, err := testutil.RunProgram(t, childEnv, args...)
	require.NoError(t, err, "subscription %v failed; output:\n%s", args, out)
	return out
}

func TestThreeMonthsThenCancel(t *testing.T) {
	t.Parallel()
	out := subscription(t)
	requireInOrder(t, out,
		"[workflow] 2025-01-01 month 1: charging $49.00",
		"[activity] charge-subscription: month 1: charged $49.00 to acme",
		"[activity] email-invoice: sent INV-acme-001",
		"[workflow] 2025-01-01 month 1: invoice INV-acme-001 sent by child run sub-acme/invoice-1; sleeping 30 days",
		"[clock] moving the fake clock 30 days ahead",
		"[workflow] 2025-01-31 month 2: charging $49.00",
		"[activity] charge-subscription: month 2: charged $49.00 to acme",
		"[activity] email-invoice: sent INV-acme-002",
		"[clock] moving the fake clock 30 days ahead",
		"[workflow] 2025-03-02 month 3: charging $49.00",
		"[activity] charge-subscription: month 3: charged $49.00 to acme",
		"[activity] email-invoice: sent INV-acme-003",
		`[person] the customer cancels after 3 months: chorus.Cancel("sub-acme")`,
		"[workflow] 2025-03-02 month 3: subscription canceled: closing the account",
		"[activity] close-account: revoked acme's access",
		"result: sub-acme canceled after month 3, $147.00 billed in all",
	)
	// Billed exactly three times, invoiced three times, cleaned up once.
	require.Equal(t, 3, strings.Count(out, "[activity] charge-subscription"), out)
	require.Equal(t, 3, strings.Count(out, "[activity] email-invoice"), out)
	require.Equal(t, 1, strings.Count(out, "[activity] close-account"), out)
	require.Equal(t, 2, strings.Count(out, "[clock] moving"), out)
	requireShortJournal(t, out, 3)
}

// A longer subscription keeps the same journal length every month.
func TestJournalDoesNotGrow(t *testing.T) {
	t.Parallel()
	out := subscription(t, "-months", "8")
	require.Equal(t, 8, strings.Count(out, "[activity] charge-subscription"), out)
	require.Contains(t, out, "result: sub-acme canceled after month 8, $392.00 billed in all")
	requireShortJournal(t, out, 8)
}

var journalLine = regexp.MustCompile(`\[journal\] sub-acme: (\d+) events in (the current|its last) generation`)

// requireShortJournal checks the journal lengths the program printed: the
// same each month, and still small at the end.
func requireShortJournal(t *testing.T, out string, months int) {
	t.Helper()
	ms := journalLine.FindAllStringSubmatch(out, -1)
	require.Len(t, ms, months+1, out)
	var counts []int
	for _, m := range ms {
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		counts = append(counts, n)
	}
	for i, n := range counts[:months] {
		require.Equal(t, counts[0], n, "month %d's generation is as long as month 1's: %v", i+1, counts)
	}
	require.Less(t, counts[months], 2*counts[0], "the last generation stays short: %v", counts)
	require.Contains(t, ms[months][0], "its last generation", fmt.Sprint(counts))
}

var requireInOrder = testutil.RequireInOrder
