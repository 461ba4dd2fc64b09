package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	chorustest "github.com/chorusdev/chorus/testing"
)

// Unit tests of the HandleClaim workflow on chorustest: the 48-hour waits
// pass on a fake clock that skips ahead while the test waits.

func claimEnv(t *testing.T) *chorustest.Env {
	return chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{HandleClaim, Assess, Escalate, Pay, Reject}})
}

var pipe = Claim{ID: "claim-A", Claimant: "Jo Park", What: "burst pipe", Cents: 240000}

func TestClaimApprovedBeforeTheTimeout(t *testing.T) {
	t.Parallel()
	env := claimEnv(t)
	escalate := chorustest.OnActivity(env, Escalate)
	run := chorustest.Start(env, HandleClaim, pipe, &chorus.StartOptions{ID: pipe.ID})
	env.At(3*time.Hour, func() {
		chorustest.Signal(env, pipe.ID, Approve, Decision{Approve: true, By: "Ana"})
	})
	out, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, Outcome{ClaimID: "claim-A", Result: "paid $2150.00", DecidedBy: "Ana", Reference: "PAY-claim-A"}, out)
	require.Equal(t, 3*time.Hour, env.Elapsed())
	require.Zero(t, escalate.Calls())
	require.Equal(t, []string{"assess-claim", "pay-claim"}, env.ActivitiesRun(pipe.ID))

	st, err := chorustest.Query(env, pipe.ID, StatusQuery, struct{}{}) // answered from a replay of the journal
	require.NoError(t, err)
	require.Equal(t, "paid, approved by Ana", st.Stage)
	require.Equal(t, env.Now(), st.Since)
}

func TestClaimEscalatesTwiceThenIsRejected(t *testing.T) {
	t.Parallel()
	env := claimEnv(t)
	escalate := chorustest.OnActivity(env, Escalate) // real, counted
	pay := chorustest.OnActivity(env, Pay)
	run := chorustest.Start(env, HandleClaim, pipe, &chorus.StartOptions{ID: pipe.ID})

	env.Advance(decisionTimeout + time.Hour)
	st, err := chorustest.Query(env, pipe.ID, StatusQuery, struct{}{})
	require.NoError(t, err)
	require.Equal(t, "escalated to the claims manager", st.Stage)
	require.Equal(t, env.StartTime().Add(decisionTimeout), st.Since)

	env.At(2*decisionTimeout+2*time.Hour, func() {
		chorustest.Signal(env, pipe.ID, Approve, Decision{Approve: false, By: "Mo"})
	})
	out, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "rejected", out.Result)
	require.Equal(t, "LTR-claim-A", out.Reference)
	require.Equal(t, 2*decisionTimeout+2*time.Hour, env.Elapsed())
	require.Equal(t, []int{1, 2}, escalate.Inputs())
	require.Zero(t, pay.Calls())
	require.Equal(t, []string{"assess-claim", "escalate-claim", "escalate-claim", "reject-claim"}, env.ActivitiesRun(pipe.ID))
}

// A decision sent before the claim is even assessed is kept.
func TestClaimDecidedEarly(t *testing.T) {
	t.Parallel()
	env := claimEnv(t)
	run := chorustest.SignalWithStart(env, HandleClaim, pipe, &chorus.StartOptions{ID: pipe.ID}, Approve, Decision{Approve: true, By: "Ana"})
	out, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "Ana", out.DecidedBy)
	require.Zero(t, env.Elapsed())
}
