package chorusotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/chorusotel"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

type claim struct {
	ID string `json:"id"`
}

type verdict struct {
	Outcome string `json:"outcome"`
}

var (
	review     = human.NewTask[claim, verdict]("claim-review")
	reviewFlow = workflow.New("review", func(ctx workflow.Context, c claim) (verdict, error) {
		ctx = human.Enable(ctx)
		return human.Ask(ctx, review, c, &human.Options{
			Assign:    human.ToGroup("adjusters"),
			Deadline:  48 * time.Hour,
			Escalate:  []human.Step{{After: 24 * time.Hour, Assign: human.ToGroup("seniors")}},
			OnTimeout: human.Default(verdict{Outcome: "refer"}),
		})
	})
)

func staff() *human.MemoryDirectory {
	return human.NewMemoryDirectory().Add(
		human.User{ID: "ann", Groups: []string{"adjusters"}},
		human.User{ID: "bob", Groups: []string{"adjusters"}},
		human.User{ID: "sue", Groups: []string{"seniors"}},
	)
}

// meterObserver returns an observer whose metrics a manual reader
// collects.
func meterObserver(t *testing.T) (*chorusotel.Observer, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	obs, err := chorusotel.NewObserver(chorusotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	require.NoError(t, err)
	return obs, reader
}

// TestHumanTaskMetrics runs three review tasks on the fake clock, worked
// through the inbox: one claimed (released, claimed again) and completed
// by the first group, one escalated and completed unclaimed by the
// seniors, one escalated and timed out. The counters and histograms say
// exactly that, by task and group.
func TestHumanTaskMetrics(t *testing.T) {
	obs, reader := meterObserver(t)
	dir := staff()
	env := chorustest.New(t, &chorustest.Options{
		Definitions: append(human.Definitions(dir, nil), reviewFlow),
		Engine:      &chorus.Options{Observer: obs},
	})
	inbox := human.NewInbox(env.Engine(), dir)
	ctx := context.Background()
	const task = "claim-review-1"

	r1 := chorustest.Start(env, reviewFlow, claim{ID: "c1"}, &chorus.StartOptions{ID: "r1"})
	r2 := chorustest.Start(env, reviewFlow, claim{ID: "c2"}, &chorus.StartOptions{ID: "r2"})
	r3 := chorustest.Start(env, reviewFlow, claim{ID: "c3"}, &chorus.StartOptions{ID: "r3"})
	env.Settle()
	env.Advance(time.Hour)
	_, err := inbox.Claim(ctx, "ann", "r1", task)
	require.NoError(t, err)
	env.Advance(30 * time.Minute)
	_, err = inbox.Release(ctx, "ann", "r1", task)
	require.NoError(t, err)
	env.Advance(30 * time.Minute)
	_, err = inbox.Claim(ctx, "bob", "r1", task)
	require.NoError(t, err)
	env.Advance(time.Hour)
	_, err = inbox.Complete(ctx, "bob", "r1", task, verdict{Outcome: "approve"})
	require.NoError(t, err)
	got, err := chorustest.Result(env, r1)
	require.NoError(t, err)
	require.Equal(t, "approve", got.Outcome)

	env.Advance(27 * time.Hour) // 30h: both others escalated at 24h
	_, err = inbox.Complete(ctx, "sue", "r2", task, verdict{Outcome: "decline"})
	require.NoError(t, err)
	got, err = chorustest.Result(env, r2)
	require.NoError(t, err)
	require.Equal(t, "decline", got.Outcome)
	got, err = chorustest.Result(env, r3)
	require.NoError(t, err)
	require.Equal(t, "refer", got.Outcome, "timed out with the default")
	env.Settle()

	m := collect(t, reader)
	byTaskGroup := func(name string) map[string]int64 { return m.sums2(name, chorusotel.AttrTask, chorusotel.AttrGroup) }
	require.Equal(t, map[string]int64{"claim-review/adjusters": 3}, byTaskGroup("chorus.human.tasks.created"))
	require.Equal(t, map[string]int64{"claim-review/adjusters": 1, "claim-review/seniors": 1}, byTaskGroup("chorus.human.tasks.completed"))
	require.Equal(t, map[string]int64{"claim-review/adjusters": 2}, byTaskGroup("chorus.human.tasks.escalated"),
		"counted under the group that let the step pass")
	require.Equal(t, map[string]int64{"claim-review/seniors": 1}, byTaskGroup("chorus.human.tasks.timed_out"))

	// r1: first claimed after 1h, completed after 3h; r2: taken and
	// completed by sue at 30h, unclaimed.
	require.Equal(t, map[string]hist{
		"claim-review/adjusters": {1, 3600},
		"claim-review/seniors":   {1, 30 * 3600},
	}, m.hists("chorus.human.time_to_claim", chorusotel.AttrTask, chorusotel.AttrGroup))
	require.Equal(t, map[string]hist{
		"claim-review/adjusters": {1, 3 * 3600},
		"claim-review/seniors":   {1, 30 * 3600},
	}, m.hists("chorus.human.time_to_decide", chorusotel.AttrTask, chorusotel.AttrGroup))
}

// The decision test's model: the application carries its score.
type loanApp struct {
	ID         string
	Risk       float64
	Confidence float64
	Fail       bool
}

var (
	credit      = decide.NewModel[loanApp]("credit-score")
	creditModel = credit.Activity(func(_ context.Context, a loanApp) (decide.Score, error) {
		if a.Fail {
			return decide.Score{}, errors.New("model server unavailable")
		}
		return decide.Score{Value: a.Risk, Confidence: a.Confidence, Model: "gbm", Version: "v1"}, nil
	})
	underwriter = workflow.NewSignal[decide.Answer]("underwriter")
	loanFlow    = workflow.New("loan", func(ctx workflow.Context, a loanApp) (decide.Decision, error) {
		return decide.Decide(ctx, credit, a, decide.Policy{
			Bands: []decide.Band{
				{Name: "low", Below: 0.2, Route: decide.Auto("approve")},
				{Name: "medium", Route: decide.Human("underwriter"), Suggest: "approve"},
			},
			MinConfidence: 0.6,
			Timeout:       2 * time.Second,
			Watch:         &decide.Watch{Window: 2, MinAgreement: 0.8},
		}, func(ctx workflow.Context, _ decide.Referral[loanApp]) (decide.Answer, error) {
			a, _ := workflow.GetSignalChannel(ctx, underwriter).Receive(ctx)
			return a, nil
		})
	})
)

// TestDecisionMetrics decides six loans on the fake clock: one by the
// model, two by people that put the drift watch below its agreement (it
// switches the model off), one while the model is off, one whose model
// call fails, and, once an operator switched the model on again, one of
// low confidence. The counters say who decided, why people did, how often
// they agreed with the model, and the switches.
func TestDecisionMetrics(t *testing.T) {
	obs, reader := meterObserver(t)
	env := chorustest.New(t, &chorustest.Options{
		Definitions: []chorus.Definition{loanFlow, creditModel},
		Engine:      &chorus.Options{Observer: obs},
	})
	env.Register(decide.Definitions(env.Engine())...)
	ctx := context.Background()

	decideLoan := func(a loanApp, answer string) decide.Decision {
		t.Helper()
		run := chorustest.Start(env, loanFlow, a, &chorus.StartOptions{ID: a.ID})
		if answer != "" {
			env.Settle()
			chorustest.Signal(env, a.ID, underwriter, decide.Answer{Outcome: answer, By: "uw"})
		}
		d, err := chorustest.Result(env, run)
		require.NoError(t, err)
		return d
	}
	require.Equal(t, decide.ByModel, decideLoan(loanApp{ID: "l1", Risk: 0.1, Confidence: 0.9}, "").DecidedBy)
	require.False(t, decideLoan(loanApp{ID: "l2", Risk: 0.5, Confidence: 0.9}, "decline").Agreed)
	require.True(t, decideLoan(loanApp{ID: "l3", Risk: 0.5, Confidence: 0.9}, "approve").Agreed)
	env.Settle()
	st, err := decide.WatchStatus(ctx, env.Engine(), "credit-score")
	require.NoError(t, err)
	require.False(t, st.Enabled, "agreement 0.5 over a window of 2 switched the model off")
	require.Equal(t, decide.FallbackModelOff, decideLoan(loanApp{ID: "l4", Risk: 0.1, Confidence: 0.9}, "approve").Fallback)
	require.Equal(t, decide.FallbackError, decideLoan(loanApp{ID: "l5", Fail: true}, "decline").Fallback)
	_, err = decide.Enable(ctx, env.Engine(), "credit-score", "ops:kim")
	require.NoError(t, err)
	require.Equal(t, decide.FallbackLowConfidence, decideLoan(loanApp{ID: "l6", Risk: 0.1, Confidence: 0.3}, "approve").Fallback)
	env.Settle()

	m := collect(t, reader)
	require.Equal(t, map[string]int64{"credit-score/model": 1, "credit-score/person": 5},
		m.sums2("chorus.decide.decisions", chorusotel.AttrModel, chorusotel.AttrDecidedBy))
	require.Equal(t, map[string]int64{"credit-score/model-off": 1, "credit-score/error": 1, "credit-score/low-confidence": 1},
		m.sums2("chorus.decide.fallbacks", chorusotel.AttrModel, chorusotel.AttrFallback))
	// l2, l3, l4 and l6 had a suggestion ("approve"); l2 was declined.
	require.Equal(t, map[string]int64{"credit-score": 4}, m.sums("chorus.decide.compared", chorusotel.AttrModel))
	require.Equal(t, map[string]int64{"credit-score": 3}, m.sums("chorus.decide.agreed", chorusotel.AttrModel))
	require.Equal(t, map[string]int64{"false/watch": 1, "true/operator": 1},
		m.sums2("chorus.decide.switches", chorusotel.AttrEnabled, chorusotel.AttrSwitchedBy))
	require.Equal(t, map[string]int64{"credit-score": 2}, m.sums("chorus.decide.switches", chorusotel.AttrModel))
	require.Equal(t, map[string]int64{"credit-score": 1}, m.gauge("chorus.decide.model.enabled", chorusotel.AttrModel))
}

// TestPeopleMarkersThatDoNotDecode: markers of the right names whose
// details do not decode, or lack what the metrics need, are skipped.
func TestPeopleMarkersThatDoNotDecode(t *testing.T) {
	obs, reader := meterObserver(t)
	ctx := context.Background()
	for _, ev := range []chorus.Event{
		{Name: "human.task.created", Details: []byte(`not json`)},
		{Name: "human.task.created", Details: []byte(`{"task":""}`)},
		{Name: "human.task.completed", Details: []byte(`{"task":7}`)},
		{Name: "human.task.completed"},
		{Name: "decide.decision", Details: []byte(`{"model":"m"}`)},
		{Name: "decide.decision", Details: []byte(`[1,2]`)},
		{Name: "decide.switch", RunID: "decide-watch:m", Details: []byte(`{"enabled":"yes","by":"watch"}`)},
		{Name: "decide.switch", RunID: "not-a-watch", Details: []byte(`{"enabled":true,"by":"watch"}`)},
	} {
		ev.Kind = chorus.EventMarker
		require.NotPanics(t, func() { obs.Observe(ctx, ev) }, "%s %s", ev.Name, ev.Details)
	}
	m := collect(t, reader)
	for _, name := range []string{"chorus.human.tasks.created", "chorus.human.tasks.completed", "chorus.decide.decisions", "chorus.decide.switches"} {
		require.Empty(t, m.sums(name, ""), name)
	}
	require.Empty(t, m.hists("chorus.human.time_to_decide", "", ""))
	require.Empty(t, m.gauge("chorus.decide.model.enabled", ""))
}

// sums2 adds up a counter's points by the values of two attributes,
// "v1/v2".
func (m metrics) sums2(name string, k1, k2 attribute.Key) map[string]int64 {
	out := map[string]int64{}
	if s, ok := m[name].(metricdata.Sum[int64]); ok {
		for _, dp := range s.DataPoints {
			v1, _ := dp.Attributes.Value(k1)
			v2, _ := dp.Attributes.Value(k2)
			out[v1.String()+"/"+v2.String()] += dp.Value
		}
	}
	return out
}

// hist is a histogram point's count and sum.
type hist struct {
	Count uint64
	Sum   float64
}

// hists returns a float histogram's points by the values of two
// attributes, "v1/v2".
func (m metrics) hists(name string, k1, k2 attribute.Key) map[string]hist {
	out := map[string]hist{}
	if h, ok := m[name].(metricdata.Histogram[float64]); ok {
		for _, dp := range h.DataPoints {
			v1, _ := dp.Attributes.Value(k1)
			v2, _ := dp.Attributes.Value(k2)
			k := v1.String() + "/" + v2.String()
			out[k] = hist{out[k].Count + dp.Count, out[k].Sum + dp.Sum}
		}
	}
	return out
}

// gauge returns an int gauge's values by the value of an attribute.
func (m metrics) gauge(name string, key attribute.Key) map[string]int64 {
	out := map[string]int64{}
	if g, ok := m[name].(metricdata.Gauge[int64]); ok {
		for _, dp := range g.DataPoints {
			v, _ := dp.Attributes.Value(key)
			out[v.String()] = dp.Value
		}
	}
	return out
}
