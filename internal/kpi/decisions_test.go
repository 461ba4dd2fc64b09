package kpi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/kpi"
)

// decision appends a decide.decision marker with payload p.
func (b *jb) decision(p string, s int) {
	b.add(history.EventMarker, kpi.DecisionMarker, 0, []byte(p), at(s))
}

// The decision markers of each workflow's runs are counted: who decided,
// the fallbacks, the agreement with people; those of an earlier run under
// a reused ID, other markers and workflows without decisions count
// nothing, and a marker that does not decode is counted apart.
func TestDecisionsByHand(t *testing.T) {
	st, _ := openStore(t)

	b := newRun("loan-1", "loan", at(0))
	b.decision(`{"key":"a","model":"credit","decided_by":"model","outcome":"approve","compared":false}`, 1)
	b.decision(`{"key":"b","model":"credit","decided_by":"person","fallback":"low-confidence","suggestion":"approve","outcome":"approve","compared":true,"agreed":true}`, 2)
	b.add(history.EventMarker, "other.marker", 0, []byte(`{"decided_by":"model"}`), at(3))
	b.add(history.EventRunCompleted, "", 0, nil, at(4))
	b.commit(t, st, history.StatusCompleted, at(4))

	// Two generations: both count.
	b = newRun("loan-2", "loan", at(10))
	b.decision(`{"key":"c","model":"credit","decided_by":"person","suggestion":"approve","outcome":"decline","compared":true,"agreed":false}`, 11)
	b.add(history.EventRunContinuedAsNew, "", 0, nil, at(12))
	b.add(history.EventRunStarted, "loan", 0, []byte(`"in"`), at(12))
	b.decision(`{"key":"d","model":"credit","decided_by":"person","fallback":"timeout","outcome":"decline","compared":false}`, 13)
	b.decision(`{"key":"e","model":"credit","decided_by":"person","fallback":"model-off","suggestion":"approve","outcome":"approve","compared":true,"agreed":true}`, 14)
	b.decision(`not json`, 15)
	b.commit(t, st, history.StatusRunning, at(15))

	// The first holder of a reused ID: its decision is not the new run's.
	b = newRun("loan-3", "loan", at(20))
	b.decision(`{"key":"f","decided_by":"model","compared":false}`, 21)
	b.add(history.EventRunFailed, "", 0, []byte(`{"message":"boom"}`), at(22))
	b.commit(t, st, history.StatusFailed, at(22))
	first := int64(len(b.evs) + 1)
	b.add(history.EventRunStarted, "loan", 0, []byte(`"in"`), at(30))
	mustCommit(t, st, &history.Batch{RunID: "loan-3", Time: at(30), Events: b.evs[first-1:],
		Reuse: &history.RunInfo{Workflow: "loan", FirstSeq: first}, Status: &history.StatusUpdate{Status: history.StatusRunning}})

	b = newRun("o-1", "order", at(40))
	b.done(b.sched("charge", at(40)), at(41))
	b.commit(t, st, history.StatusRunning, at(41))

	ws, err := kpi.Compute(context.Background(), st, kpi.Filter{})
	require.NoError(t, err)
	require.Len(t, ws, 2)
	loan, order := ws[0], ws[1]
	require.Equal(t, kpi.Decisions{Decisions: 5, Automated: 1, Manual: 4,
		Fallbacks: map[string]int64{"low-confidence": 1, "timeout": 1, "model-off": 1},
		Compared:  3, Agreed: 2, Unreadable: 1}, loan.Decisions)
	require.InDelta(t, 0.2, *loan.Decisions.AutomatedShare(), 1e-12)
	require.InDelta(t, 0.8, *loan.Decisions.ManualShare(), 1e-12)
	require.InDelta(t, 2.0/3, *loan.Decisions.AgreementRate(), 1e-12)

	require.Equal(t, kpi.Decisions{}, order.Decisions)
	require.Nil(t, order.Decisions.AutomatedShare())
	require.Nil(t, order.Decisions.AgreementRate())
}
