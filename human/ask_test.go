package human_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
)

func TestAskGroupCompletedThroughInbox(t *testing.T) {
	rec := newRecorder()
	wf := reviewFlow("review-group", human.Options{Assign: human.ToGroup("adjusters"), Priority: 2, Deadline: 48 * time.Hour})
	env, inbox := newEnv(t, people(), rec, wf)
	ctx := ctxT(t)

	run := chorustest.Start(env, wf, Claim{ID: "c-1", Amount: 900}, &chorus.StartOptions{ID: "claim-1"})
	env.Settle()

	for _, u := range []string{"ann", "bob"} {
		list, err := inbox.List(ctx, u)
		require.NoError(t, err)
		require.Len(t, list, 1, u)
		v := list[0]
		require.Equal(t, "claim-1", v.RunID)
		require.Equal(t, "claim-review-1", v.ID)
		require.Equal(t, "adjusters", v.Group)
		require.Equal(t, 2, v.Priority)
		require.Equal(t, env.StartTime().Add(48*time.Hour), v.Due)
		c, err := Review.Input(v)
		require.NoError(t, err)
		require.Equal(t, Claim{ID: "c-1", Amount: 900}, c)
	}
	list, err := inbox.List(ctx, "sue")
	require.NoError(t, err)
	require.Empty(t, list, "sue is not an adjuster")

	v, err := inbox.Claim(ctx, "ann", "claim-1", "claim-review-1")
	require.NoError(t, err)
	require.Equal(t, human.StateClaimed, v.State)
	list, err = inbox.List(ctx, "bob")
	require.NoError(t, err)
	require.Empty(t, list, "claimed by ann")
	list, err = inbox.ListGroup(ctx, "adjusters")
	require.NoError(t, err)
	require.Len(t, list, 1, "the group's queue shows claimed tasks too")
	require.Equal(t, "ann", list[0].ClaimedBy)
	list, err = inbox.ListGroup(ctx, "senior-adjusters")
	require.NoError(t, err)
	require.Empty(t, list)

	_, err = inbox.Comment(ctx, "ann", "claim-1", "claim-review-1", "photos look edited")
	require.NoError(t, err)
	v, err = inbox.Complete(ctx, "ann", "claim-1", "claim-review-1", Decision{Outcome: "approve"})
	require.NoError(t, err)
	require.Equal(t, human.StateCompleted, v.State)

	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, Decision{Outcome: "approve"}, got)

	audit, err := inbox.Audit(ctx, "claim-1", "claim-review-1")
	require.NoError(t, err)
	var acts []string
	for _, a := range audit {
		acts = append(acts, a.Action+"/"+a.User)
	}
	require.Equal(t, []string{"created/", "assigned/", "notified/", "claimed/ann", "commented/ann", "completed/ann"}, acts)
	require.Equal(t, []string{"human.task.created", "human.task.assigned", "human.task.notified", "human.task.claimed",
		"human.task.commented", "human.task.completed"}, env.Markers("claim-1"), "the audit is in the journal")
	notices := rec.all()
	require.Len(t, notices, 1)
	require.Equal(t, "assigned", notices[0].Event)
	require.Len(t, notices[0].Users, 3) // ann, bob, cyd
}
