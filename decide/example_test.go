package decide_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/workflow"
)

// Loan applications are scored by a model; a small one is approved by the
// model, a medium one goes to an underwriter with the model's suggestion,
// and one the model fails on goes to an underwriter without it.
func Example() {
	type Application struct {
		ID    string
		Cents int64
	}
	credit := decide.NewModel[Application]("example-credit-score")
	// The implementation is registered, not written into the workflow:
	// swapping it changes nothing in workflow code.
	scorer := credit.Activity(func(_ context.Context, a Application) (decide.Score, error) {
		if a.Cents < 0 {
			return decide.Score{}, errors.New("no credit file")
		}
		return decide.Score{Value: float64(a.Cents) / 1e6, Confidence: 0.9, Model: "ratio", Version: "1"}, nil
	})
	verdict := workflow.NewSignal[decide.Answer]("underwriter-verdict")
	askUnderwriter := func(ctx workflow.Context, r decide.Referral[Application]) (decide.Answer, error) {
		if !workflow.IsReplaying(ctx) {
			fmt.Printf("%s: to %s (suggestion %q, fallback %q)\n", r.Input.ID, r.Queue, r.Suggestion, r.Fallback)
		}
		a, _ := workflow.GetSignalChannel(ctx, verdict).Receive(ctx)
		return a, nil
	}
	approve := workflow.New("example-approve-loan", func(ctx workflow.Context, a Application) (decide.Decision, error) {
		return decide.Decide(ctx, credit, a, decide.Policy{
			Bands: []decide.Band{
				{Name: "low", Below: 0.2, Route: decide.Auto("approve")},
				{Name: "medium", Below: 0.7, Route: decide.Human("underwriter"), Suggest: "approve"},
				{Name: "high", Route: decide.Human("senior-underwriter"), Suggest: "decline"},
			},
			MinConfidence: 0.6,
			Timeout:       time.Minute,
		}, askUnderwriter)
	})

	dir, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	eng, err := chorus.Open(ctx, filepath.Join(dir, "loans.db"), &chorus.Options{Definitions: []chorus.Definition{approve, scorer}})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)

	var all []decide.Decision
	for _, a := range []Application{{"small", 100_000}, {"medium", 500_000}, {"unknown", -1}} {
		run, err := chorus.Start(ctx, eng, approve, a, &chorus.StartOptions{ID: a.ID})
		if err != nil {
			log.Fatal(err)
		}
		if a.ID != "small" { // an underwriter answers
			if err := chorus.Signal(ctx, eng, a.ID, verdict, decide.Answer{Outcome: "decline", By: "uw:bob"}); err != nil {
				log.Fatal(err)
			}
		}
		d, err := run.Result(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s by %s %s (band %q, model %s v%s)\n", a.ID, d.Outcome, d.DecidedBy, d.Person, d.Band, d.ModelName, d.ModelVersion)
		all = append(all, d)
	}
	c := decide.Summarize(all)
	fmt.Printf("automated %.2f, agreement %.2f over %d\n", c.AutomatedShare(), c.AgreementRate(), c.Compared)
	// Output:
	// small: approve by model  (band "low", model ratio v1)
	// medium: to underwriter (suggestion "approve", fallback "")
	// medium: decline by person uw:bob (band "medium", model ratio v1)
	// unknown: to underwriter (suggestion "", fallback "error")
	// unknown: decline by person uw:bob (band "", model  v)
	// automated 0.33, agreement 0.00 over 1
}
