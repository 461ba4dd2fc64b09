package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/testutil"
)

// The tests run the program as a child process, exactly as a user would:
// the test binary re-executes itself and runs main() instead of the tests
// when this variable is set.
const childEnv = "CHORUS_APPROVAL_MAIN"

func TestMain(m *testing.M) {
	testutil.RunMainIfChild(childEnv, main)
	os.Exit(m.Run())
}

// approval runs the program with args on a new database and returns its
// output, failing the test if it does not exit cleanly.
func approval(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"-db", filepath.Join(t.TempDir(), "a.db")}, args...)
	out, err := testutil.RunProgram(t, childEnv, args...)
	require.NoError(t, err, "approval %v failed; output:\n%s", args, out)
	return out
}

// Claim A is approved by the adjuster after 3 fake hours; claim B times out
// at 48 fake hours, escalates once, and the manager approves it.
func TestApprovedAndEscalated(t *testing.T) {
	t.Parallel()
	out := approval(t)
	requireInOrder(t, out,
		"[workflow] Mon 02 Jun 09:00 claim-A: awaiting approval; waiting up to 48h",
		"[query] claim-A status: awaiting approval since Mon 02 Jun 09:00",
		"[workflow] Mon 02 Jun 09:00 claim-B: awaiting approval; waiting up to 48h",
		"[clock] moving the fake clock 3h ahead",
		"[person] Ana (adjuster) approves claim-A",
		"[workflow] Mon 02 Jun 12:00 claim-A: approved by Ana (adjuster); paying out",
		"[activity] pay-claim: paid $2150.00 to Jo Park",
		"result: claim-A paid $2150.00 by Ana (adjuster)",
		"[query] claim-A status: paid, approved by Ana (adjuster)",
		"[clock] moving the fake clock 45h ahead, to Wed 04 Jun 09:00",
		"[workflow] Wed 04 Jun 09:00 claim-B: nobody decided within 48h: escalating",
		"[activity] escalate-claim: claim-B: no decision in 48h, paged the claims manager (level 1)",
		"[query] claim-B status: escalated to the claims manager",
		"[person] Mo (claims manager) approves claim-B",
		"[workflow] Wed 04 Jun 11:00 claim-B: approved by Mo (claims manager); paying out",
		"[activity] pay-claim: paid $8850.00 to Sam Ortiz",
		"result: claim-B paid $8850.00 by Mo (claims manager)",
		"[query] claim-B status: paid, approved by Mo (claims manager) since Wed 04 Jun 11:00, $8850.00 covered, 1 escalation(s)",
	)
	// Each activity ran once, and claim A never escalated: its timer was
	// canceled when the decision arrived.
	require.Equal(t, 2, strings.Count(out, "[activity] assess-claim"), out)
	require.Equal(t, 1, strings.Count(out, "[activity] escalate-claim"), out)
	require.Equal(t, 2, strings.Count(out, "[activity] pay-claim"), out)
	require.NotContains(t, out, "claim-A: nobody decided")
	require.NotContains(t, out, "reject-claim")
}

func TestManagerRejects(t *testing.T) {
	t.Parallel()
	out := approval(t, "-manager", "reject")
	requireInOrder(t, out,
		"result: claim-A paid $2150.00 by Ana (adjuster)",
		"[activity] escalate-claim: claim-B",
		"[person] Mo (claims manager) rejects claim-B",
		"[workflow] Wed 04 Jun 11:00 claim-B: rejected by Mo (claims manager)",
		"[activity] reject-claim: sent a rejection letter to Sam Ortiz",
		"result: claim-B rejected by Mo (claims manager) (ref LTR-claim-B)",
		"[query] claim-B status: rejected by Mo (claims manager)",
	)
	require.Equal(t, 1, strings.Count(out, "[activity] pay-claim"), out)
}

var requireInOrder = testutil.RequireInOrder
