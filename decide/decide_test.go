package decide_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// App is a loan application; the fields after Risk steer the test model.
type App struct {
	ID         string
	Risk       float64
	Confidence float64
	Version    string
	Fail       bool
}

var Credit = decide.NewModel[App]("credit-score")

// creditModel stands in for a model: the application carries its score.
var creditModel = Credit.Activity(func(_ context.Context, a App) (decide.Score, error) {
	if a.Fail {
		return decide.Score{}, errors.New("model server unavailable")
	}
	return decide.Score{Value: a.Risk, Confidence: a.Confidence, Model: "gbm-credit", Version: a.Version}, nil
})

// Verdict carries a person's answer into the run.
var Verdict = workflow.NewSignal[decide.Answer]("verdict")

// Asked answers what the run asked a person.
var Asked = workflow.NewQuery[struct{}, decide.Referral[App]]("asked")

// askBySignal reaches a person by waiting for the Verdict signal.
func askBySignal(ctx workflow.Context, r decide.Referral[App]) (decide.Answer, error) {
	if !workflow.IsReplaying(ctx) {
		asking(r.Input.ID)
	}
	workflow.SetQueryHandler(ctx, Asked, func(struct{}) (decide.Referral[App], error) { return r, nil })
	a, _ := workflow.GetSignalChannel(ctx, Verdict).Receive(ctx)
	return a, nil
}

// onAsk, when set, is told each time a run first asks a person.
var (
	onAskMu sync.Mutex
	onAsk   func(id string)
)

func asking(id string) {
	onAskMu.Lock()
	defer onAskMu.Unlock()
	if onAsk != nil {
		onAsk(id)
	}
}

func policy(w *decide.Watch) decide.Policy {
	return decide.Policy{
		Bands: []decide.Band{
			{Name: "low", Below: 0.2, Route: decide.Auto("approve")},
			{Name: "medium", Below: 0.7, Route: decide.Human("underwriter"), Suggest: "approve"},
			{Name: "high", Route: decide.Human("senior-underwriter"), Suggest: "decline"},
		},
		MinConfidence: 0.6,
		Timeout:       2 * time.Second,
		Watch:         w,
	}
}

var (
	Loan = workflow.New("loan", func(ctx workflow.Context, a App) (decide.Decision, error) {
		return decide.Decide(ctx, Credit, a, policy(nil), askBySignal)
	})
	WatchedLoan = workflow.New("watched-loan", func(ctx workflow.Context, a App) (decide.Decision, error) {
		return decide.Decide(ctx, Credit, a, policy(&decide.Watch{Window: 3, MinAgreement: 0.8}), askBySignal)
	})
)

func newEnv(t *testing.T) *chorustest.Env {
	t.Helper()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Loan, WatchedLoan, creditModel}})
	env.Register(decide.Definitions(env.Engine())...)
	return env
}

// decideCase runs wf for a; when answer is not empty, a person answers it.
func decideCase(t *testing.T, env *chorustest.Env, wf *workflow.Definition[App, decide.Decision], a App, answer *decide.Answer) (decide.Decision, *decide.Referral[App]) {
	t.Helper()
	run := chorustest.Start(env, wf, a, &chorus.StartOptions{ID: a.ID})
	var asked *decide.Referral[App]
	if answer != nil {
		env.Advance(2 * time.Second) // past Policy.Timeout, for a model that does not answer
		r, err := chorustest.Query(env, a.ID, Asked, struct{}{})
		require.NoError(t, err, "the case should wait for a person")
		asked = &r
		chorustest.Signal(env, a.ID, Verdict, *answer)
	}
	d, err := chorustest.Result(env, run)
	require.NoError(t, err)
	recs, err := decide.Records(context.Background(), env.Engine(), a.ID)
	require.NoError(t, err)
	require.Equal(t, []decide.Decision{d}, recs, "the journal records the decision returned")
	return d, asked
}

func TestBandAutoApproves(t *testing.T) {
	env := newEnv(t)
	d, _ := decideCase(t, env, Loan, App{ID: "a1", Risk: 0.1, Confidence: 0.9, Version: "v1"}, nil)
	require.Equal(t, "approve", d.Outcome)
	require.Equal(t, decide.ByModel, d.DecidedBy)
	require.Equal(t, "low", d.Band)
	require.Equal(t, decide.RouteAuto, d.Route)
	require.Equal(t, decide.FallbackNone, d.Fallback)
	require.Equal(t, "gbm-credit", d.ModelName)
	require.Equal(t, "v1", d.ModelVersion)
	require.True(t, d.Scored)
	require.InDelta(t, 0.1, d.Score, 1e-9)
	require.InDelta(t, 0.9, d.Confidence, 1e-9)
	require.Empty(t, d.Person)
	require.Equal(t, []string{decide.DecisionMarker}, env.Markers("a1"))

	// The memo shows it outside the workflow.
	info := env.Describe("a1")
	var memo decide.Decision
	require.NoError(t, env.Engine().DecodeMemo(info.Memo["decide:credit-score"], &memo))
	require.Equal(t, d, memo)
}

func TestBandPersonWithSuggestion(t *testing.T) {
	env := newEnv(t)
	d, asked := decideCase(t, env, Loan, App{ID: "a2", Risk: 0.5, Confidence: 0.9, Version: "v1"},
		&decide.Answer{Outcome: "approve", By: "uw:bob"})
	require.Equal(t, "underwriter", asked.Queue)
	require.Equal(t, "approve", asked.Suggestion)
	require.Equal(t, "medium", asked.Band)
	require.NotNil(t, asked.Score)
	require.InDelta(t, 0.5, asked.Score.Value, 1e-9)
	require.Equal(t, "a2", asked.Input.ID)
	require.Equal(t, decide.FallbackNone, asked.Fallback)

	require.Equal(t, "approve", d.Outcome)
	require.Equal(t, decide.ByPerson, d.DecidedBy)
	require.Equal(t, "uw:bob", d.Person)
	require.Equal(t, "underwriter", d.Queue)
	require.Equal(t, decide.RoutePerson, d.Route)
	require.True(t, d.Compared)
	require.True(t, d.Agreed)
}

func TestBandSenior(t *testing.T) {
	env := newEnv(t)
	d, asked := decideCase(t, env, Loan, App{ID: "a3", Risk: 0.95, Confidence: 0.9, Version: "v1"},
		&decide.Answer{Outcome: "approve", By: "senior:eve"})
	require.Equal(t, "senior-underwriter", asked.Queue)
	require.Equal(t, "decline", asked.Suggestion)
	require.Equal(t, "high", d.Band)
	require.Equal(t, "senior:eve", d.Person)
	require.True(t, d.Compared)
	require.False(t, d.Agreed, "the person overrode the model")
}

func TestLowConfidenceFallsBackToPerson(t *testing.T) {
	env := newEnv(t)
	d, asked := decideCase(t, env, Loan, App{ID: "a4", Risk: 0.1, Confidence: 0.3, Version: "v1"},
		&decide.Answer{Outcome: "decline", By: "uw:bob"})
	require.Equal(t, decide.FallbackLowConfidence, asked.Fallback)
	require.Equal(t, "underwriter", asked.Queue, "the fallback queue defaults to the first person band's")
	require.Equal(t, "approve", asked.Suggestion)
	require.Equal(t, decide.FallbackLowConfidence, d.Fallback)
	require.Equal(t, "low", d.Band)
	require.Equal(t, decide.RouteAuto, d.Route)
	require.Equal(t, decide.ByPerson, d.DecidedBy)
	require.Equal(t, "decline", d.Outcome)
	require.True(t, d.Compared)
	require.False(t, d.Agreed)
}

func TestModelTimeoutFallsBackToPerson(t *testing.T) {
	env := newEnv(t)
	slow := chorustest.OnActivity(env, Credit.Definition()).After(5*time.Second).
		Return(decide.Score{Value: 0.1, Confidence: 0.99, Model: "gbm-credit", Version: "v1"}, nil)
	d, asked := decideCase(t, env, Loan, App{ID: "a5", Risk: 0.1, Confidence: 0.9}, &decide.Answer{Outcome: "approve", By: "uw:bob"})
	require.Equal(t, 1, slow.Calls())
	require.Equal(t, decide.FallbackTimeout, asked.Fallback)
	require.Nil(t, asked.Score)
	require.Empty(t, asked.Suggestion)
	require.Equal(t, decide.FallbackTimeout, d.Fallback)
	require.False(t, d.Scored)
	require.Empty(t, d.Band)
	require.NotEmpty(t, d.ModelError)
	require.Equal(t, "underwriter", d.Queue)
	require.Equal(t, decide.ByPerson, d.DecidedBy)
	require.False(t, d.Compared)
	// The timeout fired at 2 s of fake time, not when the model would have answered.
	require.Equal(t, env.StartTime().Add(2*time.Second), d.At)
}

func TestModelErrorFallsBackToPerson(t *testing.T) {
	env := newEnv(t)
	d, asked := decideCase(t, env, Loan, App{ID: "a6", Fail: true}, &decide.Answer{Outcome: "approve", By: "uw:bob"})
	require.Equal(t, decide.FallbackError, asked.Fallback)
	require.Equal(t, decide.FallbackError, d.Fallback)
	require.Contains(t, d.ModelError, "model server unavailable")
	require.Len(t, env.ActivitiesRun("a6"), 1, "a model call is not retried")
}

func TestInvalidScoreFallsBackToPerson(t *testing.T) {
	env := newEnv(t)
	d, _ := decideCase(t, env, Loan, App{ID: "a7", Risk: 0.1, Confidence: 1.5}, &decide.Answer{Outcome: "approve", By: "uw:bob"})
	require.Equal(t, decide.FallbackInvalidScore, d.Fallback)
	require.False(t, d.Scored)
}

var badPolicy = workflow.New("bad-policy", func(ctx workflow.Context, p decide.Policy) (decide.Decision, error) {
	return decide.Decide(ctx, Credit, App{}, p, askBySignal)
})

func TestInvalidPolicyIsRefused(t *testing.T) {
	cases := map[string]decide.Policy{
		"Bands":              {},
		"Bands[1].Below":     {Bands: []decide.Band{{Below: 0.5, Route: decide.Human("q")}, {Below: 0.3, Route: decide.Human("q")}, {Route: decide.Human("q")}}},
		"Bands[0].Below":     {Bands: []decide.Band{{Below: 0.5, Route: decide.Human("q")}}},
		"Bands[0].Route":     {Bands: []decide.Band{{Route: decide.Auto("")}}},
		"Fallback":           {Bands: []decide.Band{{Route: decide.Auto("approve")}}},
		"MinConfidence":      {Bands: []decide.Band{{Route: decide.Human("q")}}, MinConfidence: 2},
		"Timeout":            {Bands: []decide.Band{{Route: decide.Human("q")}}, Timeout: -1},
		"Watch.Window":       {Bands: []decide.Band{{Route: decide.Human("q")}}, Watch: &decide.Watch{}},
		"Watch.MinAgreement": {Bands: []decide.Band{{Route: decide.Human("q")}}, Watch: &decide.Watch{Window: 5, MinAgreement: -0.1}},
	}
	for field, p := range cases {
		err := p.Validate()
		var pe *decide.PolicyError
		require.ErrorAs(t, err, &pe, field)
		require.Equal(t, field, pe.Field)
		require.ErrorIs(t, err, decide.ErrInvalidPolicy)
	}
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{badPolicy}})
	_, err := chorustest.Result(env, chorustest.Start(env, badPolicy, decide.Policy{}, nil))
	require.ErrorContains(t, err, "invalid policy: Bands")
}
