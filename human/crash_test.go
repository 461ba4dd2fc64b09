package human_test

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
)

const envKillDB = "HUMAN_KILL_DB"

func init() { childModes["human-open-task"] = openTaskChild }

// killFlow is the workflow of the kill test; parent and child build it the
// same way, as a restarted application would.
var killFlow = reviewFlow("review-kill", human.Options{Assign: human.ToGroup("adjusters"), Deadline: 48 * time.Hour})

// openTaskChild starts the run, lets ann claim its task, reports "claimed"
// and waits to be killed.
func openTaskChild() {
	p := childproc.New("human kill child")
	p.Require(envKillDB)
	ctx := context.Background()
	dir := people()
	eng, err := chorus.Open(ctx, os.Getenv(envKillDB), &chorus.Options{Definitions: append(human.Definitions(dir, nil), killFlow)})
	if err != nil {
		p.Fail("open: %v", err)
	}
	if _, err := chorus.Start(ctx, eng, killFlow, Claim{ID: "k", Amount: 70}, &chorus.StartOptions{ID: "kill-1"}); err != nil {
		p.Fail("start: %v", err)
	}
	inbox := human.NewInbox(eng, dir)
	var list []human.TaskView
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := testutil.Await(wctx, eng, "the task in ann's inbox", func() (bool, error) {
		var err error
		list, err = inbox.List(ctx, "ann")
		return len(list) == 1, err
	}); err != nil {
		p.Fail("list: %v", err)
	}
	if _, err := inbox.Claim(ctx, "ann", "kill-1", list[0].ID); err != nil {
		p.Fail("claim: %v", err)
	}
	p.Say("claimed %s", list[0].ID)
	// Until SIGKILL: waiting for a signal also keeps the runtime from
	// taking an idle process for a deadlock.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
}

// A task that was open (and claimed) when the process died is found again
// after the restart, with its claim, and completing it ends the run.
func TestCompleteAfterSIGKILL(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chorus.db")
	c := testutil.StartChild(t, "human-open-task", envKillDB+"="+db)
	killed := c.KillWhen(time.Now().Add(20*time.Second), func(line string) bool { return line == "claimed claim-review-1" })
	require.True(t, killed, "the child did not die by SIGKILL\n%s", c.Report())

	ctx := ctxT(t)
	dir := people()
	eng, err := chorus.Open(ctx, db, &chorus.Options{Definitions: append(human.Definitions(dir, nil), killFlow)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	inbox := human.NewInbox(eng, dir)

	list, err := inbox.List(ctx, "ann")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "ann", list[0].ClaimedBy)
	in, err := Review.Input(list[0])
	require.NoError(t, err)
	require.Equal(t, Claim{ID: "k", Amount: 70}, in)

	_, err = inbox.Complete(ctx, "bob", "kill-1", "claim-review-1", Decision{Outcome: "deny"})
	require.ErrorIs(t, err, human.ErrAlreadyClaimed)
	_, err = inbox.Complete(ctx, "ann", "kill-1", "claim-review-1", Decision{Outcome: "approve", Note: "after the crash"})
	require.NoError(t, err)

	run, err := chorus.Lookup(ctx, eng, killFlow, "kill-1")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, Decision{Outcome: "approve", Note: "after the crash"}, got)
	_, err = inbox.Complete(ctx, "ann", "kill-1", "claim-review-1", Decision{Outcome: "deny"})
	require.ErrorIs(t, err, human.ErrTaskClosed)

	audit, err := inbox.Audit(ctx, "kill-1", "claim-review-1")
	require.NoError(t, err)
	var acts []string
	for _, a := range audit {
		if a.Action != "notified" { // may or may not have run before the kill
			acts = append(acts, a.Action+"/"+a.User)
		}
	}
	require.Equal(t, []string{"created/", "assigned/", "claimed/ann", "completed/ann"}, acts)
}
