package decide_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

var (
	NoOutcome = workflow.New("no-outcome", func(ctx workflow.Context, a App) (decide.Decision, error) {
		return decide.Decide(ctx, Credit, a, policy(nil), func(workflow.Context, decide.Referral[App]) (decide.Answer, error) {
			return decide.Answer{By: "uw:bob"}, nil
		})
	})
	AskFails = workflow.New("ask-fails", func(ctx workflow.Context, a App) (decide.Decision, error) {
		return decide.Decide(ctx, Credit, a, policy(nil), func(workflow.Context, decide.Referral[App]) (decide.Answer, error) {
			return decide.Answer{}, errors.New("inbox unavailable")
		})
	})
	NilAsk = workflow.New("nil-ask", func(ctx workflow.Context, a App) (decide.Decision, error) {
		return decide.Decide(ctx, Credit, a, policy(nil), nil)
	})
)

// A person's answer without an outcome, or a failing ask, fails the
// decision and records nothing.
func TestAskFailuresRecordNothing(t *testing.T) {
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{NoOutcome, AskFails, NilAsk, creditModel}})
	_, err := chorustest.Result(env, chorustest.Start(env, NoOutcome, App{Risk: 0.5, Confidence: 0.9}, &chorus.StartOptions{ID: "n1"}))
	require.ErrorContains(t, err, decide.ErrNoOutcome.Error())
	require.Empty(t, env.Markers("n1"))

	_, err = chorustest.Result(env, chorustest.Start(env, AskFails, App{Risk: 0.5, Confidence: 0.9}, &chorus.StartOptions{ID: "n2"}))
	require.ErrorContains(t, err, "inbox unavailable")
	require.Empty(t, env.Markers("n2"))

	_, err = chorustest.Result(env, chorustest.Start(env, NilAsk, App{Risk: 0.1, Confidence: 0.9}, &chorus.StartOptions{ID: "n3"}))
	require.ErrorContains(t, err, "nil Asker")
	require.Empty(t, env.ActivitiesRun("n3"), "nothing ran")
}

// A run canceled while the model scores ends canceled; no person is asked.
func TestCanceledWhileScoring(t *testing.T) {
	env := newEnv(t)
	chorustest.OnActivity(env, Credit.Definition()).After(time.Second).Return(decide.Score{Value: 0.5, Confidence: 0.9}, nil)
	run := chorustest.Start(env, Loan, App{ID: "x1"}, &chorus.StartOptions{ID: "x1"})
	env.Cancel("x1")
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.Empty(t, env.Markers("x1"))
}
