package decide

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	chorustest "github.com/chorusdev/chorus/testing"
)

// The watch continues as new to keep its journal short, carrying its
// window, counters and switches, and drops a report sent twice (the report
// activity ran again after a crash), also across generations.
func TestWatchContinuesAsNewAndDropsDuplicates(t *testing.T) {
	old := continueEvery
	continueEvery = 2
	t.Cleanup(func() { continueEvery = old })

	env := chorustest.New(t, nil)
	env.Register(Definitions(env.Engine())...)
	id := WatchID("m")
	w := Watch{Window: 3, MinAgreement: 0.5}
	send := func(key string, agreed bool) {
		d := Decision{Key: key, Model: "m", DecidedBy: ByPerson, Compared: true, Agreed: agreed, Outcome: "x"}
		chorustest.SignalWithStart(env, watchWorkflow, newState("m"), &chorus.StartOptions{ID: id}, reportSignal, observation{Decision: d, Watch: w})
		env.Settle()
	}
	send("k1", true)
	send("k2", false)
	send("k2", false) // sent twice
	send("k3", true)
	send("k1", true) // sent twice, in an earlier generation
	send("k4", false)

	st, err := chorustest.Query(env, id, statusQuery, struct{}{})
	require.NoError(t, err)
	require.Equal(t, Counters{Decisions: 4, Manual: 4, Compared: 4, Agreed: 2}, st.Counters)
	require.Equal(t, 3, st.Cases)
	require.InDelta(t, 1.0/3, st.Agreement, 1e-9)
	require.False(t, st.Enabled, "1/3 is below 0.5 once the window of 3 is full")
	require.Equal(t, w, st.Watch)

	continued := 0
	for _, ev := range env.History(id) {
		if ev.Type == history.EventRunContinuedAsNew {
			continued++
		}
	}
	require.GreaterOrEqual(t, continued, 2, "the watch continued as new")
	info := env.Describe(id)
	require.Equal(t, chorus.StatusRunning, info.Status)
	var sw Switch
	require.NoError(t, env.Engine().DecodeMemo(info.Memo["decide.switch"], &sw))
	require.Equal(t, "watch", sw.By)
	require.False(t, sw.Enabled)
	// A listing finds the switched-off model by its search attributes.
	runs, err := env.Engine().List(context.Background(), &chorus.ListOptions{Attrs: []chorus.AttrFilter{AttrEnabled.Is(false), AttrModel.Is("m")}})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, id, runs[0].ID)
}
