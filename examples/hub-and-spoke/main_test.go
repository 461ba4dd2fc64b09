//go:build unix

package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/testutil"
)

// The test runs the program as a child process (the test binary runs
// main() when this variable is set); the program starts its agent as a
// child of itself, which inherits the variable.
const childEnv = "CHORUS_HUB_AND_SPOKE_MAIN"

func TestMain(m *testing.M) {
	testutil.RunMainIfChild(childEnv, main)
	os.Exit(m.Run())
}

func TestHubAndAgent(t *testing.T) {
	t.Parallel()
	out, err := testutil.RunProgram(t, childEnv, "-dir", t.TempDir())
	require.NoError(t, err, out)

	hub := regexp.MustCompile(`\[hub pid (\d+)\] serving`).FindStringSubmatch(out)
	agent := regexp.MustCompile(`\[agent pid (\d+)\] polling`).FindStringSubmatch(out)
	require.NotNil(t, hub, out)
	require.NotNil(t, agent, out)
	require.NotEqual(t, hub[1], agent[1], "the agent is another process")

	// The balances were read by the agent, the statements sent by the hub.
	require.Contains(t, out, "[agent pid "+agent[1]+"] read-balance acct-7: 1250 EUR", out)
	require.Contains(t, out, "[agent pid "+agent[1]+"] read-balance acct-9: -40 EUR", out)
	require.Contains(t, out, "[hub pid "+hub[1]+"] send-statement: statement for acct-7: balance 1250 EUR", out)
	require.Contains(t, out, "[hub pid "+hub[1]+"] run statement-acct-7 completed: statement for acct-7: balance 1250 EUR", out)
	require.Contains(t, out, "[hub pid "+hub[1]+"] run statement-acct-9 completed: statement for acct-9: balance -40 EUR", out)
	require.Contains(t, out, "[agent pid "+agent[1]+"] stopped", out)
	require.Equal(t, 2, strings.Count(out, "read-balance"), "each balance is read once:\n%s", out)
}
