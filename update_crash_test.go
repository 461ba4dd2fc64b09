package chorus_test

// An accepted update whose handler waits on an activity survives the engine
// closing: after a reopen its caller asks again with the same update ID.

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

func TestUpdateCompletesAfterReopen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var hang atomic.Bool
	hang.Store(true)
	started := make(chan struct{}, 4)
	var calls atomic.Int32
	charge := activity.New("upd-charge", func(ctx context.Context, amount int) (string, error) {
		calls.Add(1)
		if hang.Load() {
			started <- struct{}{}
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "charged", nil
	})
	u := workflow.NewUpdate[int, string]("charge")
	wf := workflow.New("upd-crash", func(ctx workflow.Context, _ int) (string, error) {
		var last string
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, n int) (string, error) {
			r, err := workflow.ExecuteActivity(ctx, charge, n).Get(ctx)
			last = r
			return r, err
		}, nil)
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return last, nil
	})
	path := filepath.Join(t.TempDir(), "chorus.db")
	eng, err := chorus.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, eng.Register(wf, charge))
	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "upd-crash"})
	require.NoError(t, err)

	lost := make(chan error, 1)
	go func() {
		_, err := chorus.UpdateWithID(ctx, eng, run.ID(), "charge-1", u, 42)
		lost <- err
	}()
	recv(t, started, "the activity to start")
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	require.NoError(t, eng.Close(cctx))
	require.ErrorIs(t, recv(t, lost, "the first caller's answer"), chorus.ErrEngineClosed)

	hang.Store(false)
	eng = openEngine(t, path, nil, wf, charge)
	got, err := chorus.UpdateWithID(ctx, eng, run.ID(), "charge-1", u, 42)
	require.NoError(t, err)
	require.Equal(t, "charged", got)
	require.EqualValues(t, 2, calls.Load(), "the interrupted attempt, then the one after the reopen")

	accepted := 0
	h, err := chorus.History(ctx, eng, run.ID())
	require.NoError(t, err)
	for _, ev := range h.Events {
		if ev.Type == history.EventUpdateAccepted {
			accepted++
		}
	}
	require.Equal(t, 1, accepted, "the update was accepted once")
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), updFinish, ""))
	r2, err := chorus.Lookup(ctx, eng, wf, run.ID())
	require.NoError(t, err)
	out, err := r2.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "charged", out)
}
