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
	wf := workflow.New("sh-wf", func(ctx workflow.Context, n int) (int, error) {
		n, err := workflow.ExecuteActivity(ctx, first, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		return workflow.ExecuteActivity(ctx, gate, n).Get(ctx)
	})
	open := func(node string) (*postgres.Store, *chorus.Engine) {
		st, err := postgres.Open(ctx, u, &postgres.Options{Shared: true, Owner: node, LeaseTTL: 1500 * time.Millisecond, MaxConns: 4})
		require.NoError(t, err)
		eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: []chorus.Definition{wf, first, gate}})
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

	// A request to a run the other engine owns is refused, naming it.
	err := a.Cancel(ctx, "b-0")
	require.ErrorIs(t, err, history.ErrNotOwner)
	require.Contains(t, err.Error(), `"b"`)

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
