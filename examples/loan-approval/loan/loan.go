// Package loan is the workflow of the loan-approval program: a loan
// application whose funds are reserved, which a credit-score model scores,
// and which the model's band decides: the model approves a low risk by
// itself, an underwriter decides a medium one with the model's suggestion,
// a senior underwriter a high one. A person who does not decide within the
// 48-hour SLA sees the case escalated; a decline releases the reserved funds
// through the saga; a model that does not answer in time, or that its drift
// watch switched off, leaves the case to a person.
//
// It is a package of its own so that tests can import it.
package loan

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// Application is a loan application, with the credit file the model scores
// (amounts in cents).
type Application struct {
	ID        string
	Applicant string
	Amount    int64 // the loan asked for
	Income    int64 // yearly income
	Debts     int64 // debts outstanding
	Missed    int   // payments missed in the last two years
	// History is the length of the applicant's credit history in years;
	// the model is less sure of a short one.
	History int
	// Employment is "salaried" or "freelance". The model does not look at
	// it; underwriters do.
	Employment string
	// Bureau is the credit bureau holding the applicant's file, which the
	// scoring service asks.
	Bureau string
}

// Choice is an underwriter's decision: "approve" or "decline". Anything
// else does not decode, so the inbox refuses it and the task stays open.
type Choice string

// The two choices.
const (
	Approve Choice = "approve"
	Decline Choice = "decline"
)

// UnmarshalJSON accepts "approve" and "decline" only.
func (c *Choice) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s != string(Approve) && s != string(Decline) {
		return fmt.Errorf("decision %q: want %q or %q", s, Approve, Decline)
	}
	*c = Choice(s)
	return nil
}

// Case is what an underwriter decides from, on one screen: the application
// and what the model made of it.
type Case struct {
	Application Application
	// Band and Score are the model's, when it gave a usable score.
	Band       string  `json:",omitempty"`
	Score      float64 `json:",omitempty"`
	Confidence float64 `json:",omitempty"`
	// Suggestion is the model's suggested outcome; empty when it has none
	// or is switched off.
	Suggestion string `json:",omitempty"`
	// Fallback says why the case came to a person against its band, or
	// without a score ("timeout", "model-off", ...).
	Fallback string `json:",omitempty"`
}

// Verdict is an underwriter's answer.
type Verdict struct {
	Decision Choice
	Note     string `json:",omitempty"`
}

// Reservation holds funds for an application until it is decided.
type Reservation struct {
	ID          string
	Application string
	Amount      int64
}

// Outcome is how an application ended.
type Outcome struct {
	Application string
	// Status is "approved" (the funds were paid out) or "declined" (the
	// reservation was released).
	Status      string
	Decision    decide.Decision
	Reservation string
	Payment     string `json:",omitempty"`
}

// The model, the human task and the policy that ties them together: data,
// not code scattered through the flow.
var (
	// Credit is the credit-score model. Its implementation is registered
	// by the process (see [CreditModel]); swapping it is not a workflow
	// change.
	Credit = decide.NewModel[Application]("credit-score")

	// Underwriting is the task an underwriter decides.
	Underwriting = human.NewTask[Case, Verdict]("underwriting")

	// Policy: low risk is approved by the model, medium goes to an
	// underwriter who is shown the model's suggestion to approve, high to a
	// senior underwriter, shown its suggestion to decline. A score the model
	// is not sure of, a model slower than 2 seconds, and a model the drift
	// watch switched off all leave the case to an underwriter. The watch
	// switches the model off when fewer than half of the last 6 people's
	// decisions agree with its suggestion.
	Policy = decide.Policy{
		Bands: []decide.Band{
			{Name: "low", Below: 0.3, Route: decide.Auto(string(Approve))},
			{Name: "medium", Below: 0.7, Route: decide.Human(Underwriters), Suggest: string(Approve)},
			{Name: "high", Route: decide.Human(SeniorUnderwriters), Suggest: string(Decline)},
		},
		MinConfidence: 0.6,
		Timeout:       ModelTimeout,
		Watch:         &decide.Watch{Window: 6, MinAgreement: 0.5},
	}
)

// The groups of people, and who each escalates to when its SLA passes.
const (
	Underwriters       = "underwriters"
	SeniorUnderwriters = "senior-underwriters"
	CreditCommittee    = "credit-committee"
)

var escalateTo = map[string]string{
	Underwriters:       SeniorUnderwriters,
	SeniorUnderwriters: CreditCommittee,
}

const (
	// ModelTimeout bounds the scoring call.
	ModelTimeout = 2 * time.Second
	// SLA is how long a group has to decide before the case escalates.
	SLA = 48 * time.Hour
	// Deadline is how long a case may wait for a person at all: then the
	// application fails and its funds are released.
	Deadline = 5 * 24 * time.Hour
)

// Score is the model: a small deterministic credit-risk score from 0 (safe)
// to 1, from the debt the loan would leave against the income and the
// payments missed. Its confidence falls with a credit history shorter
// than two years.
func Score(a Application) decide.Score {
	risk := 1.0
	if a.Income > 0 {
		risk = 0.5*float64(a.Debts+a.Amount)/float64(a.Income) + 0.15*float64(a.Missed)
	}
	risk = math.Round(min(max(risk, 0), 1)*1000) / 1000
	conf := 0.9
	if a.History < 2 {
		conf = 0.5
	}
	return decide.Score{Value: risk, Confidence: conf, Model: "debt-ratio", Version: "1.4"}
}

// CreditModel returns the credit-score model's implementation for the
// process to register: the scoring service, which scores with [Score] once
// it has the applicant's file from their credit bureau. A bureau for which
// bureauDown reports true does not answer: the service waits until the
// call's deadline (decide cancels it after [ModelTimeout]).
func CreditModel(bureauDown func(bureau string) bool) *activity.Definition[Application, decide.Score] {
	return Credit.Activity(func(ctx context.Context, a Application) (decide.Score, error) {
		if bureauDown != nil && bureauDown(a.Bureau) {
			<-ctx.Done()
			return decide.Score{}, fmt.Errorf("credit bureau %s: %w", a.Bureau, ctx.Err())
		}
		s := Score(a)
		fmt.Printf("[model] credit-score %s v%s: %s risk %.3f (confidence %.2f)\n", s.Model, s.Version, a.ID, s.Value, s.Confidence)
		return s, nil
	})
}

// The activities: they talk to the bank's systems, here they only print.
var (
	ReserveFunds = activity.New("reserve-funds", func(ctx context.Context, a Application) (Reservation, error) {
		r := Reservation{ID: "RSV-" + a.ID, Application: a.ID, Amount: a.Amount}
		fmt.Printf("[activity] reserve-funds: reserved %s for %s (%s)\n", Dollars(a.Amount), a.ID, r.ID)
		return r, nil
	})
	// ReleaseFunds is the compensation of ReserveFunds; releasing by
	// reservation ID is idempotent.
	ReleaseFunds = activity.New("release-funds", func(ctx context.Context, r Reservation) (struct{}, error) {
		fmt.Printf("[activity] release-funds: released %s (%s)\n", Dollars(r.Amount), r.ID)
		return struct{}{}, nil
	})
	PayOut = activity.New("pay-out", func(ctx context.Context, r Reservation) (string, error) {
		fmt.Printf("[activity] pay-out: paid %s to %s from %s\n", Dollars(r.Amount), r.Application, r.ID)
		return "PAY-" + r.Application, nil
	})
)

// Activities returns the activities the workflow needs, with the model's
// implementation ([CreditModel] with bureauDown).
func Activities(bureauDown func(bureau string) bool) []chorus.Definition {
	return []chorus.Definition{ReserveFunds, ReleaseFunds, PayOut, CreditModel(bureauDown)}
}

// Process is the workflow. Its prints are guarded by IsReplaying so that a
// run rebuilt from its journal does not announce its steps twice.
var Process = workflow.New("loan-application", func(ctx workflow.Context, a Application) (_ Outcome, err error) {
	ctx = human.Enable(ctx) // optional: the task query answers (empty) before the first task
	s := saga.New(ctx, nil)
	defer s.CompensateOnError(&err) // a failure releases the reservation

	res, err := workflow.ExecuteActivity(ctx, ReserveFunds, a).Get(ctx)
	if err != nil {
		return Outcome{}, err
	}
	if err := saga.Add(s, ReleaseFunds, res); err != nil {
		return Outcome{}, err
	}

	d, err := decide.Decide(ctx, Credit, a, Policy, underwrite)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Application: a.ID, Decision: d, Reservation: res.ID}
	by := "the model"
	if d.DecidedBy == decide.ByPerson {
		by = d.Person
	}
	if d.Outcome != string(Approve) {
		say(ctx, "%s: declined by %s: releasing the reservation", a.ID, by)
		if err := s.Compensate(ctx); err != nil {
			return out, err
		}
		out.Status = "declined"
		return out, nil
	}
	say(ctx, "%s: approved by %s: paying out", a.ID, by)
	if out.Payment, err = workflow.ExecuteActivity(ctx, PayOut, res).Get(ctx); err != nil {
		return out, err
	}
	out.Status = "approved"
	return out, nil
})

// underwrite is the decide.Asker: it puts the case in the inbox of the
// referral's queue, escalates it when the SLA passes, and returns the
// person's verdict and the user the inbox authorized to give it
// ([human.AskFor] keeps it in the run's state: no activity reads it).
func underwrite(ctx workflow.Context, r decide.Referral[Application]) (decide.Answer, error) {
	c := Case{Application: r.Input, Band: r.Band, Suggestion: r.Suggestion, Fallback: string(r.Fallback)}
	if r.Score != nil {
		c.Score, c.Confidence = r.Score.Value, r.Score.Confidence
	}
	say(ctx, "%s: to the %s (%s)", r.Input.ID, r.Queue, Explain(c))
	opts := &human.Options{
		Assign:    human.ToGroup(r.Queue),
		Priority:  1,
		Deadline:  Deadline,
		OnTimeout: human.Fail(),
		Title:     fmt.Sprintf("%s asks for %s", r.Input.Applicant, Dollars(r.Input.Amount)),
	}
	if to := escalateTo[r.Queue]; to != "" {
		opts.Escalate = []human.Step{{After: SLA, Assign: human.ToGroup(to), Priority: 5}}
	}
	res, err := human.AskFor(ctx, Underwriting, c, opts)
	if err != nil {
		return decide.Answer{}, err
	}
	if res.Escalations > 0 {
		say(ctx, "%s: %s decided %v after the case was asked, after %d escalation(s)", r.Input.ID, res.By, res.DecidedAt.Sub(res.CreatedAt), res.Escalations)
	}
	return decide.Answer{Outcome: string(res.Value.Decision), By: res.By}, nil
}

// Explain says in words what the model made of a case.
func Explain(c Case) string {
	var s string
	switch {
	case c.Band != "":
		s = fmt.Sprintf("risk %.3f, band %s", c.Score, c.Band)
	default:
		s = "no score"
	}
	if c.Suggestion != "" {
		s += ", the model suggests to " + c.Suggestion
	}
	if c.Fallback != "" {
		s += ", fallback: " + c.Fallback
	}
	return s
}

func say(ctx workflow.Context, format string, args ...any) {
	if !workflow.IsReplaying(ctx) {
		fmt.Printf("[workflow] %s\n", fmt.Sprintf(format, args...))
	}
}

// Dollars formats cents.
func Dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }
