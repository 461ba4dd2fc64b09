package loan_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/examples/loan-approval/loan"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/saga"
	chorustest "github.com/chorusdev/chorus/testing"
)

// Unit tests of the loan workflow on chorustest's fake clock: every branch
// of the policy, with people played through the inbox.

func people() *human.MemoryDirectory {
	return human.NewMemoryDirectory().Add(
		human.User{ID: "uma", Groups: []string{loan.Underwriters}},
		human.User{ID: "ravi", Groups: []string{loan.Underwriters}},
		human.User{ID: "sofia", Groups: []string{loan.SeniorUnderwriters}},
		human.User{ID: "chen", Groups: []string{loan.CreditCommittee}},
	)
}

type fixture struct {
	env   *chorustest.Env
	inbox *human.Inbox
	ctx   context.Context
}

// newFixture returns an env with everything the workflow needs registered;
// the credit bureaus for which bureauDown (if not nil) reports true do not
// answer.
func newFixture(t *testing.T, bureauDown func(string) bool) *fixture {
	t.Helper()
	dir := people()
	env := chorustest.New(t, &chorustest.Options{Definitions: append(human.Definitions(dir, nil), loan.Process)})
	inbox := human.NewInbox(env.Engine(), dir)
	env.Register(loan.Activities(bureauDown)...)
	env.Register(decide.Definitions(env.Engine())...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &fixture{env: env, inbox: inbox, ctx: ctx}
}

// Applications in each band of the policy (see loan.Score).
var (
	lowRisk    = loan.Application{ID: "ada", Applicant: "Ada", Amount: 10_000_00, Income: 90_000_00, Debts: 5_000_00, History: 12, Employment: "salaried", Bureau: "equifile"}
	mediumRisk = loan.Application{ID: "ben", Applicant: "Ben", Amount: 25_000_00, Income: 60_000_00, Debts: 20_000_00, History: 6, Employment: "salaried", Bureau: "equifile"}
	highRisk   = loan.Application{ID: "dev", Applicant: "Dev", Amount: 30_000_00, Income: 40_000_00, Debts: 22_000_00, Missed: 1, History: 4, Employment: "salaried", Bureau: "equifile"}
)

func TestScoreBands(t *testing.T) {
	require.Less(t, loan.Score(lowRisk).Value, 0.3)
	m := loan.Score(mediumRisk).Value
	require.True(t, m >= 0.3 && m < 0.7, "medium: %v", m)
	require.GreaterOrEqual(t, loan.Score(highRisk).Value, 0.7)
	require.Equal(t, 1.0, loan.Score(loan.Application{}).Value, "no income: highest risk")
	require.Equal(t, 0.5, loan.Score(loan.Application{Income: 1, History: 1}).Confidence)
}

func (f *fixture) start(a loan.Application) *chorus.Run[loan.Outcome] {
	return chorustest.Start(f.env, loan.Process, a, &chorus.StartOptions{ID: a.ID})
}

// task returns the run's underwriting task, once it is in the inbox.
func (f *fixture) task(t *testing.T, runID string) human.TaskView {
	t.Helper()
	f.env.Settle()
	v, err := f.inbox.Task(f.ctx, runID, "underwriting-1")
	require.NoError(t, err)
	return v
}

func (f *fixture) complete(t *testing.T, user, runID string, v loan.Verdict) {
	t.Helper()
	_, err := human.Complete(f.ctx, f.inbox, loan.Underwriting, user, runID, "underwriting-1", v)
	require.NoError(t, err)
}

func (f *fixture) result(t *testing.T, run *chorus.Run[loan.Outcome]) loan.Outcome {
	t.Helper()
	out, err := chorustest.Result(f.env, run)
	require.NoError(t, err)
	return out
}

func TestLowRiskApprovedByModel(t *testing.T) {
	f := newFixture(t, nil)
	out := f.result(t, f.start(lowRisk))
	require.Equal(t, "approved", out.Status)
	require.Equal(t, "PAY-ada", out.Payment)
	require.Equal(t, decide.ByModel, out.Decision.DecidedBy)
	require.Equal(t, "low", out.Decision.Band)
	require.Equal(t, "debt-ratio", out.Decision.ModelName)
	require.Equal(t, []string{"reserve-funds", "decide.watch-status", "credit-score", "decide.watch-report", "pay-out"}, f.env.ActivitiesRun("ada"))
	require.NotContains(t, f.env.Markers("ada"), saga.MarkerStart, "nothing released")
}

func TestUnderwriterApproves(t *testing.T) {
	f := newFixture(t, nil)
	run := f.start(mediumRisk)
	v := f.task(t, "ben")
	require.Equal(t, loan.Underwriters, v.Group)
	c, err := loan.Underwriting.Input(v)
	require.NoError(t, err)
	require.Equal(t, "medium", c.Band)
	require.Equal(t, loan.Score(mediumRisk).Value, c.Score)
	require.Equal(t, "approve", c.Suggestion, "the underwriter sees the model's suggestion")
	require.Equal(t, mediumRisk, c.Application)
	require.Equal(t, v.Created.Add(loan.Deadline), v.Due)

	f.complete(t, "uma", "ben", loan.Verdict{Decision: loan.Approve})
	out := f.result(t, run)
	require.Equal(t, "approved", out.Status)
	require.Equal(t, decide.ByPerson, out.Decision.DecidedBy)
	require.Equal(t, "uma", out.Decision.Person)
	require.True(t, out.Decision.Compared)
	require.True(t, out.Decision.Agreed)
	require.Contains(t, f.env.ActivitiesRun("ben"), "pay-out")
	require.NotContains(t, f.env.ActivitiesRun("ben"), "release-funds")
}

func TestUnderwriterDeclinesAndFundsAreReleased(t *testing.T) {
	f := newFixture(t, nil)
	release := chorustest.OnActivity(f.env, loan.ReleaseFunds)
	run := f.start(mediumRisk)
	f.task(t, "ben")

	// A decision that is neither approve nor decline is refused; the task
	// stays open.
	_, err := f.inbox.Complete(f.ctx, "ravi", "ben", "underwriting-1", map[string]string{"Decision": "maybe"})
	require.ErrorIs(t, err, human.ErrInvalidOutcome)
	require.Equal(t, human.StateOpen, f.task(t, "ben").State)

	f.complete(t, "ravi", "ben", loan.Verdict{Decision: loan.Decline, Note: "income does not cover it"})
	out := f.result(t, run)
	require.Equal(t, "declined", out.Status)
	require.Equal(t, "ravi", out.Decision.Person)
	require.False(t, out.Decision.Agreed, "the model suggested approving")
	require.Empty(t, out.Payment)
	require.Equal(t, []loan.Reservation{{ID: "RSV-ben", Application: "ben", Amount: mediumRisk.Amount}}, release.Inputs())
	require.NotContains(t, f.env.ActivitiesRun("ben"), "pay-out")
	var sagaMarkers []string
	for _, m := range f.env.Markers("ben") {
		if m == saga.MarkerStart || m == saga.MarkerDone {
			sagaMarkers = append(sagaMarkers, m)
		}
	}
	require.Equal(t, []string{saga.MarkerStart, saga.MarkerDone}, sagaMarkers)
}

func TestHighRiskGoesToSeniorUnderwriter(t *testing.T) {
	f := newFixture(t, nil)
	run := f.start(highRisk)
	v := f.task(t, "dev")
	require.Equal(t, loan.SeniorUnderwriters, v.Group)
	c, err := loan.Underwriting.Input(v)
	require.NoError(t, err)
	require.Equal(t, "high", c.Band)
	require.Equal(t, "decline", c.Suggestion)

	// An underwriter may not decide a senior case.
	_, err = human.Complete(f.ctx, f.inbox, loan.Underwriting, "uma", "dev", "underwriting-1", loan.Verdict{Decision: loan.Approve})
	require.ErrorIs(t, err, human.ErrNotAuthorized)

	f.complete(t, "sofia", "dev", loan.Verdict{Decision: loan.Decline})
	out := f.result(t, run)
	require.Equal(t, "declined", out.Status)
	require.Equal(t, "sofia", out.Decision.Person)
	require.True(t, out.Decision.Agreed)
	require.Contains(t, f.env.ActivitiesRun("dev"), "release-funds")
}

// Nobody decides within the 48-hour SLA: the case escalates to the senior
// underwriters, with a higher priority, and one of them decides.
func TestSLAEscalatesThenSeniorDecides(t *testing.T) {
	f := newFixture(t, nil)
	run := f.start(mediumRisk)
	f.task(t, "ben")
	_, err := f.inbox.Claim(f.ctx, "uma", "ben", "underwriting-1")
	require.NoError(t, err)

	f.env.Advance(loan.SLA - time.Minute)
	require.Equal(t, loan.Underwriters, f.task(t, "ben").Group, "not yet")
	f.env.Advance(time.Minute)
	v := f.task(t, "ben")
	require.Equal(t, loan.SeniorUnderwriters, v.Group)
	require.Empty(t, v.ClaimedBy, "uma's claim is dropped")
	require.Equal(t, 5, v.Priority)
	var trail []string
	for _, e := range v.Audit {
		if e.Action != "notified" { // runs beside the task: its place varies
			trail = append(trail, e.Action+" "+e.User)
		}
	}
	require.Equal(t, []string{"created ", "assigned ", "claimed uma", "escalated ", "assigned "}, trail)

	_, err = human.Complete(f.ctx, f.inbox, loan.Underwriting, "uma", "ben", "underwriting-1", loan.Verdict{Decision: loan.Approve})
	require.ErrorIs(t, err, human.ErrNotAuthorized, "the case left uma's group")
	list, err := f.inbox.List(f.ctx, "sofia")
	require.NoError(t, err)
	require.Len(t, list, 1)

	f.env.Advance(2 * time.Hour)
	f.complete(t, "sofia", "ben", loan.Verdict{Decision: loan.Approve})
	out := f.result(t, run)
	require.Equal(t, "approved", out.Status)
	require.Equal(t, "sofia", out.Decision.Person)
	require.Equal(t, loan.SLA+2*time.Hour, f.env.Elapsed())
}

// Nobody decides at all: after the deadline the application fails and the
// reservation is released.
func TestDeadlineFailsAndReleasesFunds(t *testing.T) {
	f := newFixture(t, nil)
	release := chorustest.OnActivity(f.env, loan.ReleaseFunds)
	_, err := chorustest.Result(f.env, f.start(mediumRisk))
	require.ErrorContains(t, err, human.ErrTimedOut.Error())
	require.ErrorContains(t, err, "saga compensated 1 step(s)")
	require.Equal(t, loan.Deadline, f.env.Elapsed())
	require.Equal(t, 1, release.Calls())
	require.Equal(t, human.StateTimedOut, f.task(t, "ben").State)
}

// The credit bureau does not answer: after the model's 2-second timeout
// the case goes to an underwriter without a score or suggestion.
func TestModelTimeoutFallsBackToUnderwriter(t *testing.T) {
	f := newFixture(t, nil)
	// The scoring call would take an hour of fake time.
	chorustest.OnActivity(f.env, loan.Credit.Definition()).After(time.Hour).Return(loan.Score(lowRisk), nil)
	run := f.start(lowRisk)
	f.env.Advance(loan.ModelTimeout)
	v := f.task(t, "ada")
	require.Equal(t, loan.Underwriters, v.Group)
	c, err := loan.Underwriting.Input(v)
	require.NoError(t, err)
	require.Equal(t, "timeout", c.Fallback)
	require.Empty(t, c.Suggestion)
	require.Empty(t, c.Band)

	f.complete(t, "uma", "ada", loan.Verdict{Decision: loan.Approve})
	out := f.result(t, run)
	require.Equal(t, "approved", out.Status)
	require.Equal(t, decide.FallbackTimeout, out.Decision.Fallback)
	require.False(t, out.Decision.Scored)
	require.Equal(t, "uma", out.Decision.Person)
	require.False(t, out.Decision.Compared, "no suggestion to compare")
}

// The same with the real scoring service, whose bureau hangs until the
// call is canceled.
func TestBureauDownFallsBackToUnderwriter(t *testing.T) {
	scoring := make(chan struct{}, 1)
	f := newFixture(t, func(bureau string) bool {
		scoring <- struct{}{}
		return bureau == "northcredit"
	})
	a := lowRisk
	a.Bureau = "northcredit"
	run := f.start(a)
	// The attempt runs (so its timer is armed) and blocks: the env does not
	// move the clock while an attempt runs, the test does.
	select {
	case <-scoring:
	case <-f.ctx.Done():
		t.Fatal("the model was not called")
	}
	f.env.Clock().Add(loan.ModelTimeout)
	v := f.task(t, "ada")
	c, err := loan.Underwriting.Input(v)
	require.NoError(t, err)
	require.Equal(t, "timeout", c.Fallback)
	f.complete(t, "ravi", "ada", loan.Verdict{Decision: loan.Decline})
	out := f.result(t, run)
	require.Equal(t, "declined", out.Status)
	require.Equal(t, decide.FallbackTimeout, out.Decision.Fallback)
}

// Underwriters keep declining cases the model suggests approving: once the
// window of 6 is full and agreement is below half, the watch switches the
// model off, and a low-risk case goes to a person. An operator switches it
// back on.
func TestDriftSwitchesModelOff(t *testing.T) {
	f := newFixture(t, nil)
	freelancer := mediumRisk
	freelancer.Employment = "freelance"
	for i := 1; i <= 6; i++ {
		st, err := decide.WatchStatus(f.ctx, f.env.Engine(), loan.Credit.Name())
		require.NoError(t, err)
		require.True(t, st.Enabled, "on before case %d", i)
		a := freelancer
		a.ID = "free-" + string(rune('0'+i))
		run := f.start(a)
		c, err := loan.Underwriting.Input(f.task(t, a.ID))
		require.NoError(t, err)
		require.Equal(t, "approve", c.Suggestion)
		f.complete(t, "ravi", a.ID, loan.Verdict{Decision: loan.Decline, Note: "irregular income"})
		require.Equal(t, "declined", f.result(t, run).Status)
	}
	st, err := decide.WatchStatus(f.ctx, f.env.Engine(), loan.Credit.Name())
	require.NoError(t, err)
	require.False(t, st.Enabled, "switched off")
	require.Equal(t, "watch", st.Switches[len(st.Switches)-1].By)

	// A low-risk case now goes to an underwriter, without a suggestion.
	run := f.start(lowRisk)
	v := f.task(t, "ada")
	require.Equal(t, loan.Underwriters, v.Group)
	c, err := loan.Underwriting.Input(v)
	require.NoError(t, err)
	require.Equal(t, "model-off", c.Fallback)
	require.Empty(t, c.Suggestion)
	require.Equal(t, "low", c.Band, "still scored, for the watch")
	f.complete(t, "uma", "ada", loan.Verdict{Decision: loan.Approve})
	out := f.result(t, run)
	require.Equal(t, decide.FallbackModelOff, out.Decision.Fallback)
	require.Equal(t, decide.ByPerson, out.Decision.DecidedBy)

	// Re-enabled by an operator, the model decides a low risk again.
	st, err = decide.Enable(f.ctx, f.env.Engine(), loan.Credit.Name(), "olga")
	require.NoError(t, err)
	require.True(t, st.Enabled)
	b := lowRisk
	b.ID = "ada-2"
	out = f.result(t, f.start(b))
	require.Equal(t, decide.ByModel, out.Decision.DecidedBy)
}

// A senior case nobody decides within the SLA goes to the credit
// committee.
func TestSeniorSLAEscalatesToCommittee(t *testing.T) {
	f := newFixture(t, nil)
	run := f.start(highRisk)
	f.task(t, "dev")
	f.env.Advance(loan.SLA)
	v := f.task(t, "dev")
	require.Equal(t, loan.CreditCommittee, v.Group)
	f.complete(t, "chen", "dev", loan.Verdict{Decision: loan.Approve, Note: "collateral offered"})
	out := f.result(t, run)
	require.Equal(t, "approved", out.Status)
	require.Equal(t, "chen", out.Decision.Person)
	require.False(t, out.Decision.Agreed, "the model suggested declining")
}

// A low risk the model is not sure of (a short credit history) goes to an
// underwriter, with the model's suggestion.
func TestLowConfidenceGoesToUnderwriter(t *testing.T) {
	f := newFixture(t, nil)
	a := lowRisk
	a.History = 1
	run := f.start(a)
	c, err := loan.Underwriting.Input(f.task(t, "ada"))
	require.NoError(t, err)
	require.Equal(t, "low-confidence", c.Fallback)
	require.Equal(t, 0.5, c.Confidence)
	require.Equal(t, "approve", c.Suggestion)
	f.complete(t, "uma", "ada", loan.Verdict{Decision: loan.Approve})
	out := f.result(t, run)
	require.Equal(t, decide.FallbackLowConfidence, out.Decision.Fallback)
	require.Equal(t, "uma", out.Decision.Person)
}
