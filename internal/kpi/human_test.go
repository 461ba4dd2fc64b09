package kpi_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/internal/kpi"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

type claim struct{ ID string }

type verdict struct{ Outcome string }

var review = human.NewTask[claim, verdict]("review")

// TestHumanTaskKPIs measures runs that asked people through human.Ask and
// were answered through human.Inbox, on chorustest's fake clock, so that
// every time is exact.
func TestHumanTaskKPIs(t *testing.T) {
	dir := human.NewMemoryDirectory().Add(
		human.User{ID: "ann", Groups: []string{"adjusters"}},
		human.User{ID: "bob", Groups: []string{"adjusters"}},
		human.User{ID: "sue", Groups: []string{"seniors"}},
	)
	pay := activity.New("pay", func(context.Context, string) (string, error) { return "paid", nil })
	flow := workflow.New("claim", func(ctx workflow.Context, c claim) (string, error) {
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
	order := workflow.New("order", func(ctx workflow.Context, n int) (string, error) {
		return workflow.ExecuteActivity(ctx, pay, "order").Get(ctx)
	})
	env := chorustest.New(t, &chorustest.Options{Definitions: append(human.Definitions(dir, nil), flow, order, pay)})
	inbox := human.NewInbox(env.Engine(), dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	act := func(err error) {
		t.Helper()
		require.NoError(t, err)
	}
	result := func(r *chorus.Run[string], want string) {
		t.Helper()
		got, err := chorustest.Result(env, r)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	const task = "review-1"

	// claim-1: ann claims after 1 h and decides 2 h later.
	r := chorustest.Start(env, flow, claim{"1"}, &chorus.StartOptions{ID: "claim-1"})
	env.Advance(time.Hour)
	_, err := inbox.Claim(ctx, "ann", "claim-1", task)
	act(err)
	env.Advance(2 * time.Hour)
	_, err = inbox.Complete(ctx, "ann", "claim-1", task, verdict{"approve"})
	act(err)
	result(r, "paid")

	// claim-2: bob completes after 30 min without claiming first.
	r = chorustest.Start(env, flow, claim{"2"}, &chorus.StartOptions{ID: "claim-2"})
	env.Advance(30 * time.Minute)
	_, err = inbox.Complete(ctx, "bob", "claim-2", task, verdict{"approve"})
	act(err)
	result(r, "paid")

	// claim-3: nobody acts; at 24 h it escalates to the seniors; sue
	// claims at 25 h, releases, claims again and decides at 26 h.
	r = chorustest.Start(env, flow, claim{"3"}, &chorus.StartOptions{ID: "claim-3"})
	env.Advance(25 * time.Hour)
	_, err = inbox.Claim(ctx, "sue", "claim-3", task)
	act(err)
	env.Advance(10 * time.Minute)
	_, err = inbox.Release(ctx, "sue", "claim-3", task)
	act(err)
	_, err = inbox.Claim(ctx, "sue", "claim-3", task)
	act(err)
	env.Advance(50 * time.Minute)
	_, err = inbox.Complete(ctx, "sue", "claim-3", task, verdict{"decline"})
	act(err)
	result(r, "paid")

	// claim-4: nobody at all: it escalates, then its SLA passes and the
	// default answers.
	result(chorustest.Start(env, flow, claim{"4"}, &chorus.StartOptions{ID: "claim-4"}), "paid")

	// claim-5: still open, claimed by ann after 2 h.
	chorustest.Start(env, flow, claim{"5"}, &chorus.StartOptions{ID: "claim-5"})
	env.Advance(2 * time.Hour)
	_, err = inbox.Claim(ctx, "ann", "claim-5", task)
	act(err)
	env.Settle()

	result(chorustest.Start(env, order, 1, &chorus.StartOptions{ID: "order-1"}), "paid")

	ro, err := sqlite.OpenReadOnly(ctx, env.Path(), nil)
	require.NoError(t, err)
	defer ro.Close()
	ws, err := kpi.Compute(ctx, ro, kpi.Filter{})
	require.NoError(t, err)
	require.Len(t, ws, 2)
	c, o := ws[0], ws[1]
	require.Equal(t, "claim", c.Name)

	p := func(ds ...time.Duration) kpi.Percentiles { // ds sorted
		return kpi.Percentiles{N: len(ds), P50: kpi.Percentile(ds, 50), P90: kpi.Percentile(ds, 90),
			P95: kpi.Percentile(ds, 95), P99: kpi.Percentile(ds, 99), Max: ds[len(ds)-1]}
	}
	require.Equal(t, kpi.HumanTasks{
		Created: 5, Completed: 3, TimedOut: 1, Escalations: 2,
		// claim-2 at its completion, claim-1, claim-5, claim-3 (its first claim).
		TimeToClaim: p(30*time.Minute, time.Hour, 2*time.Hour, 25*time.Hour),
		// claim-2, claim-1, claim-3: creation to completion.
		TimeToDecide: p(30*time.Minute, 3*time.Hour, 26*time.Hour),
		// pay, once per run that ended (claim-1 to claim-4).
		AutomatedSteps: 4,
	}, c.Human)
	require.NotNil(t, c.HumanShare)
	require.InDelta(t, 3.0/7, *c.HumanShare, 1e-12, "3 tasks people completed against 4 pay steps")
	// The human package's own activities are steps, but not the
	// automated part of the share: 5 assignments and 2 escalations' worth
	// of assign and notify, plus pay.
	require.Equal(t, int64(4+2*(5+2)), c.Steps)

	require.Equal(t, kpi.HumanTasks{}, o.Human)
	require.Nil(t, o.HumanShare, "no human task: no share")
	require.Equal(t, int64(1), o.Steps)
}

// humanMarker appends a human task audit marker.
func (b *jb) humanMarker(action, task, user string, s int) {
	b.add(history.EventMarker, kpi.HumanMarkerPrefix+action, 0,
		[]byte(`{"task":"`+task+`","user":"`+user+`"}`), at(s))
}

// The human task markers of a run's current execution are counted by
// task, every generation apart (task IDs start again after a continue as
// new); an earlier run under a reused ID and unreadable markers count
// nothing but Unreadable.
func TestHumanTasksByHand(t *testing.T) {
	st, _ := openStore(t)

	b := newRun("h-1", "review", at(0))
	b.humanMarker("created", "r-1", "", 0)
	b.humanMarker("assigned", "r-1", "", 0)
	b.humanMarker("claimed", "r-1", "ann", 5)
	b.humanMarker("commented", "r-1", "ann", 6)
	b.humanMarker("completed", "r-1", "ann", 9)
	b.add(history.EventRunContinuedAsNew, "", 0, nil, at(10))
	b.add(history.EventRunStarted, "review", 0, []byte(`"in"`), at(10))
	// The same task ID in the next generation is another task.
	b.humanMarker("created", "r-1", "", 10)
	b.humanMarker("escalated", "r-1", "", 20)
	b.humanMarker("escalated", "r-1", "", 30)
	b.humanMarker("timed-out", "r-1", "", 40)
	b.humanMarker("created", "r-2", "", 40)
	b.add(history.EventMarker, kpi.HumanMarkerPrefix+"completed", 0, []byte(`not json`), at(41))
	b.commit(t, st, history.StatusRunning, at(41))

	// The first holder of a reused ID: its task is not the new run's.
	b = newRun("h-2", "review", at(50))
	b.humanMarker("created", "r-1", "", 50)
	b.humanMarker("completed", "r-1", "bob", 51)
	b.add(history.EventRunCompleted, "", 0, nil, at(52))
	b.commit(t, st, history.StatusCompleted, at(52))
	first := int64(len(b.evs) + 1)
	b.add(history.EventRunStarted, "review", 0, []byte(`"in"`), at(60))
	b.humanMarker("created", "r-1", "", 60)
	b.humanMarker("completed", "r-1", "cyd", 64)
	b.done(b.sched("archive", at(64)), at(65))
	mustCommit(t, st, &history.Batch{RunID: "h-2", Time: at(60), Events: b.evs[first-1:],
		Reuse: &history.RunInfo{Workflow: "review", FirstSeq: first}, Status: &history.StatusUpdate{Status: history.StatusRunning}})

	ws, err := kpi.Compute(context.Background(), st, kpi.Filter{})
	require.NoError(t, err)
	require.Len(t, ws, 1)
	w := ws[0]
	p := func(ds ...int) kpi.Percentiles { // ds sorted
		d := make([]time.Duration, len(ds))
		for i, s := range ds {
			d[i] = sec(s)
		}
		return kpi.Percentiles{N: len(d), P50: kpi.Percentile(d, 50), P90: kpi.Percentile(d, 90),
			P95: kpi.Percentile(d, 95), P99: kpi.Percentile(d, 99), Max: d[len(d)-1]}
	}
	require.Equal(t, kpi.HumanTasks{Created: 4, Completed: 2, TimedOut: 1, Escalations: 2,
		TimeToClaim: p(4, 5), TimeToDecide: p(4, 9), AutomatedSteps: 1, Unreadable: 1}, w.Human)
	require.InDelta(t, 2.0/3, *w.HumanShare, 1e-12)
}

// The names kpi reads are the ones package human writes.
func TestHumanNamesMatch(t *testing.T) {
	require.Equal(t, human.AuditMarkerPrefix, kpi.HumanMarkerPrefix)
	require.ElementsMatch(t, []string{human.AssignActivity, human.NotifyActivity}, kpi.HumanActivities)
}
