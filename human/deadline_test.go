package human_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
)

// Escalation steps fire in order on durable timers, then the deadline
// answers with the default.
func TestEscalationChainThenDefault(t *testing.T) {
	rec := newRecorder()
	wf := reviewFlow("review-escalate", human.Options{
		Assign:   human.ToUser("bob"),
		Deadline: 48 * time.Hour,
		Escalate: []human.Step{
			{After: 24 * time.Hour},
			{After: 36 * time.Hour, Assign: human.ToGroup("senior-adjusters"), Priority: 5},
		},
		OnTimeout: human.Default(Decision{Outcome: "refer"}),
	})
	env, inbox := newEnv(t, people(), rec, wf)
	ctx := ctxT(t)

	run := chorustest.Start(env, wf, Claim{ID: "c-2"}, &chorus.StartOptions{ID: "claim-2"})
	env.Settle()
	_, err := inbox.Claim(ctx, "bob", "claim-2", "claim-review-1")
	require.NoError(t, err)

	env.Advance(24 * time.Hour)
	v := onlyTask(t, inbox, env, "claim-2")
	require.Equal(t, "bob", v.ClaimedBy, "a notify-only step keeps the claim")

	env.Advance(12 * time.Hour)
	v = onlyTask(t, inbox, env, "claim-2")
	require.Equal(t, "senior-adjusters", v.Group)
	require.Empty(t, v.Assignee)
	require.Empty(t, v.ClaimedBy)
	require.Equal(t, 5, v.Priority)
	list, err := inbox.List(ctx, "sue")
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = inbox.List(ctx, "bob")
	require.NoError(t, err)
	require.Empty(t, list)

	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, Decision{Outcome: "refer"}, got)
	require.Equal(t, 48*time.Hour, env.Elapsed())

	v = onlyTask(t, inbox, env, "claim-2")
	require.Equal(t, human.StateTimedOut, v.State)
	require.Equal(t, []string{"created", "assigned", "notified", "claimed", "escalated", "notified",
		"escalated", "assigned", "notified", "timed-out"}, actions(v))
	var events []string
	for _, n := range rec.all() {
		events = append(events, n.Event+":"+n.Assignee+n.Group)
	}
	require.Equal(t, []string{"assigned:bob", "escalated:bob", "escalated:senior-adjusters"}, events)

	_, err = inbox.Complete(ctx, "sue", "claim-2", "claim-review-1", Decision{Outcome: "approve"})
	require.ErrorIs(t, err, human.ErrTaskClosed)
}

func TestDeadlineFail(t *testing.T) {
	wf := reviewFlow("review-fail", human.Options{Assign: human.ToGroup("adjusters"), Deadline: 8 * time.Hour, OnTimeout: human.Fail()})
	env, _ := newEnv(t, people(), nil, wf)
	run := chorustest.Start(env, wf, Claim{ID: "c-3"}, &chorus.StartOptions{ID: "claim-3"})
	_, err := chorustest.Result(env, run)
	require.ErrorContains(t, err, "human: task timed out")
	require.Equal(t, 8*time.Hour, env.Elapsed())
	views, qerr := chorustest.Query(env, "claim-3", human.TasksQuery, struct{}{})
	require.NoError(t, qerr)
	require.Equal(t, human.StateTimedOut, views[0].State)
}

// flakyDirectory fails its first lookup, as a directory service that is
// briefly down.
type flakyDirectory struct {
	human.Directory
	failed atomic.Bool
}

func (f *flakyDirectory) User(ctx context.Context, id string) (human.User, error) {
	if f.failed.CompareAndSwap(false, true) {
		return human.User{}, errors.New("directory unavailable")
	}
	return f.Directory.User(ctx, id)
}

// The deadline counts from the task's creation, also when the assignment
// took a retry.
func TestDeadlineCountsFromCreation(t *testing.T) {
	wf := reviewFlow("review-slow-assign", human.Options{Assign: human.ToUser("ann"), Deadline: 8 * time.Hour, OnTimeout: human.Default(Decision{Outcome: "refer"})})
	env, inbox := newEnv(t, &flakyDirectory{Directory: people()}, nil, wf)
	run := chorustest.Start(env, wf, Claim{}, &chorus.StartOptions{ID: "slow"})
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "refer", got.Outcome)
	require.Equal(t, 8*time.Hour, env.Elapsed())
	v := onlyTask(t, inbox, env, "slow")
	require.Equal(t, "assigned", v.Audit[1].Action)
	require.True(t, v.Audit[1].At.After(env.StartTime()), "assigned after one retry")
	require.Equal(t, v.Due, v.Audit[len(v.Audit)-1].At)
}
