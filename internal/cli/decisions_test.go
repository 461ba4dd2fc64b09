package cli_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/workflow"
)

// Case is a case the test model scores: it carries its score and the
// answer of the person asked.
type Case struct {
	Risk, Confidence float64
	Answer           string
}

// stats shows the model-scored decisions of the workflows that made some
// (the automated and manual shares, the agreement with people, the
// fallbacks) and leaves the others out of that table.
func TestStatsDecisions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mock := clock.NewMock()
	mock.Set(t0)
	path := filepath.Join(t.TempDir(), "chorus.db")
	model := decide.NewModel[Case]("credit-score")
	policy := decide.Policy{
		Bands: []decide.Band{
			{Name: "low", Below: 0.2, Route: decide.Auto("approve")},
			{Name: "medium", Route: decide.Human("underwriter"), Suggest: "approve"},
		},
		MinConfidence: 0.6,
	}
	loan := workflow.New("loan", func(ctx workflow.Context, c Case) (string, error) {
		d, err := decide.Decide(ctx, model, c, policy, func(_ workflow.Context, r decide.Referral[Case]) (decide.Answer, error) {
			return decide.Answer{Outcome: r.Input.Answer, By: "uw:bob"}, nil
		})
		return d.Outcome, err
	})
	order := workflow.New("order", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	eng, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close(ctx)) }()
	require.NoError(t, eng.Register(loan, order, model.Activity(func(_ context.Context, c Case) (decide.Score, error) {
		return decide.Score{Value: c.Risk, Confidence: c.Confidence}, nil
	})))
	for i, c := range []Case{
		{Risk: 0.1, Confidence: 0.9},                    // the model approves
		{Risk: 0.1, Confidence: 0.9},                    // the model approves
		{Risk: 0.1, Confidence: 0.2, Answer: "approve"}, // low confidence: a person agrees
		{Risk: 0.5, Confidence: 0.9, Answer: "decline"}, // a person disagrees
	} {
		r, err := chorus.Start(ctx, eng, loan, c, &chorus.StartOptions{ID: "loan-" + string(rune('1'+i))})
		require.NoError(t, err)
		_, err = r.Result(ctx)
		require.NoError(t, err)
	}
	r, err := chorus.Start(ctx, eng, order, 1, &chorus.StartOptions{ID: "order-1"})
	require.NoError(t, err)
	_, err = r.Result(ctx)
	require.NoError(t, err)

	f := &fixture{path: path}
	code, out := f.run("stats", path)
	require.Equal(t, 0, code, out)
	golden(t, "stats-decisions", out)
	code, out = f.run("stats", path, "--json")
	require.Equal(t, 0, code, out)
	golden(t, "stats-decisions-json", out)
}
