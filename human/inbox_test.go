package human_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

func TestAuthorizationRefusedWithoutWriting(t *testing.T) {
	wf := reviewFlow("review-auth", human.Options{Assign: human.ToGroup("adjusters")})
	env, inbox := newEnv(t, people(), nil, wf)
	ctx := ctxT(t)
	chorustest.Start(env, wf, Claim{}, &chorus.StartOptions{ID: "a"})
	env.Settle()
	id := onlyTask(t, inbox, env, "a").ID
	before := len(env.History("a"))

	var te *human.TaskError
	_, err := inbox.Claim(ctx, "zed", "a", id)
	require.ErrorIs(t, err, human.ErrNotAuthorized)
	require.ErrorAs(t, err, &te)
	require.Equal(t, "zed", te.User)
	require.Equal(t, "claim", te.Action)
	_, err = inbox.Complete(ctx, "zed", "a", id, Decision{Outcome: "approve"})
	require.ErrorIs(t, err, human.ErrNotAuthorized)
	_, err = inbox.Reassign(ctx, "zed", "a", id, "zed", "")
	require.ErrorIs(t, err, human.ErrNotAuthorized)
	_, err = inbox.Comment(ctx, "zed", "a", id, "let me")
	require.ErrorIs(t, err, human.ErrNotAuthorized)
	_, err = inbox.Claim(ctx, "nobody", "a", id)
	require.ErrorIs(t, err, human.ErrUnknownUser)
	_, err = inbox.Claim(ctx, "", "a", id)
	require.ErrorIs(t, err, human.ErrBadRequest)
	_, err = inbox.Comment(ctx, "ann", "a", id, "")
	require.ErrorIs(t, err, human.ErrBadRequest)
	_, err = inbox.Comment(ctx, "ann", "a", id, strings.Repeat("x", human.MaxCommentBytes+1))
	require.ErrorIs(t, err, human.ErrBadRequest)
	_, err = inbox.Reassign(ctx, "ann", "a", id, "", "")
	require.ErrorIs(t, err, human.ErrBadRequest)
	_, err = inbox.Claim(ctx, "ann", "a", "no-such-task")
	require.ErrorIs(t, err, human.ErrUnknownTask)
	_, err = inbox.Claim(ctx, "ann", "no-such-run", id)
	require.ErrorIs(t, err, human.ErrUnknownTask)

	require.Len(t, env.History("a"), before, "a refused action writes nothing")

	_, err = inbox.Claim(ctx, "ann", "a", id)
	require.NoError(t, err)
	before = len(env.History("a"))
	_, err = inbox.Claim(ctx, "bob", "a", id)
	require.ErrorIs(t, err, human.ErrAlreadyClaimed)
	_, err = inbox.Complete(ctx, "bob", "a", id, Decision{Outcome: "deny"})
	require.ErrorIs(t, err, human.ErrAlreadyClaimed)
	_, err = inbox.Release(ctx, "bob", "a", id)
	require.ErrorIs(t, err, human.ErrNotClaimed)
	require.Len(t, env.History("a"), before, "a refused action writes nothing")

	v, err := inbox.Release(ctx, "ann", "a", id)
	require.NoError(t, err)
	require.Equal(t, human.StateOpen, v.State)
	v, err = inbox.Complete(ctx, "bob", "a", id, json.RawMessage(`{"outcome":"deny"}`))
	require.NoError(t, err, "an unclaimed group task may be completed by a member")
	require.Equal(t, "bob", v.CompletedBy)
}

func TestInvalidOutcomeRefusedTaskStaysOpen(t *testing.T) {
	wf := reviewFlow("review-invalid", human.Options{Assign: human.ToUser("ann")})
	env, inbox := newEnv(t, people(), nil, wf)
	ctx := ctxT(t)
	run := chorustest.Start(env, wf, Claim{}, &chorus.StartOptions{ID: "inv"})
	env.Settle()
	id := onlyTask(t, inbox, env, "inv").ID
	before := len(env.History("inv"))

	for _, bad := range []any{
		map[string]any{"outcome": 5},
		map[string]any{"outcome": "approve", "amount": 3},
		json.RawMessage(`null`),
		"approve",
		func() {},
	} {
		_, err := inbox.Complete(ctx, "ann", "inv", id, bad)
		require.ErrorIs(t, err, human.ErrInvalidOutcome, "%#v", bad)
	}
	require.Len(t, env.History("inv"), before)
	v := onlyTask(t, inbox, env, "inv")
	require.Equal(t, human.StateOpen, v.State)

	_, err := human.Complete(ctx, inbox, Review, "ann", "inv", id, Decision{Outcome: "approve"})
	require.NoError(t, err)
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, Decision{Outcome: "approve"}, got)
}

// The workflow keeps running after the answer, so the second completion
// reaches the validator (not an ended run) and is refused there.
func TestDuplicateCompletionRefused(t *testing.T) {
	wf := workflow.New("review-twice", func(ctx workflow.Context, c Claim) (Decision, error) {
		ctx = human.Enable(ctx)
		d, err := human.Ask(ctx, Review, c, &human.Options{Assign: human.ToGroup("adjusters")})
		if err != nil {
			return d, err
		}
		if err := workflow.Sleep(ctx, time.Hour); err != nil {
			return d, err
		}
		return d, nil
	})
	env, inbox := newEnv(t, people(), nil, wf)
	ctx := ctxT(t)
	run := chorustest.Start(env, wf, Claim{}, &chorus.StartOptions{ID: "dup"})
	env.Settle()
	id := onlyTask(t, inbox, env, "dup").ID

	_, err := inbox.Complete(ctx, "ann", "dup", id, Decision{Outcome: "approve"})
	require.NoError(t, err)
	env.Settle()
	_, err = inbox.Complete(ctx, "bob", "dup", id, Decision{Outcome: "deny"})
	require.ErrorIs(t, err, human.ErrTaskClosed)
	_, err = inbox.Complete(ctx, "ann", "dup", id, Decision{Outcome: "approve"})
	require.ErrorIs(t, err, human.ErrTaskClosed)

	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, Decision{Outcome: "approve"}, got)
	_, err = inbox.Complete(ctx, "bob", "dup", id, Decision{Outcome: "deny"})
	require.ErrorIs(t, err, human.ErrTaskClosed, "after the run ended")
	v := onlyTask(t, inbox, env, "dup")
	require.Equal(t, "ann", v.CompletedBy)
	require.Equal(t, 1, count(actions(v), "completed"))
}

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

func TestReassignAndSeveralOpenTasks(t *testing.T) {
	rec := newRecorder()
	wf := workflow.New("review-pair", func(ctx workflow.Context, c Claim) (string, error) {
		ctx = human.Enable(ctx)
		var a, b Decision
		var errA, errB error
		wg := workflow.NewWaitGroup(ctx)
		wg.Add(2)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			a, errA = human.Ask(ctx, Review, c, &human.Options{Assign: human.ToUser("ann")})
		})
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			b, errB = human.Ask(ctx, Review, c, &human.Options{Assign: human.ToGroup("senior-adjusters"), Priority: 9})
		})
		wg.Wait(ctx)
		if errA != nil || errB != nil {
			return "", errA
		}
		return a.Outcome + "+" + b.Outcome, nil
	})
	env, inbox := newEnv(t, people(), rec, wf)
	ctx := ctxT(t)
	run := chorustest.Start(env, wf, Claim{}, &chorus.StartOptions{ID: "pair"})
	env.Settle()

	list, err := inbox.List(ctx, "ann")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "claim-review-1", list[0].ID)
	list, err = inbox.List(ctx, "sue")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "claim-review-2", list[0].ID)

	_, err = inbox.Reassign(ctx, "ann", "pair", "claim-review-1", "tom", "")
	require.NoError(t, err)
	env.Settle() // the notification runs beside the task
	list, err = inbox.List(ctx, "ann")
	require.NoError(t, err)
	require.Empty(t, list)
	list, err = inbox.List(ctx, "tom")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "claim-review-2", list[0].ID, "higher priority first")
	_, err = inbox.Reassign(ctx, "tom", "pair", "claim-review-1", "nobody", "")
	require.ErrorIs(t, err, human.ErrUnknownUser)

	_, err = inbox.Complete(ctx, "tom", "pair", "claim-review-1", Decision{Outcome: "approve"})
	require.NoError(t, err)
	_, err = inbox.Complete(ctx, "sue", "pair", "claim-review-2", Decision{Outcome: "refer"})
	require.NoError(t, err)
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "approve+refer", got)

	var events []string
	for _, n := range rec.all() {
		events = append(events, n.Event+":"+n.Assignee+n.Group)
	}
	require.ElementsMatch(t, []string{"assigned:ann", "assigned:senior-adjusters", "reassigned:tom"}, events)
}

func TestCancelClosesTask(t *testing.T) {
	wf := reviewFlow("review-cancel", human.Options{Assign: human.ToUser("ann")})
	env, inbox := newEnv(t, people(), nil, wf)
	ctx := ctxT(t)
	run := chorustest.Start(env, wf, Claim{}, &chorus.StartOptions{ID: "cx"})
	env.Settle()
	env.Cancel("cx")
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorus.ErrCanceled)
	v := onlyTask(t, inbox, env, "cx")
	require.Equal(t, human.StateCanceled, v.State)
	list, err := inbox.List(ctx, "ann")
	require.NoError(t, err)
	require.Empty(t, list)
}

// An action's result leaves out the task's context and audit, so a large
// context and a large outcome (each under the payload limit, together
// over it) are completed normally.
func TestLargeContextAndOutcome(t *testing.T) {
	wf := reviewFlow("review-large", human.Options{Assign: human.ToUser("ann")})
	env, inbox := newEnv(t, people(), nil, wf)
	ctx := ctxT(t)
	big := strings.Repeat("c", 1<<20+100<<10)
	run := chorustest.Start(env, wf, Claim{ID: big}, &chorus.StartOptions{ID: "large"})
	env.Settle()
	v, err := inbox.Task(ctx, "large", "claim-review-1")
	require.NoError(t, err)
	in, err := Review.Input(v)
	require.NoError(t, err)
	require.Len(t, in.ID, len(big))

	note := strings.Repeat("n", 1<<20)
	v, err = inbox.Complete(ctx, "ann", "large", v.ID, Decision{Outcome: "approve", Note: note})
	require.NoError(t, err)
	require.Equal(t, human.StateCompleted, v.State)
	require.Nil(t, v.Input, "not in the update's result")
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, note, got.Note)
}
