package cli_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

type claimIn struct{ ID string }

type verdict struct{ Outcome string }

// stats shows the human tasks of the workflows that asked some (created,
// completed, timed out, open, escalations, the times to claim and to
// decide, the share of steps done by people) and leaves the others out of
// that table. The runs ask through human.Ask and are answered through
// human.Inbox on chorustest's fake clock.
func TestStatsHumanTasks(t *testing.T) {
	dir := human.NewMemoryDirectory().Add(
		human.User{ID: "ann", Groups: []string{"adjusters"}},
		human.User{ID: "bob", Groups: []string{"adjusters"}},
		human.User{ID: "sue", Groups: []string{"seniors"}},
	)
	review := human.NewTask[claimIn, verdict]("review")
	pay := activity.New("pay", func(context.Context, string) (string, error) { return "paid", nil })
	claim := workflow.New("claim", func(ctx workflow.Context, c claimIn) (string, error) {
		ctx = human.Enable(ctx)
		v, err := human.Ask(ctx, review, c, &human.Options{
			Assign:    human.ToGroup("adjusters"),
			Deadline:  48 * time.Hour,
			Escalate:  []human.Step{{After: 24 * time.Hour, Assign: human.ToGroup("seniors")}},
			OnTimeout: human.Default(verdict{Outcome: "refer"}),
		})
		if err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, pay, v.Outcome).Get(ctx)
	})
	order := workflow.New("order", func(ctx workflow.Context, _ int) (string, error) {
		return workflow.ExecuteActivity(ctx, pay, "order").Get(ctx)
	})
	env := chorustest.New(t, &chorustest.Options{Definitions: append(human.Definitions(dir, nil), claim, order, pay)})
	inbox := human.NewInbox(env.Engine(), dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ok := func(_ human.TaskView, err error) {
		t.Helper()
		require.NoError(t, err)
	}
	done := func(r *chorus.Run[string]) {
		t.Helper()
		_, err := chorustest.Result(env, r)
		require.NoError(t, err)
	}

	// claim-1: ann claims after 1 h, decides 2 h later.
	r := chorustest.Start(env, claim, claimIn{"1"}, &chorus.StartOptions{ID: "claim-1"})
	env.Advance(time.Hour)
	ok(inbox.Claim(ctx, "ann", "claim-1", "review-1"))
	env.Advance(2 * time.Hour)
	ok(inbox.Complete(ctx, "ann", "claim-1", "review-1", verdict{"approve"}))
	done(r)
	// claim-2: bob decides after 30 min without claiming.
	r = chorustest.Start(env, claim, claimIn{"2"}, &chorus.StartOptions{ID: "claim-2"})
	env.Advance(30 * time.Minute)
	ok(inbox.Complete(ctx, "bob", "claim-2", "review-1", verdict{"decline"}))
	done(r)
	// claim-3: nobody decides: escalated at 24 h, the default at 48 h.
	done(chorustest.Start(env, claim, claimIn{"3"}, &chorus.StartOptions{ID: "claim-3"}))
	// claim-4: open; escalated at 24 h, sue claims it at 30 h.
	chorustest.Start(env, claim, claimIn{"4"}, &chorus.StartOptions{ID: "claim-4"})
	env.Advance(30 * time.Hour)
	ok(inbox.Claim(ctx, "sue", "claim-4", "review-1"))
	env.Settle()
	done(chorustest.Start(env, order, 1, &chorus.StartOptions{ID: "order-1"}))

	f := &fixture{path: env.Path()}
	code, out := f.run("stats", env.Path())
	require.Equal(t, 0, code, out)
	golden(t, "stats-human", out)
	code, out = f.run("stats", env.Path(), "--json")
	require.Equal(t, 0, code, out)
	golden(t, "stats-human-json", out)
}
