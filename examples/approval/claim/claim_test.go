package claim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/approval/claim"
	chorustest "github.com/chorusdev/chorus/testing"
)

// Unit tests of the HandleClaim workflow on chorustest: the 48-hour waits
// pass on a fake clock that skips ahead while the test waits.

func claimEnv(t *testing.T) *chorustest.Env {
	return chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{claim.HandleClaim, claim.Assess, claim.Escalate, claim.Pay, claim.Reject}})
}

var pipe = claim.Claim{ID: "claim-A", Claimant: "Jo Park", What: "burst pipe", Cents: 240000}

func TestClaimApprovedBeforeTheTimeout(t *testing.T) {
	t.Parallel()
	env := claimEnv(t)
	escalate := chorustest.OnActivity(env, claim.Escalate)
	run := chorustest.Start(env, claim.HandleClaim, pipe, &chorus.StartOptions{ID: pipe.ID})
	env.At(3*time.Hour, func() {
		chorustest.Signal(env, pipe.ID, claim.Approve, claim.Decision{Approve: true, By: "Ana"})
	})
	out, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, claim.Outcome{ClaimID: "claim-A", Result: "paid $2150.00", DecidedBy: "Ana", Reference: "PAY-claim-A"}, out)
	require.Equal(t, 3*time.Hour, env.Elapsed())
	require.Zero(t, escalate.Calls())
	require.Equal(t, []string{"assess-claim", "pay-claim"}, env.ActivitiesRun(pipe.ID))

	st, err := chorustest.Query(env, pipe.ID, claim.StatusQuery, struct{}{}) // answered from a replay of the journal
	require.NoError(t, err)
	require.Equal(t, "paid, approved by Ana", st.Stage)
	require.Equal(t, env.Now(), st.Since)
}

func TestClaimEscalatesTwiceThenIsRejected(t *testing.T) {
	t.Parallel()
	env := claimEnv(t)
	escalate := chorustest.OnActivity(env, claim.Escalate) // real, counted
	pay := chorustest.OnActivity(env, claim.Pay)
	run := chorustest.Start(env, claim.HandleClaim, pipe, &chorus.StartOptions{ID: pipe.ID})

	env.Advance(claim.DecisionTimeout + time.Hour)
	st, err := chorustest.Query(env, pipe.ID, claim.StatusQuery, struct{}{})
	require.NoError(t, err)
	require.Equal(t, "escalated to the claims manager", st.Stage)
	require.Equal(t, env.StartTime().Add(claim.DecisionTimeout), st.Since)

	env.At(2*claim.DecisionTimeout+2*time.Hour, func() {
		chorustest.Signal(env, pipe.ID, claim.Approve, claim.Decision{Approve: false, By: "Mo"})
	})
	out, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "rejected", out.Result)
	require.Equal(t, "LTR-claim-A", out.Reference)
	require.Equal(t, 2*claim.DecisionTimeout+2*time.Hour, env.Elapsed())
	require.Equal(t, []int{1, 2}, escalate.Inputs())
	require.Zero(t, pay.Calls())
	require.Equal(t, []string{"assess-claim", "escalate-claim", "escalate-claim", "reject-claim"}, env.ActivitiesRun(pipe.ID))
}

// A decision sent before the claim is even assessed is kept.
func TestClaimDecidedEarly(t *testing.T) {
	t.Parallel()
	env := claimEnv(t)
	run := chorustest.SignalWithStart(env, claim.HandleClaim, pipe, &chorus.StartOptions{ID: pipe.ID}, claim.Approve, claim.Decision{Approve: true, By: "Ana"})
	out, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "Ana", out.DecidedBy)
	require.Zero(t, env.Elapsed())
}
