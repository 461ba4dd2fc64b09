package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/testutil"
)

// The tests run the program as a child process, exactly as a user would:
// the test binary re-executes itself and runs main() instead of the tests
// when this variable is set.
const childEnv = "CHORUS_FANOUT_MAIN"

func TestMain(m *testing.M) {
	testutil.RunMainIfChild(childEnv, main)
	os.Exit(m.Run())
}

// fanout runs the program with args on a new database and returns its
// output, failing the test if it does not exit cleanly.
func fanout(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"-db", filepath.Join(t.TempDir(), "f.db")}, args...)
	out, err := testutil.RunProgram(t, childEnv, args...)
	require.NoError(t, err, "fanout %v failed; output:\n%s", args, out)
	return out
}

var batchLine = regexp.MustCompile(`\[workflow\] (batch-[0-9a-f]{8}): `)

func TestBatchCompletes(t *testing.T) {
	t.Parallel()
	out := fanout(t, "-work", "50ms") // 20 items by default
	m := batchLine.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	id := m[1]
	for i := 1; i <= 20; i++ {
		require.Contains(t, out, fmt.Sprintf("[workflow] item %d = %d\n", i, i*i))
	}
	require.Equal(t, 20, strings.Count(out, "[activity] process-item "), out)
	requireInOrder(t, out,
		id+": 20 items, started on",
		"[activity] publish-summary: "+id+": 20 done, 0 not done, total 2870", // the step GetVersion guards
		id+": 20 items done, 0 not done, total 2870",                          // 1² + 2² + ... + 20²
		"wall time: ",
		"after reopening, the batch-id query replays the journal: "+id+" (same: true)",
	)
	require.NotContains(t, out, "deadline of")
}

// Every item takes longer than the deadline: the selector picks the timer,
// the items are canceled, and the program does not wait for them.
func TestDeadlineCancelsTheBatch(t *testing.T) {
	t.Parallel()
	out := fanout(t, "-n", "4", "-work", "1m", "-deadline", "100ms")
	m := batchLine.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	id := m[1]
	requireInOrder(t, out,
		"[workflow] deadline of 100ms passed: canceling the unfinished items",
		"[activity] publish-summary: "+id+": 0 done, 4 not done, total 0",
		id+": 0 items done, 4 not done (missed the deadline), total 0",
		"(same: true)",
	)
	for i := 1; i <= 4; i++ {
		require.Contains(t, out, fmt.Sprintf("[workflow] item %d: canceled\n", i))
	}
	require.NotContains(t, out, "[activity] process-item")
}

var requireInOrder = testutil.RequireInOrder
