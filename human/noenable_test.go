package human_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// Ask works without Enable, as the first example calls it: the
// first Ask sets the run up, a second Ask shares it, and the inbox finds
// and completes both tasks.
func TestAskWithoutEnable(t *testing.T) {
	wf := workflow.New("plain-ask", func(ctx workflow.Context, c Claim) ([]Decision, error) {
		var out []Decision
		for range 2 {
			d, err := human.Ask(ctx, Review, c, &human.Options{Assign: human.ToUser("ann"), Deadline: time.Hour})
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	})
	env, inbox := newEnv(t, people(), newRecorder(), wf)
	ctx := ctxT(t)
	run := chorustest.Start(env, wf, Claim{ID: "c-9", Amount: 10}, &chorus.StartOptions{ID: "plain-1"})
	for i, outcome := range []string{"approve", "refer"} {
		env.Settle()
		list, err := inbox.List(ctx, "ann")
		require.NoError(t, err)
		require.Len(t, list, 1, "task %d", i+1)
		_, err = inbox.Complete(ctx, "ann", "plain-1", list[0].ID, Decision{Outcome: outcome})
		require.NoError(t, err)
	}
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, []Decision{{Outcome: "approve"}, {Outcome: "refer"}}, got)
}
