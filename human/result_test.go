package human_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// resultFlow is a workflow that asks Review once with opts through AskFor
// and returns the whole result; it fails with AskFor's error.
func resultFlow(name string, opts human.Options) *workflow.Definition[Claim, human.Result[Decision]] {
	return workflow.New(name, func(ctx workflow.Context, c Claim) (human.Result[Decision], error) {
		ctx = human.Enable(ctx)
		return human.AskFor(ctx, Review, c, &opts)
	})
}

// AskFor tells the workflow who answered (the user the inbox authorized,
// not a name in the answer), which task it was, how often it escalated and
// when it was asked and answered.
func TestAskForReportsWhoAnsweredAndWhen(t *testing.T) {
	wf := resultFlow("review-result", human.Options{
		Assign:   human.ToGroup("adjusters"),
		Deadline: 48 * time.Hour,
		Escalate: []human.Step{
			{After: 12 * time.Hour},
			{After: 24 * time.Hour, Assign: human.ToGroup("senior-adjusters")},
		},
		OnTimeout: human.Default(Decision{Outcome: "refer"}),
	})
	env, inbox := newEnv(t, people(), nil, wf)
	ctx := ctxT(t)

	run := chorustest.Start(env, wf, Claim{ID: "c-1"}, &chorus.StartOptions{ID: "who-1"})
	env.Advance(26 * time.Hour)
	_, err := inbox.Claim(ctx, "sue", "who-1", "claim-review-1")
	require.NoError(t, err)
	env.Advance(30 * time.Minute)
	// The answer names someone else: the result names the user who acted.
	_, err = inbox.Complete(ctx, "sue", "who-1", "claim-review-1", Decision{Outcome: "approve", Note: "by tom"})
	require.NoError(t, err)

	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	start := env.StartTime()
	require.Equal(t, human.Result[Decision]{
		Value:       Decision{Outcome: "approve", Note: "by tom"},
		By:          "sue",
		TaskID:      "claim-review-1",
		Escalations: 2,
		CreatedAt:   start,
		DecidedAt:   start.Add(26*time.Hour + 30*time.Minute),
	}, normalize(got))

	v := onlyTask(t, inbox, env, "who-1")
	require.Equal(t, got.DecidedAt, v.Closed)
}

// A task whose deadline passes gives the default with TimedOut set and no
// user; with Fail, the error comes with what is known of the task.
func TestAskForTimedOut(t *testing.T) {
	def := resultFlow("review-result-default", human.Options{Assign: human.ToUser("bob"), Deadline: 8 * time.Hour,
		Escalate: []human.Step{{After: time.Hour}}, OnTimeout: human.Default(Decision{Outcome: "refer"})})
	env, _ := newEnv(t, people(), nil, def)

	got, err := chorustest.Result(env, chorustest.Start(env, def, Claim{}, &chorus.StartOptions{ID: "late-1"}))
	require.NoError(t, err)
	start := env.StartTime()
	require.Equal(t, human.Result[Decision]{
		Value: Decision{Outcome: "refer"}, TaskID: "claim-review-1", TimedOut: true, Escalations: 1,
		CreatedAt: start, DecidedAt: start.Add(8 * time.Hour),
	}, normalize(got))

	// Fail: the workflow sees the error and the result beside it.
	var seen human.Result[Decision]
	probe := workflow.New("review-result-probe", func(ctx workflow.Context, c Claim) (bool, error) {
		ctx = human.Enable(ctx)
		r, err := human.AskFor(ctx, Review, c, &human.Options{Assign: human.ToUser("bob"), Deadline: 8 * time.Hour})
		seen = r
		return r.TimedOut, err
	})
	env.Register(probe)
	from := env.Now()
	_, err = chorustest.Result(env, chorustest.Start(env, probe, Claim{}, &chorus.StartOptions{ID: "late-2"}))
	require.ErrorContains(t, err, "human: task timed out")
	require.Equal(t, human.Result[Decision]{TaskID: "claim-review-1", TimedOut: true, CreatedAt: from, DecidedAt: from.Add(8 * time.Hour)},
		normalize(seen))
}

// Ask and AskFor number the tasks of a run alike; a second task's result
// names the second task.
func TestAskForSecondTask(t *testing.T) {
	wf := workflow.New("review-twice", func(ctx workflow.Context, c Claim) (human.Result[Decision], error) {
		ctx = human.Enable(ctx)
		if _, err := human.Ask(ctx, Review, c, &human.Options{Assign: human.ToUser("ann")}); err != nil {
			return human.Result[Decision]{}, err
		}
		return human.AskFor(ctx, Review, c, &human.Options{Assign: human.ToUser("bob")})
	})
	env, inbox := newEnv(t, people(), nil, wf)
	ctx := ctxT(t)
	run := chorustest.Start(env, wf, Claim{}, &chorus.StartOptions{ID: "twice"})
	env.Settle()
	_, err := inbox.Complete(ctx, "ann", "twice", "claim-review-1", Decision{Outcome: "approve"})
	require.NoError(t, err)
	env.Settle()
	env.Advance(time.Hour)
	_, err = inbox.Complete(ctx, "bob", "twice", "claim-review-2", Decision{Outcome: "decline"})
	require.NoError(t, err)
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "claim-review-2", got.TaskID)
	require.Equal(t, "bob", got.By)
	require.Equal(t, time.Hour, got.DecidedAt.Sub(got.CreatedAt))
}

// The result comes from the run's journal: a task asked before a restart
// and answered after it reports the same creation time and the user who
// answered.
func TestAskForAcrossReopen(t *testing.T) {
	ctx := ctxT(t)
	db := filepath.Join(t.TempDir(), "chorus.db")
	mock := clock.NewMock()
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	mock.Set(t0)
	dir := people()
	wf := resultFlow("review-result-reopen", human.Options{Assign: human.ToGroup("adjusters"), Deadline: 48 * time.Hour,
		Escalate: []human.Step{{After: 2 * time.Hour}}})
	open := func() (*chorus.Engine, *human.Inbox) {
		eng, err := chorus.Open(ctx, db, &chorus.Options{Clock: mock, Definitions: append(human.Definitions(dir, nil), wf)})
		require.NoError(t, err)
		return eng, human.NewInbox(eng, dir)
	}
	eng, inbox := open()
	_, err := chorus.Start(ctx, eng, wf, Claim{ID: "r"}, &chorus.StartOptions{ID: "who-reopen"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { l, _ := inbox.List(ctx, "ann"); return len(l) == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, eng.Close(ctx))

	mock.Add(3 * time.Hour) // the escalation fell due while the process was down
	eng, inbox = open()
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	require.Eventually(t, func() bool {
		v, err := inbox.Task(ctx, "who-reopen", "claim-review-1")
		return err == nil && hasAction(v, "escalated")
	}, 10*time.Second, time.Millisecond)
	_, err = inbox.Complete(ctx, "ann", "who-reopen", "claim-review-1", Decision{Outcome: "approve"})
	require.NoError(t, err)
	run, err := chorus.Lookup(ctx, eng, wf, "who-reopen")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, human.Result[Decision]{Value: Decision{Outcome: "approve"}, By: "ann", TaskID: "claim-review-1",
		Escalations: 1, CreatedAt: t0, DecidedAt: t0.Add(3 * time.Hour)}, normalize(got))
}

func hasAction(v human.TaskView, action string) bool {
	for _, a := range v.Audit {
		if a.Action == action {
			return true
		}
	}
	return false
}

// normalize drops the monotonic and location parts of the result's times,
// which a round trip through the journal does not keep.
func normalize[Out any](r human.Result[Out]) human.Result[Out] {
	r.CreatedAt, r.DecidedAt = r.CreatedAt.UTC().Round(0), r.DecidedAt.UTC().Round(0)
	return r
}
