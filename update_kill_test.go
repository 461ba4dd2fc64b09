package chorus_test

// A process SIGKILLed while an accepted update's handler waits on an
// activity: after a reopen, the caller asks again with the same update ID.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

const envUpdKillDB = "CHORUS_UPD_KILL_DB"

var updKillCharge = workflow.NewUpdate[int, string]("charge")

func init() {
	childModes["upd-kill"] = updKillChild
}

// updKillDefs returns a workflow whose "charge" update executes the
// activity "upd-kill-charge", which does what body says.
func updKillDefs(body func(ctx context.Context, n int) (string, error)) (*workflow.Definition[int, string], []chorus.Definition) {
	charge := activity.New("upd-kill-charge", body)
	wf := workflow.New("upd-kill", func(ctx workflow.Context, _ int) (string, error) {
		var last string
		workflow.SetUpdateHandler(ctx, updKillCharge, func(ctx workflow.Context, n int) (string, error) {
			r, err := workflow.ExecuteActivity(ctx, charge, n).Get(ctx)
			last = r
			return r, err
		}, nil)
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return last, nil
	})
	return wf, []chorus.Definition{wf, charge}
}

// updKillChild starts run "upd-kill" and sends it update "charge-1", whose
// activity says "charging" and blocks until the process dies.
func updKillChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "update kill child:", err)
		os.Exit(3)
	}
	wf, defs := updKillDefs(func(ctx context.Context, n int) (string, error) {
		fmt.Println("charging")
		<-ctx.Done()
		return "", ctx.Err()
	})
	ctx := context.Background()
	eng, err := chorus.Open(ctx, os.Getenv(envUpdKillDB), &chorus.Options{Definitions: defs})
	if err != nil {
		fail(err)
	}
	if _, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "upd-kill"}); err != nil {
		fail(err)
	}
	_, err = chorus.UpdateWithID(ctx, eng, "upd-kill", "charge-1", updKillCharge, 42)
	fail(fmt.Errorf("the update returned: %v", err))
}

func TestUpdateSurvivesKill(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "upd.db")
	c := testutil.StartChild(t, "upd-kill", envUpdKillDB+"="+db)
	line, ok := c.Next(time.Now().Add(20 * time.Second))
	require.True(t, ok, "the child ended early\n%s", c.Report())
	require.Equal(t, "charging", line)
	require.True(t, c.Kill(), "the child ended by SIGKILL\n%s", c.Report())

	ctx := testContext(t)
	wf, defs := updKillDefs(func(_ context.Context, n int) (string, error) { return fmt.Sprintf("charged %d", n), nil })
	eng := openEngine(t, db, &chorus.Options{Definitions: defs})
	got, err := chorus.UpdateWithID(ctx, eng, "upd-kill", "charge-1", updKillCharge, 42)
	require.NoError(t, err)
	require.Equal(t, "charged 42", got)
	require.NoError(t, chorus.Signal(ctx, eng, "upd-kill", updFinish, ""))
	run, err := chorus.Lookup(ctx, eng, wf, "upd-kill")
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "charged 42", out)
	h, err := chorus.History(ctx, eng, "upd-kill")
	require.NoError(t, err)
	var types []string
	for _, ev := range h.Events {
		types = append(types, ev.Type.String())
	}
	require.Equal(t, []string{"RunStarted", "UpdateAccepted", "ActivityScheduled", "ActivityCompleted", "UpdateCompleted",
		"SignalReceived", "RunCompleted"}, types, "accepted once, handled once")
}
