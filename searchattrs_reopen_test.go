package chorus_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

var attrMore = workflow.NewSignal[int64]("more")

func attrWaiter(first string) *workflow.Definition[string, string] {
	return workflow.New("attr-waiter", func(ctx workflow.Context, c string) (string, error) {
		if err := workflow.UpsertSearchAttributes(ctx, attrCustomer.Value(first+c)); err != nil {
			return "", err
		}
		n, _ := workflow.GetSignalChannel(ctx, attrMore).Receive(ctx)
		if err := workflow.UpsertSearchAttributes(ctx, attrAmount.Value(n)); err != nil {
			return "", err
		}
		return "done", nil
	})
}

// A run that set attributes, then waits, is replayed by the next process:
// the replay re-issues the upsert, which matches, and the run goes on. Code
// that sets another value blocks the run instead.
func TestSearchAttributesAcrossReopen(t *testing.T) {
	ctx := testContext(t)
	wf := attrWaiter("")
	eng, path := setup(t, nil, wf)
	_, err := chorus.Start(ctx, eng, wf, "acme", &chorus.StartOptions{ID: "w1"})
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, wf, "acme", &chorus.StartOptions{ID: "w2"})
	require.NoError(t, err)
	for _, id := range []string{"w1", "w2"} {
		require.Eventually(t, func() bool {
			info, err := eng.Describe(ctx, id)
			return err == nil && len(info.SearchAttributes) == 1
		}, 5*time.Second, time.Millisecond, "the first upsert is committed")
	}
	closeEngine(t, eng)

	eng = openEngine(t, path, nil, wf)
	require.NoError(t, chorus.Signal(ctx, eng, "w1", attrMore, 7))
	run, err := chorus.Lookup(ctx, eng, wf, "w1")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "done", got)
	info, err := eng.Describe(ctx, "w1")
	require.NoError(t, err)
	require.Equal(t, []chorus.SearchAttribute{attrAmount.Value(7), attrCustomer.Value("acme")}, info.SearchAttributes)
	runs, err := eng.List(ctx, &chorus.ListOptions{Attrs: []chorus.AttrFilter{attrAmount.Is(7)}})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, "w1", runs[0].ID)
	closeEngine(t, eng)

	// New code sets another value for the same upsert: w2 is blocked when
	// the engine replays it (a signal wakes it).
	changed := attrWaiter("new-")
	eng = openEngine(t, path, nil, changed)
	require.ErrorContains(t, chorus.Signal(ctx, eng, "w2", attrMore, 1), "SearchAttributesUpserted")
	require.Eventually(t, func() bool {
		info, err := eng.Describe(ctx, "w2")
		return err == nil && info.Status == chorus.StatusBlocked
	}, 5*time.Second, time.Millisecond, "the diverging upsert blocks the run")
	info, err = eng.Describe(ctx, "w2")
	require.NoError(t, err)
	require.ErrorContains(t, info.Err, "SearchAttributesUpserted")
}
