package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The tests run the program as a child process, exactly as a user would:
// the test binary re-executes itself and runs main() instead of the tests
// when this variable is set.
const childEnv = "CHORUS_FANOUT_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fanout runs the program with args on a new database and returns its
// output, failing the test if it does not exit cleanly within 5 seconds.
func fanout(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	args = append([]string{"-db", filepath.Join(t.TempDir(), "f.db")}, args...)
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "fanout %v did not finish; output:\n%s", args, out)
	require.NoError(t, err, "fanout %v failed; output:\n%s", args, out)
	return string(out)
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

// requireInOrder asserts that out contains each of lines, in that order.
func requireInOrder(t *testing.T, out string, lines ...string) {
	t.Helper()
	rest := out
	for _, l := range lines {
		i := strings.Index(rest, l)
		require.GreaterOrEqual(t, i, 0, "missing (or out of order) %q in output:\n%s", l, out)
		rest = rest[i+len(l):]
	}
}
