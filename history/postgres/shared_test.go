package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/postgres/pgtest"
)

func TestSharedConformance(t *testing.T) {
	pgtest.BaseURL(t)
	historytest.RunShared(t, func(t *testing.T) historytest.Shared {
		u := pgtest.URL(t)
		return historytest.Shared{
			Open: func(ctx context.Context, node string) (history.Store, error) {
				s, err := postgres.Open(ctx, u, &postgres.Options{Shared: true, Owner: node, LeaseTTL: time.Minute, MaxConns: 4})
				if err != nil {
					return nil, err // not a typed nil
				}
				return s, nil
			},
			Expire: func(_ context.Context, node string) {
				pgtest.Exec(t, u, `UPDATE chorus_nodes SET expires_at = now() WHERE name = $1`, node)
			},
			Adopt: func(ctx context.Context, s history.Store) ([]string, error) {
				return s.(*postgres.Store).AdoptExpired(ctx)
			},
		}
	})
}

// TestSharedAndSingleExclude checks that a database is shared or owned by
// one engine, never both at once: each mode is refused while an engine of
// the other holds the database.
func TestSharedAndSingleExclude(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	single, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2})
	require.NoError(t, err)
	_, err = postgres.Open(ctx, u, &postgres.Options{Shared: true, LeaseTTL: time.Minute, MaxConns: 2})
	require.ErrorIs(t, err, history.ErrLocked, "a shared store while a single owner holds the database")
	require.NoError(t, single.Close())

	shared, err := postgres.Open(ctx, u, &postgres.Options{Shared: true, Owner: "n1", LeaseTTL: time.Minute, MaxConns: 2})
	require.NoError(t, err)
	_, err = postgres.Open(ctx, u, &postgres.Options{Shared: true, Owner: "n1", LeaseTTL: time.Minute, MaxConns: 2})
	require.ErrorIs(t, err, history.ErrLocked, "a second live node of the same name")
	_, err = postgres.Open(ctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2})
	require.ErrorIs(t, err, history.ErrLocked, "a single owner while a shared node is live")
	require.NoError(t, shared.Close())
}

// TestSharedAdoptsOrphanRuns checks that the runs a single-owner engine
// wrote are adopted by the first shared node, and that a node reopened
// under its name after it expired keeps its runs.
func TestSharedAdoptsOrphanRuns(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	single, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2})
	require.NoError(t, err)
	now := time.Now()
	_, err = single.Commit(ctx, []*history.Batch{{RunID: "old", Time: now, Create: &history.RunInfo{Workflow: "wf"},
		Events:   []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: now}, {Seq: 2, Type: history.EventActivityScheduled, Name: "act", Time: now}},
		AddTasks: []history.Task{{Step: 2, Name: "act", Attempt: 1}}}})
	require.NoError(t, err)
	require.NoError(t, single.Close())

	n1, err := postgres.Open(ctx, u, &postgres.Options{Shared: true, Owner: "n1", LeaseTTL: time.Minute, MaxConns: 2})
	require.NoError(t, err)
	tasks, err := n1.Tasks(ctx)
	require.NoError(t, err)
	require.Len(t, tasks, 1, "the single owner's run is the first node's")
	epoch := n1.Epoch()

	pgtest.Exec(t, u, `UPDATE chorus_nodes SET expires_at = now()`)
	again, err := postgres.Open(ctx, u, &postgres.Options{Shared: true, Owner: "n1", LeaseTTL: time.Minute, MaxConns: 2})
	require.NoError(t, err)
	defer again.Close()
	require.Greater(t, again.Epoch(), epoch, "a node reopened under its name has a new fencing token")
	tasks, err = again.Tasks(ctx)
	require.NoError(t, err)
	require.Len(t, tasks, 1, "and keeps its runs")
	_, err = n1.Commit(ctx, []*history.Batch{{RunID: "old", Time: now, Status: &history.StatusUpdate{Status: history.StatusCanceled}}})
	require.ErrorIs(t, err, postgres.ErrFenced, "the old instance is fenced")
	<-n1.Lost()
	require.NoError(t, n1.Close())
}
