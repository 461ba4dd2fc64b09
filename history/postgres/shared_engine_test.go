package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/postgres/pgtest"
	"github.com/chorusdev/chorus/workflow"
)

// TestSharedEnginesAdoptDeadEngine runs two engines on one database in
// shared mode, each starting runs. Engine a then stops renewing its lease,
// as a process that died or froze: b adopts a's runs and completes them,
// no activity that completed runs again, and a, whose interrupted
// attempts finish afterwards, writes nothing (it finds itself fenced).
func TestSharedEnginesAdoptDeadEngine(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)

	var mu sync.Mutex
	firsts := map[string]int{} // run: attempts of sh-first
	gateStarts := make(chan string, 64)
	release := make(chan struct{})
	first := activity.New("sh-first", func(ctx context.Context, n int) (int, error) {
		mu.Lock()
		firsts[activity.GetInfo(ctx).RunID]++
		mu.Unlock()
		return n + 1, nil
	})
	gate := activity.New("sh-gate", func(ctx context.Context, n int) (int, error) {
		gateStarts <- activity.GetInfo(ctx).RunID
		select {
		case <-release:
			return n * 10, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	poke := workflow.NewSignal[int]("sh-poke")
	bump := workflow.NewUpdate[int, int]("sh-bump")
	wf := workflow.New("sh-wf", func(ctx workflow.Context, n int) (int, error) {
		workflow.SetUpdateHandler(ctx, bump, func(ctx workflow.Context, in int) (int, error) { return in + 1, nil }, nil)
		n, err := workflow.ExecuteActivity(ctx, first, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		return workflow.ExecuteActivity(ctx, gate, n).Get(ctx)
	})
	sender := workflow.New("sh-sender", func(ctx workflow.Context, target string) (string, error) {
		_, err := workflow.SignalExternal(ctx, target, poke, 1).Get(ctx)
		if err == nil {
			return "delivered", nil
		}
		return err.Error(), nil
	})
	open := func(node string) (*postgres.Store, *chorus.Engine) {
		st, err := postgres.Open(ctx, u, &postgres.Options{Shared: true, Owner: node, LeaseTTL: 1500 * time.Millisecond, MaxConns: 4})
		require.NoError(t, err)
		eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: []chorus.Definition{wf, first, gate, sender}})
		require.NoError(t, err)
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = eng.Close(cctx)
		})
		return st, eng
	}
	sa, a := open("a")
	sb, b := open("b")

	const n = 6
	for i := range n {
		_, err := chorus.Start(ctx, a, wf, i, &chorus.StartOptions{ID: fmt.Sprintf("a-%d", i)})
		require.NoError(t, err)
		_, err = chorus.Start(ctx, b, wf, i, &chorus.StartOptions{ID: fmt.Sprintf("b-%d", i)})
		require.NoError(t, err)
	}
	for range 2 * n {
		<-gateStarts
	}

	// A request to a run the other engine owns is refused, naming it, and
	// changes nothing; reads work on every engine.
	err := a.Cancel(ctx, "b-0")
	require.ErrorIs(t, err, history.ErrNotOwner)
	require.Contains(t, err.Error(), `"b"`)
	err = chorus.Signal(ctx, a, "b-1", poke, 1)
	require.ErrorIs(t, err, history.ErrNotOwner)
	err = a.Terminate(ctx, "b-2", "test")
	require.ErrorIs(t, err, history.ErrNotOwner)
	_, err = chorus.Update(ctx, a, "b-2", bump, 1)
	require.ErrorIs(t, err, history.ErrNotOwner)
	got, err := chorus.Update(ctx, b, "b-2", bump, 1)
	require.NoError(t, err, "the owner takes the update")
	require.Equal(t, 2, got)
	_, err = chorus.SignalWithStart(ctx, a, wf, 3, &chorus.StartOptions{ID: "b-3"}, poke, 1)
	require.ErrorIs(t, err, history.ErrNotOwner)
	info, err := a.Describe(ctx, "b-0")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status)
	// So is a signal a's workflow sends to b's run: the sender is told.
	sr, err := chorus.Start(ctx, a, sender, "b-0", &chorus.StartOptions{ID: "sender"})
	require.NoError(t, err)
	msg, err := sr.Result(ctx)
	require.NoError(t, err)
	require.Contains(t, msg, "owned by engine \"b\"")

	sa.Freeze()
	// b adopts a's runs and runs their interrupted attempts again.
	for range n {
		id := <-gateStarts
		require.True(t, strings.HasPrefix(id, "a-"), "after a died, an attempt of %s began", id)
	}
	close(release)

	for _, p := range []string{"a", "b"} {
		for i := range n {
			id := fmt.Sprintf("%s-%d", p, i)
			r, err := chorus.Lookup(ctx, b, wf, id)
			require.NoError(t, err)
			got, err := r.Result(ctx)
			require.NoError(t, err, "run %s", id)
			require.Equal(t, (i+1)*10, got, "run %s", id)
			mine, err := sb.OwnsRun(ctx, id)
			require.NoError(t, err)
			require.True(t, mine, "run %s is b's", id)
		}
	}
	// a's attempts, released, finished; their commits found a fenced.
	select {
	case <-sa.Lost():
	case <-time.After(time.Minute):
		t.Fatal("a, whose runs b adopted, was not fenced")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, firsts, 2*n)
	for id, c := range firsts {
		require.Equal(t, 1, c, "sh-first of run %s ran %d times (it had completed before a died)", id, c)
	}
}

// TestSharedCloseHandsOver closes one of two shared engines while its
// runs wait for an activity: its Close releases its lease and notifies the
// other node, which adopts the runs at once (its own periodic look, a
// third of a ten-minute lease, would come long after the test's deadline)
// and completes them.
func TestSharedCloseHandsOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	u := pgtest.URL(t)
	release := make(chan struct{})
	var mu sync.Mutex
	attempts := map[string]int{}
	gate := activity.New("sh-close-gate", func(ctx context.Context, n int) (int, error) {
		mu.Lock()
		attempts[activity.GetInfo(ctx).RunID]++
		mu.Unlock()
		select {
		case <-release:
			return n + 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	wf := workflow.New("sh-close-wf", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, gate, n).Get(ctx)
	})
	open := func(node string) *chorus.Engine {
		st, err := postgres.Open(ctx, u, &postgres.Options{Shared: true, Owner: node, LeaseTTL: 10 * time.Minute, MaxConns: 4})
		require.NoError(t, err)
		eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: []chorus.Definition{wf, gate}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = eng.Close(context.Background()) })
		return eng
	}
	a, b := open("a"), open("b")
	const n = 4
	for i := range n {
		_, err := chorus.Start(ctx, a, wf, i, &chorus.StartOptions{ID: fmt.Sprintf("a-%d", i)})
		require.NoError(t, err)
	}
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	require.NoError(t, a.Close(cctx)) // interrupts the attempts at once
	close(release)
	for i := range n {
		id := fmt.Sprintf("a-%d", i)
		r, err := chorus.Lookup(ctx, b, wf, id)
		require.NoError(t, err)
		got, err := r.Result(ctx)
		require.NoError(t, err, "run %s was not completed by b", id)
		require.Equal(t, i+1, got)
	}
}
