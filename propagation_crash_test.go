package chorus_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
	"github.com/chorusdev/chorus/workflow"
)

const envPropDB = "CHORUS_PROP_DB" // database path of the "prop-kill" child

func init() { childModes["prop-kill"] = propKillChild }

// propKillDefs: the workflow runs prop-kill-act, then a child (propChild,
// which runs whoAct), and reports what each saw. act is prop-kill-act's
// body.
func propKillDefs(act func(ctx context.Context) (string, error)) (*workflow.Definition[string, []string], []chorus.Definition) {
	a := activity.New("prop-kill-act", func(ctx context.Context, _ string) (string, error) { return act(ctx) })
	wf := workflow.New("prop-kill-wf", func(ctx workflow.Context, _ string) ([]string, error) {
		got, err := workflow.ExecuteActivity(ctx, a, "").Get(ctx)
		if err != nil {
			return nil, err
		}
		child, err := workflow.ExecuteChildWorkflow(ctx, propChild, "", &workflow.ChildOptions{ID: "prop-kill-child"}).Get(ctx)
		return []string{chorus.StringValue(ctx, "tenant") + "/" + chorus.StringValue(ctx, "user"), got, child}, err
	})
	return wf, []chorus.Definition{wf, a, propChild, whoAct}
}

// propKillChild starts a run with propagated values, whose activity
// announces what it sees and blocks until the process is killed.
func propKillChild() {
	p := childproc.New("prop-kill child")
	p.Require(envPropDB)
	wf, defs := propKillDefs(func(ctx context.Context) (string, error) {
		p.Say("blocked %s/%s", chorus.StringValue(ctx, "tenant"), chorus.StringValue(ctx, "user"))
		<-ctx.Done()
		return "", ctx.Err()
	})
	opts := propOpts()
	opts.Definitions = defs
	ctx := chorus.WithStringValue(chorus.WithStringValue(context.Background(), "tenant", "acme"), "user", "ann")
	eng, err := chorus.Open(ctx, os.Getenv(envPropDB), opts)
	if err != nil {
		p.Fail("open: %v", err)
	}
	if _, err := chorus.Start(ctx, eng, wf, "", &chorus.StartOptions{ID: "prop-kill"}); err != nil {
		p.Fail("start: %v", err)
	}
	<-time.After(2 * primDeadline)
	p.Fail("not killed within %v", 2*primDeadline)
}

// TestPropagationSurvivesKill SIGKILLs a process while the activity of a
// run started with propagated values runs. The next process runs the
// activity again and then starts a child: both see the values of the
// original Start, read from the journal.
func TestPropagationSurvivesKill(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chorus.db")
	c := testutil.StartChild(t, "prop-kill", envPropDB+"="+db)
	var seen string
	require.True(t, c.KillWhen(time.Now().Add(primDeadline), func(line string) bool {
		seen = line
		return len(line) > 7 && line[:7] == "blocked"
	}), "the child never reached the activity:\n%s", c.Report())
	require.Equal(t, "blocked acme/ann", seen)

	wf, defs := propKillDefs(func(ctx context.Context) (string, error) {
		return chorus.StringValue(ctx, "tenant") + "/" + chorus.StringValue(ctx, "user"), nil
	})
	opts := propOpts()
	opts.Definitions = defs
	eng := openEngine(t, db, opts)
	ctx := testContext(t) // no values
	run, err := chorus.Lookup(ctx, eng, wf, "prop-kill")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"acme/ann", "acme/ann", "wf=acme/ann act=acme/ann"}, got)
}
