// Command approval handles insurance claims that need a person to decide.
// The workflow assesses the claim, then waits for an "approve" signal for at
// most 48 hours; when nobody answers in time it escalates and waits again.
// The wait is a durable timer in the journal, not a sleeping goroutine: a
// claim can wait for days across restarts and deployments.
//
// To show two days of waiting in a second, the program runs on a fake clock
// and moves it forward itself. Claim A is approved after 3 hours; claim B
// gets no answer, is escalated at 48 hours, and a manager decides it.
//
//	go run ./examples/approval
//	go run ./examples/approval -manager reject
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus"
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

// decisionTimeout is how long a claim waits for a person before escalating.
const decisionTimeout = 48 * time.Hour

const deductible = 25000 // cents

// Activities talk to the outside world: here they only print.
var (
	// Assess returns the amount the policy covers, in cents.
	Assess = activity.New("assess-claim", func(ctx context.Context, c Claim) (int64, error) {
		covered := max(c.Cents-deductible, 0)
		fmt.Printf("[activity] assess-claim: %s (%s, %s claimed): covered %s after the deductible\n", c.ID, c.What, dollars(c.Cents), dollars(covered))
		return covered, nil
	})
	// Escalate pages someone more senior for the nth time and says whom.
	Escalate = activity.New("escalate-claim", func(ctx context.Context, n int) (string, error) {
		to := "the claims manager"
		if n > 1 {
			to = "the head of claims"
		}
		claim := activity.GetInfo(ctx).RunID // the claim ID is the run ID
		fmt.Printf("[activity] escalate-claim: %s: no decision in %s, paged %s (level %d)\n", claim, hours(decisionTimeout), to, n)
		return to, nil
	})
	Pay = activity.New("pay-claim", func(ctx context.Context, p Payout) (string, error) {
		// The idempotency key is what a real payment API would deduplicate on.
		key := activity.GetInfo(ctx).IdempotencyKey
		fmt.Printf("[activity] pay-claim: paid %s to %s (idempotency key %s)\n", dollars(p.Cents), p.Claim.Claimant, key)
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
			fmt.Printf("[workflow] %s %s: %s\n", workflow.Now(ctx).Format(clockFormat), c.ID, fmt.Sprintf(format, args...))
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
		say("%s; waiting up to %s for a decision", st.Stage, hours(decisionTimeout))
		var ok bool
		if d, ok = decisions.ReceiveWithTimeout(ctx, decisionTimeout); ok {
			break
		}
		st.Escalations++
		say("nobody decided within %s: escalating", hours(decisionTimeout))
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
	return Outcome{ClaimID: c.ID, Result: "paid " + dollars(covered), DecidedBy: d.By, Reference: ref}, nil
})

const clockFormat = "Mon 02 Jan 15:04"

func dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

// hours prints a whole number of hours as "48h" rather than "48h0m0s".
func hours(d time.Duration) string { return strings.TrimSuffix(d.String(), "0m0s") }

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "chorus-approval.db"), "journal database `file` (recreated on each run)")
	manager := flag.String("manager", "approve", "what the manager decides for claim B: approve or reject")
	flag.Parse()
	if *manager != "approve" && *manager != "reject" {
		fmt.Fprintln(os.Stderr, "approval: -manager must be approve or reject")
		os.Exit(2)
	}
	if err := run(*db, *manager == "approve"); err != nil {
		fmt.Fprintln(os.Stderr, "approval:", err)
		os.Exit(1)
	}
}

func run(db string, managerApproves bool) error {
	ctx := context.Background()
	// The demo plays a fixed timeline on a fake clock, so it starts from an
	// empty journal every time.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	mock := clock.NewMock()
	mock.Set(time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC))
	fmt.Println("database:", db)
	fmt.Printf("[clock] fake clock set to %s; the program moves it forward, nothing really waits\n", mock.Now().Format(clockFormat))

	eng, err := chorus.Open(ctx, db, &chorus.Options{Clock: mock})
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	if err := eng.Register(HandleClaim, Assess, Escalate, Pay, Reject); err != nil {
		return err
	}

	// Both claims are filed at the same (fake) time. Each waits for a
	// decision once it is assessed.
	claims := []Claim{
		{ID: "claim-A", Claimant: "Jo Park", What: "burst pipe", Cents: 240000},
		{ID: "claim-B", Claimant: "Sam Ortiz", What: "hail damage", Cents: 910000},
	}
	runs := map[string]*chorus.Run[Outcome]{}
	for _, c := range claims {
		if runs[c.ID], err = chorus.Start(ctx, eng, HandleClaim, c, &chorus.StartOptions{ID: c.ID}); err != nil {
			return err
		}
		if err := status(ctx, eng, c.ID, "awaiting approval"); err != nil {
			return err
		}
	}

	// Claim A: the adjuster answers after 3 hours.
	advance(mock, 3*time.Hour)
	if err := decide(ctx, eng, runs["claim-A"], Decision{Approve: true, By: "Ana (adjuster)"}); err != nil {
		return err
	}
	// Claim B: nobody answers. At 48 hours its timer fires and it escalates;
	// the manager decides 2 hours later.
	advance(mock, decisionTimeout-3*time.Hour)
	if err := status(ctx, eng, "claim-B", "escalated"); err != nil {
		return err
	}
	advance(mock, 2*time.Hour)
	return decide(ctx, eng, runs["claim-B"], Decision{Approve: managerApproves, By: "Mo (claims manager)"})
}

// advance moves the fake clock; the engine's timers fire as it passes them.
func advance(mock *clock.Mock, d time.Duration) {
	fmt.Printf("[clock] moving the fake clock %s ahead, to %s\n", hours(d), mock.Now().Add(d).Format(clockFormat))
	mock.Add(d)
}

// decide sends a decision to a waiting claim (Signal returns once it is
// journaled), prints how the claim ends and its status afterwards.
func decide(ctx context.Context, eng *chorus.Engine, r *chorus.Run[Outcome], d Decision) error {
	verb := "approves"
	if !d.Approve {
		verb = "rejects"
	}
	fmt.Printf("[person] %s %s %s\n", d.By, verb, r.ID())
	if err := chorus.Signal(ctx, eng, r.ID(), Approve, d); err != nil {
		return err
	}
	out, err := r.Result(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("result: %s %s by %s (ref %s)\n", out.ClaimID, out.Result, out.DecidedBy, out.Reference)
	return status(ctx, eng, r.ID(), "")
}

// status asks the claim for its status until the stage begins with want,
// and prints it. The demo must wait like this before it moves the fake
// clock: a timer exists once the step that created it is committed, and a
// query is answered only after that commit, so a claim that says it is
// waiting has its timer armed. (With a real clock there is nothing to wait
// for.)
func status(ctx context.Context, eng *chorus.Engine, id, want string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		st, err := chorus.Query(ctx, eng, id, StatusQuery, struct{}{})
		if err != nil {
			return fmt.Errorf("query %s: %w", id, err)
		}
		if strings.HasPrefix(st.Stage, want) {
			fmt.Printf("[query] %s status: %s since %s, %s covered, %d escalation(s)\n",
				id, st.Stage, st.Since.Format(clockFormat), dollars(st.Cents), st.Escalations)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is still %q, want %q: %w", id, st.Stage, want, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}
