package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/internal/inspect"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/ui"
	"github.com/chorusdev/chorus/workflow"
)

type claimCase struct{ ID string }

type claimVerdict struct{ Outcome string }

// The workflow page shows the human tasks of a workflow that asked people
// (how they ended, the escalations, the times to claim and to decide) and
// the share of steps done by people; GET /api/stats gives the same. The
// runs ask through human.Ask and are answered through human.Inbox on
// chorustest's fake clock. A workflow that asked nobody shows neither.
func TestHumanTaskKPIs(t *testing.T) {
	dir := human.NewMemoryDirectory().Add(
		human.User{ID: "ann", Groups: []string{"adjusters"}},
		human.User{ID: "sue", Groups: []string{"seniors"}},
	)
	review := human.NewTask[claimCase, claimVerdict]("review")
	pay := activity.New("pay", func(context.Context, string) (string, error) { return "paid", nil })
	claim := workflow.New("claim", func(ctx workflow.Context, c claimCase) (string, error) {
		ctx = human.Enable(ctx)
		v, err := human.Ask(ctx, review, c, &human.Options{
			Assign:    human.ToGroup("adjusters"),
			Deadline:  48 * time.Hour,
			Escalate:  []human.Step{{After: 24 * time.Hour, Assign: human.ToGroup("seniors")}},
			OnTimeout: human.Default(claimVerdict{Outcome: "refer"}),
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
	done := func(r *chorus.Run[string]) {
		t.Helper()
		_, err := chorustest.Result(env, r)
		require.NoError(t, err)
	}

	// claim-1: ann claims after 1 h and decides 2 h later.
	r := chorustest.Start(env, claim, claimCase{"1"}, &chorus.StartOptions{ID: "claim-1"})
	env.Advance(time.Hour)
	_, err := inbox.Claim(ctx, "ann", "claim-1", "review-1")
	require.NoError(t, err)
	env.Advance(2 * time.Hour)
	_, err = inbox.Complete(ctx, "ann", "claim-1", "review-1", claimVerdict{"approve"})
	require.NoError(t, err)
	done(r)
	// claim-2: escalated at 24 h; sue decides unclaimed at 26 h.
	r = chorustest.Start(env, claim, claimCase{"2"}, &chorus.StartOptions{ID: "claim-2"})
	env.Advance(26 * time.Hour)
	_, err = inbox.Complete(ctx, "sue", "claim-2", "review-1", claimVerdict{"decline"})
	require.NoError(t, err)
	done(r)
	// claim-3: nobody: escalated, then the default at 48 h.
	done(chorustest.Start(env, claim, claimCase{"3"}, &chorus.StartOptions{ID: "claim-3"}))
	done(chorustest.Start(env, order, 1, &chorus.StartOptions{ID: "order-1"}))

	h, err := ui.Handler(env.Engine(), nil)
	require.NoError(t, err)

	w := do(t, h, req{path: "/api/stats?workflow=claim"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var doc inspect.Stats
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
	require.Len(t, doc.Workflows, 1)
	c := doc.Workflows[0]
	require.NotNil(t, c.HumanTasks)
	hs := *c.HumanTasks
	require.Equal(t, []int64{3, 2, 1, 0, 2, 3}, []int64{hs.Created, hs.Completed, hs.TimedOut, hs.Open, hs.Escalations, hs.AutomatedSteps})
	require.Equal(t, 2, hs.TimeToClaim.N)
	require.EqualValues(t, time.Hour.Milliseconds(), *hs.TimeToClaim.P50ms)
	require.EqualValues(t, (26 * time.Hour).Milliseconds(), *hs.TimeToClaim.MaxMs)
	require.EqualValues(t, (3 * time.Hour).Milliseconds(), *hs.TimeToDecide.P50ms)
	require.InDelta(t, 0.4, *c.HumanShare, 1e-12)

	page := do(t, h, req{path: "/workflows/claim", html: true}).Body.String()
	require.Contains(t, page, `<dd id="kpi-human-share">40% (2 tasks, 3 automated steps)</dd>`)
	require.Contains(t, page, `<dl class="kv" id="kpi-human-tasks">`)
	require.Contains(t, page, `<dd id="kpi-human-created">3</dd>`)
	require.Contains(t, page, `<dd id="kpi-human-completed">2</dd>`)
	require.Contains(t, page, `<dd id="kpi-human-timed-out">1</dd>`)
	require.Contains(t, page, `<dd id="kpi-human-open">0</dd>`)
	require.Contains(t, page, `<dd id="kpi-human-escalations">2</dd>`)
	require.Contains(t, page, `<tr data-kpi="time-to-claim"><td>Time to claim (a human task's creation to its first claim)</td><td class="num">2</td><td class="num">1h0m0s</td><td class="num">26h0m0s</td>`)
	require.Contains(t, page, `<tr data-kpi="time-to-decide"><td>Time to decide (a human task's creation to its completion)</td><td class="num">2</td><td class="num">3h0m0s</td><td class="num">26h0m0s</td>`)

	page = do(t, h, req{path: "/workflows/order", html: true}).Body.String()
	require.Contains(t, page, `<dd id="kpi-human-share">–</dd>`)
	require.NotContains(t, page, `id="kpi-human-tasks"`)
	require.NotContains(t, page, `data-kpi="time-to-claim"`)
}
