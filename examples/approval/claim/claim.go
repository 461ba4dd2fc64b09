// Package claim is the workflow of the approval program: an insurance claim
// that is assessed, then waits up to 48 hours for a person's decision (an
// "approve" signal raced against a durable timer), escalates when nobody
// answers, and pays out or rejects. It is a package of its own so that
// tests (and replay/, which replays its recorded histories) can import it.
package claim

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

type (
	Claim struct {
		ID, Claimant, What string
		Cents              int64 // amount claimed
	}
	Decision struct {
		Approve bool
		By      string
	}
	Payout struct {
		Claim Claim
		Cents int64
	}
	Outcome struct{ ClaimID, Result, DecidedBy, Reference string }
	// Status is what the "status" query answers: the workflow's own state,
	// read from memory (or from a replay of the journal) without changing it.
	Status struct {
		Stage       string
		Cents       int64
		Escalations int
		Since       time.Time
	}
)

// A signal and a query are typed: sending a Decision to Approve, or reading
// a Status from StatusQuery, is checked by the compiler.
var (
	Approve     = workflow.NewSignal[Decision]("approve")
	StatusQuery = workflow.NewQuery[struct{}, Status]("status")
)

// DecisionTimeout is how long a claim waits for a person before escalating.
const DecisionTimeout = 48 * time.Hour

const deductible = 25000 // cents

// Activities talk to the outside world: here they only print.
var (
	// Assess returns the amount the policy covers, in cents.
	Assess = activity.New("assess-claim", func(ctx context.Context, c Claim) (int64, error) {
		covered := max(c.Cents-deductible, 0)
		fmt.Printf("[activity] assess-claim: %s (%s, %s claimed): covered %s after the deductible\n", c.ID, c.What, Dollars(c.Cents), Dollars(covered))
		return covered, nil
	})
	// Escalate pages someone more senior for the nth time and says whom.
	Escalate = activity.New("escalate-claim", func(ctx context.Context, n int) (string, error) {
		to := "the claims manager"
		if n > 1 {
			to = "the head of claims"
		}
		claim := activity.GetInfo(ctx).RunID // the claim ID is the run ID
		fmt.Printf("[activity] escalate-claim: %s: no decision in %s, paged %s (level %d)\n", claim, Hours(DecisionTimeout), to, n)
		return to, nil
	})
	Pay = activity.New("pay-claim", func(ctx context.Context, p Payout) (string, error) {
		// The idempotency key is what a real payment API would deduplicate on.
		key := activity.GetInfo(ctx).IdempotencyKey
		fmt.Printf("[activity] pay-claim: paid %s to %s (idempotency key %s)\n", Dollars(p.Cents), p.Claim.Claimant, key)
		return "PAY-" + p.Claim.ID, nil
	})
	Reject = activity.New("reject-claim", func(ctx context.Context, c Claim) (string, error) {
		fmt.Printf("[activity] reject-claim: sent a rejection letter to %s\n", c.Claimant)
		return "LTR-" + c.ID, nil
	})
)

// HandleClaim is the workflow. Its prints are guarded by IsReplaying so that
// a run rebuilt from its journal (after a crash, or to answer a query about
// a finished claim) does not announce its steps twice.
var HandleClaim = workflow.New("handle-claim", func(ctx workflow.Context, c Claim) (Outcome, error) {
	say := func(format string, args ...any) {
		if !workflow.IsReplaying(ctx) {
			fmt.Printf("[workflow] %s %s: %s\n", workflow.Now(ctx).Format(ClockFormat), c.ID, fmt.Sprintf(format, args...))
		}
	}
	var st Status
	stage := func(s string) { st.Stage, st.Since = s, workflow.Now(ctx) }
	workflow.SetQueryHandler(ctx, StatusQuery, func(struct{}) (Status, error) { return st, nil })

	stage("assessing")
	say("assessing")
	covered, err := workflow.ExecuteActivity(ctx, Assess, c).Get(ctx)
	if err != nil {
		return Outcome{}, err
	}
	st.Cents = covered
	stage("awaiting approval")

	// Signals are journaled when they arrive, so a decision sent before the
	// code gets here is not lost. Each round of waiting has its own durable
	// timer; ReceiveWithTimeout cancels it when a decision wins.
	decisions := workflow.GetSignalChannel(ctx, Approve)
	var d Decision
	for {
		say("%s; waiting up to %s for a decision", st.Stage, Hours(DecisionTimeout))
		var ok bool
		if d, ok = decisions.ReceiveWithTimeout(ctx, DecisionTimeout); ok {
			break
		}
		st.Escalations++
		say("nobody decided within %s: escalating", Hours(DecisionTimeout))
		to, err := workflow.ExecuteActivity(ctx, Escalate, st.Escalations).Get(ctx)
		if err != nil {
			return Outcome{}, err
		}
		stage("escalated to " + to)
	}

	if !d.Approve {
		say("rejected by %s", d.By)
		stage("rejecting")
		ref, err := workflow.ExecuteActivity(ctx, Reject, c).Get(ctx)
		if err != nil {
			return Outcome{}, err
		}
		stage("rejected by " + d.By)
		return Outcome{ClaimID: c.ID, Result: "rejected", DecidedBy: d.By, Reference: ref}, nil
	}
	say("approved by %s; paying out", d.By)
	stage("paying")
	ref, err := workflow.ExecuteActivity(ctx, Pay, Payout{Claim: c, Cents: covered}).Get(ctx)
	if err != nil {
		return Outcome{}, err
	}
	stage("paid, approved by " + d.By)
	return Outcome{ClaimID: c.ID, Result: "paid " + Dollars(covered), DecidedBy: d.By, Reference: ref}, nil
})

// ClockFormat is how the program prints the (fake) time.
const ClockFormat = "Mon 02 Jan 15:04"

// Dollars prints an amount in cents as dollars.
func Dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

// Hours prints a whole number of hours as "48h" rather than "48h0m0s".
func Hours(d time.Duration) string { return strings.TrimSuffix(d.String(), "0m0s") }
