package decide_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
)

func TestDriftWatchSwitchesModelOffUntilEnabled(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	eng := env.Engine()

	// A low-risk case is approved by the model while it is on.
	d, _ := decideCase(t, env, WatchedLoan, App{ID: "c0", Risk: 0.1, Confidence: 0.9, Version: "v1"}, nil)
	require.Equal(t, decide.ByModel, d.DecidedBy)
	require.True(t, d.ModelEnabled)

	// Underwriters decline three medium cases the model suggests approving:
	// the window (3) is full and agreement 0 < 0.8.
	for i := 1; i <= 3; i++ {
		st, err := decide.WatchStatus(ctx, eng, "credit-score")
		require.NoError(t, err)
		require.True(t, st.Enabled, "still on before case %d", i)
		d, asked := decideCase(t, env, WatchedLoan, App{ID: fmt.Sprintf("c%d", i), Risk: 0.5, Confidence: 0.9, Version: "v1"},
			&decide.Answer{Outcome: "decline", By: "uw:bob"})
		require.Equal(t, "approve", asked.Suggestion)
		require.True(t, d.Compared)
		require.False(t, d.Agreed)
	}
	st, err := decide.WatchStatus(ctx, eng, "credit-score")
	require.NoError(t, err)
	require.False(t, st.Enabled, "the watch switched the model off")
	require.Equal(t, 3, st.Cases)
	require.Zero(t, st.Agreement)
	require.Len(t, st.Switches, 1)
	require.Equal(t, "watch", st.Switches[0].By)
	require.False(t, st.Switches[0].Enabled)
	require.Contains(t, st.Switches[0].Reason, "agreement 0.000 below 0.800")
	require.Equal(t, decide.Counters{Decisions: 4, Automated: 1, Manual: 3, Compared: 3}, st.Counters)
	require.Contains(t, env.Markers(decide.WatchID("credit-score")), decide.SwitchMarker)

	// Switched off, a low-risk case goes to a person, without the model's
	// suggestion; the comparison goes on in the record.
	d, asked := decideCase(t, env, WatchedLoan, App{ID: "c4", Risk: 0.1, Confidence: 0.9, Version: "v1"},
		&decide.Answer{Outcome: "approve", By: "uw:bob"})
	require.Equal(t, decide.FallbackModelOff, asked.Fallback)
	require.Empty(t, asked.Suggestion)
	require.Equal(t, "underwriter", asked.Queue)
	require.False(t, d.ModelEnabled)
	require.Equal(t, decide.FallbackModelOff, d.Fallback)
	require.Equal(t, decide.ByPerson, d.DecidedBy)
	require.True(t, d.Compared)
	require.True(t, d.Agreed)
	// A medium case too goes to its person without a suggestion.
	_, asked = decideCase(t, env, WatchedLoan, App{ID: "c5", Risk: 0.5, Confidence: 0.9, Version: "v1"},
		&decide.Answer{Outcome: "approve", By: "uw:bob"})
	require.Empty(t, asked.Suggestion)
	require.Equal(t, decide.FallbackNone, asked.Fallback)

	// A later agreeing window does not switch it back on by itself.
	st, err = decide.WatchStatus(ctx, eng, "credit-score")
	require.NoError(t, err)
	require.False(t, st.Enabled)

	// An operator re-enables it: journaled with who, and the model decides again.
	_, err = decide.Enable(ctx, eng, "credit-score", "")
	require.Error(t, err, "who enables must be named")
	st, err = decide.Enable(ctx, eng, "credit-score", "ops:ann")
	require.NoError(t, err)
	require.True(t, st.Enabled)
	require.Zero(t, st.Cases, "the window starts afresh")
	require.Len(t, st.Switches, 2)
	require.Equal(t, "ops:ann", st.Switches[1].By)
	require.True(t, st.Switches[1].Enabled)
	require.Equal(t, env.Now(), st.Switches[1].At)
	require.Equal(t, []string{decide.SwitchMarker, decide.SwitchMarker}, env.Markers(decide.WatchID("credit-score")))

	d, _ = decideCase(t, env, WatchedLoan, App{ID: "c6", Risk: 0.1, Confidence: 0.9, Version: "v2"}, nil)
	require.Equal(t, decide.ByModel, d.DecidedBy)
	require.True(t, d.ModelEnabled)

	// The counters from the journaled records agree with the watch's.
	var all []decide.Decision
	for i := 0; i <= 6; i++ {
		recs, err := decide.Records(ctx, eng, fmt.Sprintf("c%d", i))
		require.NoError(t, err)
		all = append(all, recs...)
	}
	c := decide.Summarize(all)
	st, err = decide.WatchStatus(ctx, eng, "credit-score")
	require.NoError(t, err)
	require.Equal(t, c, st.Counters)
	require.Equal(t, 7, c.Decisions)
	require.Equal(t, 2, c.Automated)
	require.InDelta(t, 2.0/7, c.AutomatedShare(), 1e-9)
	require.Equal(t, 5, c.Compared)
	require.InDelta(t, 2.0/5, c.AgreementRate(), 1e-9)
	require.Equal(t, map[decide.Fallback]int{decide.FallbackModelOff: 1}, c.Fallbacks)
	byModel, err := decide.Count(ctx, eng, &chorus.ListOptions{Workflow: WatchedLoan.Name()})
	require.NoError(t, err)
	require.Equal(t, map[string]decide.Counters{"credit-score": c}, byModel)

	// An operator may switch it off by hand too.
	st, err = decide.Disable(ctx, eng, "credit-score", "ops:ann", "vendor incident")
	require.NoError(t, err)
	require.False(t, st.Enabled)
	require.Equal(t, "vendor incident", st.Switches[2].Reason)
}

func TestWatchStatusOfUnwatchedModel(t *testing.T) {
	env := newEnv(t)
	st, err := decide.WatchStatus(context.Background(), env.Engine(), "never-used")
	require.NoError(t, err)
	require.True(t, st.Enabled)
	require.Equal(t, "never-used", st.Model)
}
