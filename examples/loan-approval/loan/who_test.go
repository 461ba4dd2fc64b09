package loan_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/examples/loan-approval/loan"
)

// The decision record names the user the inbox authorized, read from the
// run's own state: no activity asks the inbox who it was, and a name
// written into the verdict changes nothing.
func TestDecisionNamesAuthorizedUserWithoutActivity(t *testing.T) {
	f := newFixture(t, nil)
	run := f.start(mediumRisk)
	f.task(t, "ben")
	f.complete(t, "uma", "ben", loan.Verdict{Decision: loan.Approve, Note: "signed: ravi"})
	out := f.result(t, run)
	require.Equal(t, decide.ByPerson, out.Decision.DecidedBy)
	require.Equal(t, "uma", out.Decision.Person)

	acts := f.env.ActivitiesRun("ben")
	// human.notify runs beside the task: its place varies.
	acts = slices.DeleteFunc(acts, func(a string) bool { return a == "human.notify" })
	require.Equal(t, []string{"reserve-funds", "decide.watch-status", "credit-score", "human.assign",
		"decide.watch-report", "pay-out"}, acts)
}
