package ui_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

// LoanCase is a case a model scores; Risk and Confidence steer the test
// model, Answer is what the person asked answers.
type LoanCase struct {
	Risk       float64
	Confidence float64
	Answer     string
}

var (
	creditModel = decide.NewModel[LoanCase]("credit-score")
	fraudModel  = decide.NewModel[LoanCase]("fraud-check")
)

// scoreOf stands in for a model: the case carries its score.
func scoreOf(version string) func(context.Context, LoanCase) (decide.Score, error) {
	return func(_ context.Context, c LoanCase) (decide.Score, error) {
		return decide.Score{Value: c.Risk, Confidence: c.Confidence, Model: "gbm", Version: version}, nil
	}
}

func loanPolicy() decide.Policy {
	return decide.Policy{
		Bands: []decide.Band{
			{Name: "low", Below: 0.2, Route: decide.Auto("approve")},
			{Name: "medium", Route: decide.Human("underwriter"), Suggest: "approve"},
		},
		MinConfidence: 0.6,
		Timeout:       time.Minute,
		Watch:         &decide.Watch{Window: 3, MinAgreement: 0.8},
	}
}

// answer asks nobody: the case carries the person's answer.
func answer(_ workflow.Context, r decide.Referral[LoanCase]) (decide.Answer, error) {
	return decide.Answer{Outcome: r.Input.Answer, By: "uw:bob"}, nil
}

// modelsFixture is a database where the drift watch of "credit-score"
// switched the model off, and "fraud-check" stays on.
type modelsFixture struct {
	path string
	eng  *chorus.Engine
}

// newModelsFixture runs, one at a time:
//
//	loan-1  risk 0.1, sure        the model approves
//	loan-2  risk 0.1, unsure      low-confidence: a person approves (agrees)
//	loan-3  risk 0.5              a person declines (disagrees)
//	loan-4  risk 0.5              a person declines (disagrees): the window
//	                              (3) holds 1 agreement of 3 < 0.8, and the
//	                              watch switches credit-score off
//	loan-5  risk 0.1, sure        model-off: a person approves (agrees)
//	screen-1 (fraud-check)        the model approves
//	order-1                       no decision
//
// credit-score's counters: 5 decisions, 1 automated, 4 manual, fallbacks
// low-confidence 1 and model-off 1, 4 compared, 2 agreed.
func newModelsFixture(t *testing.T) *modelsFixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	mock := clock.NewMock()
	mock.Set(t0)
	path := filepath.Join(t.TempDir(), "chorus.db")
	loan := workflow.New("loan", func(ctx workflow.Context, c LoanCase) (string, error) {
		d, err := decide.Decide(ctx, creditModel, c, loanPolicy(), answer)
		return d.Outcome, err
	})
	screen := workflow.New("screen", func(ctx workflow.Context, c LoanCase) (string, error) {
		d, err := decide.Decide(ctx, fraudModel, c, loanPolicy(), answer)
		return d.Outcome, err
	})
	order := workflow.New("order", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	eng, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Close(cctx)
	})
	require.NoError(t, eng.Register(loan, screen, order, creditModel.Activity(scoreOf("v1")), fraudModel.Activity(scoreOf("v7"))))
	require.NoError(t, eng.Register(decide.Definitions(eng)...))

	// run starts a case, waits for its outcome, then for the watch to
	// have counted it, so that the next case reads the watch's verdict.
	run := func(wf *workflow.Definition[LoanCase, string], id, model string, n int, c LoanCase, want string) {
		t.Helper()
		r, err := chorus.Start(ctx, eng, wf, c, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		got, err := r.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, want, got, id)
		require.NoError(t, testutil.Await(ctx, eng, "the watch of "+model+" to count "+id, func() (bool, error) {
			st, err := decide.WatchStatus(ctx, eng, model)
			return err == nil && st.Counters.Decisions == n, nil // not watched yet: wait
		}))
	}
	run(loan, "loan-1", "credit-score", 1, LoanCase{Risk: 0.1, Confidence: 0.9}, "approve")
	mock.Add(time.Minute)
	run(loan, "loan-2", "credit-score", 2, LoanCase{Risk: 0.1, Confidence: 0.3, Answer: "approve"}, "approve")
	for i := 3; i <= 4; i++ {
		mock.Add(time.Minute)
		run(loan, fmt.Sprintf("loan-%d", i), "credit-score", i, LoanCase{Risk: 0.5, Confidence: 0.9, Answer: "decline"}, "decline")
	}
	st, err := decide.WatchStatus(ctx, eng, "credit-score")
	require.NoError(t, err)
	require.False(t, st.Enabled, "the watch switched credit-score off")
	mock.Add(time.Minute)
	run(loan, "loan-5", "credit-score", 5, LoanCase{Risk: 0.1, Confidence: 0.9, Answer: "approve"}, "approve")
	run(screen, "screen-1", "fraud-check", 1, LoanCase{Risk: 0.1, Confidence: 0.9}, "approve")
	o, err := chorus.Start(ctx, eng, order, 1, &chorus.StartOptions{ID: "order-1"})
	require.NoError(t, err)
	_, err = o.Result(ctx)
	require.NoError(t, err)
	return &modelsFixture{path: path, eng: eng}
}
