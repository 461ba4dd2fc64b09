package human_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// The escalation and the deadline are durable timers: a task asked before
// a restart escalates and times out after it, on the engine's clock.
func TestEscalationAndDeadlineAcrossReopen(t *testing.T) {
	ctx := ctxT(t)
	db := filepath.Join(t.TempDir(), "chorus.db")
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	dir := people()
	wf := reviewFlow("review-reopen", human.Options{
		Assign:    human.ToUser("bob"),
		Deadline:  48 * time.Hour,
		Escalate:  []human.Step{{After: 24 * time.Hour, Assign: human.ToGroup("senior-adjusters")}},
		OnTimeout: human.Default(Decision{Outcome: "refer"}),
	})
	open := func() (*chorus.Engine, *human.Inbox) {
		eng, err := chorus.Open(ctx, db, &chorus.Options{Clock: mock, Definitions: append(human.Definitions(dir, nil), wf)})
		require.NoError(t, err)
		return eng, human.NewInbox(eng, dir)
	}

	eng, inbox := open()
	_, err := chorus.Start(ctx, eng, wf, Claim{ID: "r"}, &chorus.StartOptions{ID: "reopen"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { l, _ := inbox.List(ctx, "bob"); return len(l) == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, eng.Close(ctx))

	mock.Add(25 * time.Hour) // the escalation fell due while the process was down
	eng, inbox = open()
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	require.Eventually(t, func() bool { l, _ := inbox.List(ctx, "sue"); return len(l) == 1 }, 10*time.Second, time.Millisecond)
	list, err := inbox.List(ctx, "bob")
	require.NoError(t, err)
	require.Empty(t, list)

	mock.Add(23 * time.Hour)
	run, err := chorus.Lookup(ctx, eng, wf, "reopen")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, Decision{Outcome: "refer"}, got)
	v, err := inbox.Task(ctx, "reopen", "claim-review-1")
	require.NoError(t, err)
	require.Equal(t, human.StateTimedOut, v.State)
	require.Equal(t, mock.Now(), v.Audit[len(v.Audit)-1].At)
}

func TestAskRefusesBadOptions(t *testing.T) {
	cases := map[string]struct {
		opts   *human.Options
		enable bool
		want   string
	}{
		"nil options":    {nil, true, "Options.Assign is required"},
		"no assignment":  {&human.Options{}, true, "Options.Assign: assignment of unknown kind"},
		"empty group":    {&human.Options{Assign: human.ToGroup("")}, true, "Options.Assign: group with an empty group"},
		"no skills":      {&human.Options{Assign: human.BySkill()}, true, "BySkill without skills"},
		"negative":       {&human.Options{Assign: human.ToUser("ann"), Deadline: -time.Hour}, true, "Options.Deadline is negative"},
		"steps disorder": {&human.Options{Assign: human.ToUser("ann"), Escalate: []human.Step{{After: 2 * time.Hour}, {After: time.Hour}}}, true, "Options.Escalate[1].After"},
		"step late":      {&human.Options{Assign: human.ToUser("ann"), Deadline: time.Hour, Escalate: []human.Step{{After: time.Hour}}}, true, "Options.Escalate[0].After (1h0m0s) is not before Options.Deadline (1h0m0s)"},
		"default type":   {&human.Options{Assign: human.ToUser("ann"), OnTimeout: human.Default("refer")}, true, "Options.OnTimeout is Default(string), task \"claim-review\" answers human_test.Decision"},
	}
	var defs []chorus.Definition
	flows := map[string]*workflow.Definition[Claim, Decision]{}
	for name, c := range cases {
		wf := workflow.New("bad-"+strings.ReplaceAll(name, " ", "-"), func(ctx workflow.Context, in Claim) (Decision, error) {
			if c.enable {
				ctx = human.Enable(ctx)
			}
			return human.Ask(ctx, Review, in, c.opts)
		})
		flows[name] = wf
		defs = append(defs, wf)
	}
	env, _ := newEnv(t, people(), nil, defs...)
	for name, c := range cases {
		_, err := chorustest.Result(env, chorustest.Start(env, flows[name], Claim{}, nil))
		require.ErrorContains(t, err, c.want, name)
	}
	require.Zero(t, env.Elapsed())
}
