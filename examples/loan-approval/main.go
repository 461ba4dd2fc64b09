// Command loan-approval decides loan applications with a credit-score model
// and people in the loop. Each application's funds are reserved first; the
// model's score puts it in a band: low risk is approved by the model,
// medium goes to an underwriter with the model's suggestion, high to a
// senior underwriter. A decline releases the reservation through the saga.
//
// The program plays nine scenarios (eleven applications), one after the
// other, and prints the story of each. The underwriters are simulated by
// code that works the human-task inbox as named users; the program runs on
// a fake clock and moves it forward itself, so the 48-hour SLA passes in an
// instant:
//
//  1. ada: low risk, approved by the model.
//  2. ben: medium risk, an underwriter approves, as the model suggested.
//  3. cleo: medium risk, an underwriter declines; the funds are released.
//  4. dev: high risk, a senior underwriter declines; an underwriter may not.
//  5. eve: nobody decides within the 48-hour SLA; the case escalates to
//     the senior underwriters, and one of them approves.
//  6. finn: the credit bureau does not answer, the scoring call times out
//     after 2 seconds, and an underwriter decides without a score.
//  7. gus, hana, ivan: freelancers the model rates medium and suggests
//     approving; underwriters decline each. Agreement drops below half of
//     the last 6 cases and the drift watch switches the model off.
//  8. jo: low risk, but the model is off: an underwriter decides.
//  9. kim: an operator switches the model back on; it approves kim.
//
// Run it with:
//
//	go run ./examples/loan-approval
//
// The workflow and its activities are in package loan, beside this file.
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
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/examples/loan-approval/loan"
	"github.com/chorusdev/chorus/human"
)

// clockFormat is how the program prints fake times.
const clockFormat = "Mon 02 Jan 15:04"

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "chorus-loan-approval.db"), "journal database `file` (recreated on each run)")
	flag.Parse()
	if err := run(*db); err != nil {
		fmt.Fprintln(os.Stderr, "loan-approval:", err)
		os.Exit(1)
	}
}

// The bank's people.
func people() *human.MemoryDirectory {
	return human.NewMemoryDirectory().Add(
		human.User{ID: "uma", Name: "Uma", Groups: []string{loan.Underwriters}},
		human.User{ID: "ravi", Name: "Ravi", Groups: []string{loan.Underwriters}},
		human.User{ID: "sofia", Name: "Sofia", Groups: []string{loan.SeniorUnderwriters}},
		human.User{ID: "chen", Name: "Chen", Groups: []string{loan.CreditCommittee}},
	)
}

// demo holds what the scenarios share.
type demo struct {
	ctx     context.Context
	eng     *chorus.Engine
	inbox   *human.Inbox
	mock    *clock.Mock
	notices chan human.Notice
	hung    chan string // the scoring service waits for a bureau that does not answer
}

func run(db string) error {
	ctx := context.Background()
	// The demo plays a fixed timeline on a fake clock, so it starts from an
	// empty journal every time.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	fmt.Println("database:", db)
	fmt.Printf("[clock] fake clock set to %s; the program moves it forward, nothing really waits\n", mock.Now().Format(clockFormat))

	d := &demo{ctx: ctx, mock: mock, notices: make(chan human.Notice, 100), hung: make(chan string, 10)}
	// Notifications (email, chat) go to the simulated people, who act on them.
	notifier := human.NotifierFunc(func(_ context.Context, n human.Notice) error {
		d.notices <- n
		return nil
	})
	dir := people()
	eng, err := chorus.Open(ctx, db, &chorus.Options{Clock: mock, Definitions: append(human.Definitions(dir, notifier), loan.Process)})
	if err != nil {
		return err
	}
	defer closeEngine(eng)
	d.eng, d.inbox = eng, human.NewInbox(eng, dir)
	// The credit bureau NorthCredit is down: the scoring service waits for
	// it until the model's timeout cancels the call.
	bureauDown := func(bureau string) bool {
		if bureau != "northcredit" {
			return false
		}
		d.hung <- bureau
		return true
	}
	if err := eng.Register(loan.Activities(bureauDown)...); err != nil {
		return err
	}
	if err := eng.Register(decide.Definitions(eng)...); err != nil {
		return err
	}

	for _, s := range []func() error{
		d.lowRisk, d.underwriterApproves, d.underwriterDeclines, d.seniorDeclines,
		d.slaEscalates, d.modelTimesOut, d.drift, d.modelOff, d.reEnabled,
	} {
		if err := s(); err != nil {
			return err
		}
	}
	st, err := decide.WatchStatus(ctx, eng, loan.Credit.Name())
	if err != nil {
		return err
	}
	c := st.Counters
	fmt.Printf("\n[summary] %d decisions: %d by the model, %d by people (%d after a timeout, %d with the model off); people agreed with %d of the model's %d suggestions\n",
		c.Decisions, c.Automated, c.Manual, c.Fallbacks[decide.FallbackTimeout], c.Fallbacks[decide.FallbackModelOff], c.Agreed, c.Compared)
	return nil
}

func (d *demo) lowRisk() error {
	d.scenario("1. ada: low risk, approved by the model")
	r, err := d.start(loan.Application{ID: "ada", Applicant: "Ada", Amount: 10_000_00, Income: 90_000_00, Debts: 5_000_00, History: 12, Employment: "salaried", Bureau: "equifile"})
	if err != nil {
		return err
	}
	return d.result(r)
}

func (d *demo) underwriterApproves() error {
	d.scenario("2. ben: medium risk, an underwriter approves")
	r, err := d.start(loan.Application{ID: "ben", Applicant: "Ben", Amount: 25_000_00, Income: 60_000_00, Debts: 20_000_00, History: 6, Employment: "salaried", Bureau: "equifile"})
	if err != nil {
		return err
	}
	if err := d.notified(); err != nil {
		return err
	}
	if err := d.decide("uma", r.ID(), loan.Verdict{Decision: loan.Approve}); err != nil {
		return err
	}
	return d.result(r)
}

func (d *demo) underwriterDeclines() error {
	d.scenario("3. cleo: medium risk, an underwriter declines; the reserved funds are released")
	r, err := d.start(loan.Application{ID: "cleo", Applicant: "Cleo", Amount: 20_000_00, Income: 50_000_00, Debts: 15_000_00, Missed: 1, History: 5, Employment: "salaried", Bureau: "equifile"})
	if err != nil {
		return err
	}
	if err := d.notified(); err != nil {
		return err
	}
	t, err := d.open("ravi", r.ID())
	if err != nil {
		return err
	}
	// A malformed decision is refused, and the task stays open.
	_, err = d.inbox.Complete(d.ctx, "ravi", t.RunID, t.ID, map[string]string{"Decision": "maybe"})
	fmt.Printf("[ravi] decides \"maybe\": %v\n", err)
	if err := d.answer("ravi", t, loan.Verdict{Decision: loan.Decline, Note: "a missed payment and debts at 70% of income"}); err != nil {
		return err
	}
	return d.result(r)
}

func (d *demo) seniorDeclines() error {
	d.scenario("4. dev: high risk, to a senior underwriter")
	r, err := d.start(loan.Application{ID: "dev", Applicant: "Dev", Amount: 30_000_00, Income: 40_000_00, Debts: 22_000_00, Missed: 1, History: 4, Employment: "salaried", Bureau: "equifile"})
	if err != nil {
		return err
	}
	if err := d.notified(); err != nil {
		return err
	}
	_, err = d.inbox.Claim(d.ctx, "uma", r.ID(), loan.Underwriting.Name()+"-1")
	fmt.Printf("[uma] claims dev's case: %v\n", err)
	if err := d.decide("sofia", r.ID(), loan.Verdict{Decision: loan.Decline}); err != nil {
		return err
	}
	return d.result(r)
}

func (d *demo) slaEscalates() error {
	d.scenario("5. eve: nobody decides within the 48-hour SLA; the case escalates")
	r, err := d.start(loan.Application{ID: "eve", Applicant: "Eve", Amount: 15_000_00, Income: 50_000_00, Debts: 20_000_00, History: 8, Employment: "salaried", Bureau: "equifile"})
	if err != nil {
		return err
	}
	if err := d.notified(); err != nil {
		return err
	}
	d.advance(loan.SLA)
	if err := d.notified(); err != nil {
		return err
	}
	d.advance(2 * time.Hour)
	if err := d.decide("sofia", r.ID(), loan.Verdict{Decision: loan.Approve}); err != nil {
		return err
	}
	if err := d.result(r); err != nil {
		return err
	}
	audit, err := d.inbox.Audit(d.ctx, r.ID(), loan.Underwriting.Name()+"-1")
	if err != nil {
		return err
	}
	fmt.Println("[audit] eve's task:")
	for _, a := range audit {
		if a.Action == "notified" { // runs beside the task: its place varies
			continue
		}
		fmt.Println(strings.TrimRight(fmt.Sprintf("[audit]   %s %-9s %-5s %s", a.At.Format(clockFormat), a.Action, a.User, a.Detail), " "))
	}
	return nil
}

func (d *demo) modelTimesOut() error {
	d.scenario("6. finn: the scoring call times out; an underwriter decides without a score")
	r, err := d.start(loan.Application{ID: "finn", Applicant: "Finn", Amount: 8_000_00, Income: 70_000_00, Debts: 4_000_00, History: 9, Employment: "salaried", Bureau: "northcredit"})
	if err != nil {
		return err
	}
	if err := d.wait(func() bool {
		select {
		case b := <-d.hung:
			fmt.Printf("[bureau] %s does not answer; the scoring service waits\n", b)
			return true
		default:
			return false
		}
	}, "the scoring call"); err != nil {
		return err
	}
	d.advance(loan.ModelTimeout)
	if err := d.notified(); err != nil {
		return err
	}
	if err := d.decide("uma", r.ID(), loan.Verdict{Decision: loan.Approve}); err != nil {
		return err
	}
	return d.result(r)
}

func (d *demo) drift() error {
	d.scenario("7. gus, hana, ivan: freelancers; underwriters disagree with the model until the watch switches it off")
	for _, a := range []loan.Application{
		{ID: "gus", Applicant: "Gus", Amount: 20_000_00, Income: 50_000_00, Debts: 14_000_00, History: 3, Employment: "freelance", Bureau: "equifile"},
		{ID: "hana", Applicant: "Hana", Amount: 18_000_00, Income: 48_000_00, Debts: 16_000_00, History: 5, Employment: "freelance", Bureau: "equifile"},
		{ID: "ivan", Applicant: "Ivan", Amount: 22_000_00, Income: 45_000_00, Debts: 12_000_00, History: 4, Employment: "freelance", Bureau: "equifile"},
	} {
		r, err := d.start(a)
		if err != nil {
			return err
		}
		if err := d.notified(); err != nil {
			return err
		}
		if err := d.decide("ravi", r.ID(), loan.Verdict{Decision: loan.Decline, Note: "irregular freelance income"}); err != nil {
			return err
		}
		if err := d.result(r); err != nil {
			return err
		}
		if err := d.watch(); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) modelOff() error {
	d.scenario("8. jo: low risk, but the model is switched off: an underwriter decides")
	r, err := d.start(loan.Application{ID: "jo", Applicant: "Jo", Amount: 9_000_00, Income: 80_000_00, Debts: 6_000_00, History: 10, Employment: "salaried", Bureau: "equifile"})
	if err != nil {
		return err
	}
	if err := d.notified(); err != nil {
		return err
	}
	if err := d.decide("uma", r.ID(), loan.Verdict{Decision: loan.Approve}); err != nil {
		return err
	}
	return d.result(r)
}

func (d *demo) reEnabled() error {
	d.scenario("9. kim: an operator switches the model back on")
	st, err := decide.Enable(d.ctx, d.eng, loan.Credit.Name(), "olga (risk operations)")
	if err != nil {
		return err
	}
	sw := st.Switches[len(st.Switches)-1]
	fmt.Printf("[olga] re-enables %s: on=%v, by %s at %s; the window starts afresh\n", st.Model, st.Enabled, sw.By, sw.At.Format(clockFormat))
	r, err := d.start(loan.Application{ID: "kim", Applicant: "Kim", Amount: 12_000_00, Income: 95_000_00, Debts: 3_000_00, History: 15, Employment: "salaried", Bureau: "equifile"})
	if err != nil {
		return err
	}
	return d.result(r)
}

func (d *demo) scenario(title string) { fmt.Printf("\n== %s ==\n", title) }

func (d *demo) start(a loan.Application) (*chorus.Run[loan.Outcome], error) {
	fmt.Printf("[bank] %s applies for %s (income %s, debts %s, %s)\n", a.Applicant, loan.Dollars(a.Amount), loan.Dollars(a.Income), loan.Dollars(a.Debts), a.Employment)
	return chorus.Start(d.ctx, d.eng, loan.Process, a, &chorus.StartOptions{ID: a.ID})
}

// notified waits for the next notification and prints it.
func (d *demo) notified() error {
	return d.wait(func() bool {
		select {
		case n := <-d.notices:
			var to []string
			for _, u := range n.Users {
				to = append(to, u.ID)
			}
			holder := "group " + n.Group
			if n.Assignee != "" {
				holder = "user " + n.Assignee
			}
			fmt.Printf("[notify] %s's task %s %s to %s (%s), priority %d, due %s\n", n.RunID, n.TaskID, n.Event,
				holder, strings.Join(to, ", "), n.Priority, n.Due.Format(clockFormat))
			return true
		default:
			return false
		}
	}, "a notification")
}

// open waits until the case is in the user's inbox (its notification
// came first), prints what they see and returns the task.
func (d *demo) open(user, runID string) (human.TaskView, error) {
	var t human.TaskView
	err := d.wait(func() bool {
		tasks, err := d.inbox.List(d.ctx, user)
		if err != nil {
			return false
		}
		for _, v := range tasks {
			if v.RunID == runID {
				t = v
				return true
			}
		}
		return false
	}, runID+" in the inbox of "+user)
	if err != nil {
		return t, err
	}
	c, err := loan.Underwriting.Input(t)
	if err != nil {
		return t, err
	}
	fmt.Printf("[%s] inbox: %q, %s, due %s\n", user, t.Title, loan.Explain(c), t.Due.Format(clockFormat))
	return t, nil
}

// decide has the user take the run's case from their inbox and answer it.
func (d *demo) decide(user, runID string, v loan.Verdict) error {
	t, err := d.open(user, runID)
	if err != nil {
		return err
	}
	return d.answer(user, t, v)
}

// answer has the user claim the task and complete it with v.
func (d *demo) answer(user string, t human.TaskView, v loan.Verdict) error {
	if _, err := d.inbox.Claim(d.ctx, user, t.RunID, t.ID); err != nil {
		return err
	}
	note := ""
	if v.Note != "" {
		note = ": " + v.Note
	}
	fmt.Printf("[%s] claims it and decides %s%s\n", user, v.Decision, note)
	_, err := human.Complete(d.ctx, d.inbox, loan.Underwriting, user, t.RunID, t.ID, v)
	return err
}

// result waits for the application's outcome and prints its decision
// record.
func (d *demo) result(r *chorus.Run[loan.Outcome]) error {
	out, err := r.Result(d.ctx)
	if err != nil {
		return err
	}
	dec := out.Decision
	var b strings.Builder
	fmt.Fprintf(&b, "result: %s %s by %s", out.Application, out.Status, dec.DecidedBy)
	if dec.Person != "" {
		fmt.Fprintf(&b, " %s", dec.Person)
	}
	if dec.Scored {
		fmt.Fprintf(&b, "; model %s v%s, risk %.3f, band %s", dec.ModelName, dec.ModelVersion, dec.Score, dec.Band)
	}
	if dec.Fallback != "" {
		fmt.Fprintf(&b, ", fallback %s", dec.Fallback)
	}
	if dec.Compared {
		fmt.Fprintf(&b, ", agreed with its suggestion: %v", dec.Agreed)
	}
	fmt.Println(b.String())
	return nil
}

// watch prints the model's drift watch.
func (d *demo) watch() error {
	st, err := decide.WatchStatus(d.ctx, d.eng, loan.Credit.Name())
	if err != nil {
		return err
	}
	state := "on"
	if !st.Enabled {
		state = "OFF"
	}
	fmt.Printf("[watch] %s %s: %d of the last %d suggestions agreed with people (%.0f%%, minimum %.0f%%)\n",
		st.Model, state, int(st.Agreement*float64(st.Cases)+0.5), st.Cases, 100*st.Agreement, 100*st.Watch.MinAgreement)
	if !st.Enabled {
		sw := st.Switches[len(st.Switches)-1]
		fmt.Printf("[watch] switched off by the %s at %s: %s\n", sw.By, sw.At.Format(clockFormat), sw.Reason)
	}
	return nil
}

// advance moves the fake clock; the engine's timers fire as it passes them.
func (d *demo) advance(by time.Duration) {
	fmt.Printf("[clock] moving the fake clock %v ahead, to %s\n", by, d.mock.Now().Add(by).Format(clockFormat))
	d.mock.Add(by)
}

// wait polls cond until it holds, for at most 10 seconds of wall time. The
// demo must wait like this before it moves the fake clock or acts: work
// started by a step happens once the step is committed.
func (d *demo) wait(cond func() bool, what string) error {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// closeEngine gives running activities up to 10 seconds to finish.
func closeEngine(eng *chorus.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "loan-approval: close:", err)
	}
}
