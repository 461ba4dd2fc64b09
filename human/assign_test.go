package human_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
)

func TestAssignToUser(t *testing.T) {
	wf := reviewFlow("review-user", human.Options{Assign: human.ToUser("bob")})
	env, inbox := newEnv(t, people(), nil, wf)
	ctx := ctxT(t)
	chorustest.Start(env, wf, Claim{ID: "u"}, &chorus.StartOptions{ID: "u"})
	env.Settle()
	v := onlyTask(t, inbox, env, "u")
	require.Equal(t, "bob", v.Assignee)
	require.Empty(t, v.Group)
	list, err := inbox.List(ctx, "bob")
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = inbox.List(ctx, "ann")
	require.NoError(t, err)
	require.Empty(t, list, "a user task is not the group's")
	_, err = inbox.Claim(ctx, "ann", "u", v.ID)
	require.ErrorIs(t, err, human.ErrNotAuthorized)
}

func TestAssignRoundRobin(t *testing.T) {
	wf := reviewFlow("review-rr", human.Options{Assign: human.RoundRobin("adjusters")})
	dir := people()
	require.NoError(t, dir.SetAbsent("bob", true))
	env, inbox := newEnv(t, dir, nil, wf)
	var got []string
	for _, id := range []string{"rr-1", "rr-2", "rr-3", "rr-4"} {
		chorustest.Start(env, wf, Claim{ID: id}, &chorus.StartOptions{ID: id})
		env.Settle()
		got = append(got, onlyTask(t, inbox, env, id).Assignee)
	}
	require.Equal(t, []string{"ann", "cyd", "ann", "cyd"}, got, "turns skip bob, who is absent")
}

func TestAssignBySkill(t *testing.T) {
	wf := reviewFlow("review-skill", human.Options{Assign: human.BySkill("fraud")})
	env, inbox := newEnv(t, people(), nil, wf)
	var got []string
	for _, id := range []string{"s-1", "s-2", "s-3"} {
		chorustest.Start(env, wf, Claim{ID: id}, &chorus.StartOptions{ID: id})
		env.Settle()
		got = append(got, onlyTask(t, inbox, env, id).Assignee)
	}
	require.Equal(t, []string{"ann", "cyd", "ann"}, got)
}

func TestAbsentAssigneeFallback(t *testing.T) {
	dir := people()
	require.NoError(t, dir.SetAbsent("bob", true))

	explicit := human.ToGroup("senior-adjusters")
	withFallback := reviewFlow("review-fb", human.Options{Assign: human.ToUser("bob"), Fallback: &explicit})
	toGroup := reviewFlow("review-fb-group", human.Options{Assign: human.ToUser("bob")})
	nobody := reviewFlow("review-fb-none", human.Options{Assign: human.BySkill("actuarial")})
	env, inbox := newEnv(t, dir, nil, withFallback, toGroup, nobody)
	ctx := ctxT(t)

	chorustest.Start(env, withFallback, Claim{}, &chorus.StartOptions{ID: "fb-1"})
	chorustest.Start(env, toGroup, Claim{}, &chorus.StartOptions{ID: "fb-2"})
	env.Settle()

	v := onlyTask(t, inbox, env, "fb-1")
	require.Equal(t, "senior-adjusters", v.Group)
	require.Empty(t, v.Assignee)
	require.Equal(t, []string{"created", "fallback", "assigned", "notified"}, actions(v))
	require.Equal(t, "user bob is absent", v.Audit[1].Detail)
	list, err := inbox.List(ctx, "sue")
	require.NoError(t, err)
	require.Len(t, list, 1)

	v = onlyTask(t, inbox, env, "fb-2")
	require.Equal(t, "adjusters", v.Group, "bob's own group covers for him")
	require.Equal(t, "fallback", v.Audit[1].Action)

	run := chorustest.Start(env, nobody, Claim{}, &chorus.StartOptions{ID: "fb-3"})
	_, err = chorustest.Result(env, run)
	require.ErrorContains(t, err, "nobody available")
	require.Zero(t, env.Elapsed(), "no retry of a final assignment failure")
	v = onlyTask(t, inbox, env, "fb-3")
	require.Equal(t, human.StateFailed, v.State)
}
