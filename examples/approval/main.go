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
//
// The workflow and its activities are in package claim, beside this file.
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
	"github.com/chorusdev/chorus/examples/approval/claim"
)

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
	fmt.Printf("[clock] fake clock set to %s; the program moves it forward, nothing really waits\n", mock.Now().Format(claim.ClockFormat))

	eng, err := chorus.Open(ctx, db, &chorus.Options{Clock: mock})
	if err != nil {
		return err
	}
	defer closeEngine(eng)
	if err := eng.Register(claim.HandleClaim, claim.Assess, claim.Escalate, claim.Pay, claim.Reject); err != nil {
		return err
	}

	// Both claims are filed at the same (fake) time. Each waits for a
	// decision once it is assessed.
	claims := []claim.Claim{
		{ID: "claim-A", Claimant: "Jo Park", What: "burst pipe", Cents: 240000},
		{ID: "claim-B", Claimant: "Sam Ortiz", What: "hail damage", Cents: 910000},
	}
	runs := map[string]*chorus.Run[claim.Outcome]{}
	for _, c := range claims {
		if runs[c.ID], err = chorus.Start(ctx, eng, claim.HandleClaim, c, &chorus.StartOptions{ID: c.ID}); err != nil {
			return err
		}
		if err := status(ctx, eng, c.ID, "awaiting approval"); err != nil {
			return err
		}
	}

	// Claim A: the adjuster answers after 3 hours.
	advance(mock, 3*time.Hour)
	if err := decide(ctx, eng, runs["claim-A"], claim.Decision{Approve: true, By: "Ana (adjuster)"}); err != nil {
		return err
	}
	// Claim B: nobody answers. At 48 hours its timer fires and it escalates;
	// the manager decides 2 hours later.
	advance(mock, claim.DecisionTimeout-3*time.Hour)
	if err := status(ctx, eng, "claim-B", "escalated"); err != nil {
		return err
	}
	advance(mock, 2*time.Hour)
	return decide(ctx, eng, runs["claim-B"], claim.Decision{Approve: managerApproves, By: "Mo (claims manager)"})
}

// advance moves the fake clock; the engine's timers fire as it passes them.
func advance(mock *clock.Mock, d time.Duration) {
	fmt.Printf("[clock] moving the fake clock %s ahead, to %s\n", claim.Hours(d), mock.Now().Add(d).Format(claim.ClockFormat))
	mock.Add(d)
}

// decide sends a decision to a waiting claim (Signal returns once it is
// journaled), prints how the claim ends and its status afterwards.
func decide(ctx context.Context, eng *chorus.Engine, r *chorus.Run[claim.Outcome], d claim.Decision) error {
	verb := "approves"
	if !d.Approve {
		verb = "rejects"
	}
	fmt.Printf("[person] %s %s %s\n", d.By, verb, r.ID())
	if err := chorus.Signal(ctx, eng, r.ID(), claim.Approve, d); err != nil {
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
		st, err := chorus.Query(ctx, eng, id, claim.StatusQuery, struct{}{})
		if err != nil {
			return fmt.Errorf("query %s: %w", id, err)
		}
		if strings.HasPrefix(st.Stage, want) {
			fmt.Printf("[query] %s status: %s since %s, %s covered, %d escalation(s)\n",
				id, st.Stage, st.Since.Format(claim.ClockFormat), claim.Dollars(st.Cents), st.Escalations)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is still %q, want %q: %w", id, st.Stage, want, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// closeEngine gives running activities up to 10 seconds to finish; then
// they are interrupted without a recorded failure and run again after the
// next Open.
func closeEngine(eng *chorus.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "approval: close:", err)
	}
}
