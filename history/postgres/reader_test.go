package postgres_test

import (
	"context"
	"errors"
	"strings"
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

// openReader opens a reader on u; it closes with the test.
func openReader(t *testing.T, u string) *postgres.Reader {
	t.Helper()
	r, err := postgres.OpenReader(context.Background(), u, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// A reader opens a database while the engine that owns it runs, takes no
// lease (the owner keeps it and another engine is still refused), and
// reads what the owner committed: runs, journals, pending tasks, search
// attributes and queue items, as the owner's store reads them.
func TestReaderReadsWhileTheOwnerRuns(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	hold := activity.New("pg-reader-hold", func(ctx context.Context, n int) (int, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return n, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	holdWF := workflow.New("pg-reader-wf", func(ctx workflow.Context, n int) (int, error) {
		if err := workflow.UpsertSearchAttributes(ctx, region.Value("eu")); err != nil {
			return 0, err
		}
		return workflow.ExecuteActivity(ctx, hold, n).Get(ctx)
	})
	owner, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: 5 * time.Second})
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, owner, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Close(cctx)
	})
	require.NoError(t, eng.Register(holdWF, hold, doubleWF))
	done, err := chorus.Start(ctx, eng, doubleWF, 21, &chorus.StartOptions{ID: "done"})
	require.NoError(t, err)
	res, err := done.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 42, res)
	held, err := chorus.Start(ctx, eng, holdWF, 7, &chorus.StartOptions{ID: "held"})
	require.NoError(t, err)
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("the activity did not start")
	}

	r := openReader(t, u)
	lease, ok, err := r.Lease(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, lease.Live, "the owner's lease")
	require.Equal(t, owner.Owner(), lease.Owner)
	require.Equal(t, owner.Epoch(), lease.Epoch)
	_, err = postgres.Open(ctx, u, nil)
	require.ErrorIs(t, err, history.ErrLocked, "the owner still holds the lease")

	for _, id := range []string{"done", "held"} {
		want, err := owner.Run(ctx, id)
		require.NoError(t, err)
		got, err := r.Run(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, got, id)
		wantEv, err := owner.Events(ctx, id, 0)
		require.NoError(t, err)
		gotEv, err := r.Events(ctx, id, 0)
		require.NoError(t, err)
		require.Equal(t, wantEv, gotEv, id)
	}
	runs, err := r.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.Equal(t, history.StatusCompleted, runs[0].Status)
	require.Equal(t, history.StatusRunning, runs[1].Status)

	tasks, err := r.Tasks(ctx)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	require.Equal(t, "held", tasks[0].RunID)
	require.Equal(t, "pg-reader-hold", tasks[0].Name)
	runTasks, err := r.RunTasks(ctx, "held")
	require.NoError(t, err)
	require.Equal(t, tasks, runTasks)

	attrs, err := r.RunAttrs(ctx, "held")
	require.NoError(t, err)
	require.Len(t, attrs.Attrs, 1)
	require.Equal(t, "eu", attrs.Attrs[0].Text)
	n, err := r.CountRuns(ctx, history.ListFilter{Attrs: []history.AttrFilter{{Name: "region", Kind: history.AttrKeyword, Text: "eu"}}})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	items, err := r.QueueItems(ctx, history.QueueFilter{})
	require.NoError(t, err)
	require.Empty(t, items)

	// The owner goes on writing while the reader is open.
	close(release)
	res, err = held.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, res)
	info, err := r.Run(ctx, "held")
	require.NoError(t, err)
	require.Equal(t, history.StatusCompleted, info.Status)
}

// Every write through a reader fails with ErrReadOnly and changes nothing.
func TestReaderRefusesWrites(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)
	owner, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: 5 * time.Second})
	require.NoError(t, err)
	require.NoError(t, owner.Close())
	r := openReader(t, u)
	now := time.Now()
	b := &history.Batch{RunID: "r", Time: now, Create: &history.RunInfo{ID: "r", Workflow: "w", Status: history.StatusRunning},
		Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "w", Payload: []byte(`1`), Time: now}}}
	errs, err := r.Commit(ctx, []*history.Batch{b})
	require.ErrorIs(t, err, postgres.ErrReadOnly)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], postgres.ErrReadOnly)
	_, err = r.PurgeRuns(ctx, history.PurgeFilter{Before: now, Limit: 10})
	require.ErrorIs(t, err, postgres.ErrReadOnly)
	_, _, err = r.Enqueue(ctx, history.QueueItem{Queue: "q", RunID: "q1", Workflow: "w", EnqueuedAt: now})
	require.ErrorIs(t, err, postgres.ErrReadOnly)
	_, _, err = r.ClaimQueued(ctx, history.QueueClaim{Queue: "q", Max: 1, Now: now})
	require.ErrorIs(t, err, postgres.ErrReadOnly)
	_, err = r.CancelQueued(ctx, "q1", history.StatusUpdate{Status: history.StatusCanceled}, now)
	require.ErrorIs(t, err, postgres.ErrReadOnly)
	_, err = r.Run(ctx, "r")
	require.ErrorIs(t, err, history.ErrRunNotFound)
	runs, err := r.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Empty(t, runs)
	// A lease released by Close reads as not live.
	lease, ok, err := r.Lease(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, lease.Live)
}

// A schema without Chorus tables, or at a version this code does not read,
// is refused, and the reader creates nothing.
func TestReaderSchemaChecks(t *testing.T) {
	ctx := t.Context()

	empty := pgtest.URL(t)
	_, err := postgres.OpenReader(ctx, empty, nil)
	require.ErrorIs(t, err, history.ErrNotChorusDatabase)
	require.Contains(t, err.Error(), "holds no Chorus tables")
	// Still nothing there: an engine's Open creates the tables.
	_, err = postgres.OpenReader(ctx, empty, nil)
	require.ErrorIs(t, err, history.ErrNotChorusDatabase)

	missing, err := pgtest.WithSearchPath(pgtest.BaseURL(t), "chorus_no_such_schema")
	require.NoError(t, err)
	_, err = postgres.OpenReader(ctx, missing, nil)
	require.ErrorIs(t, err, history.ErrNotChorusDatabase)
	require.Contains(t, err.Error(), "no schema of the connection's search_path exists")

	newer := pgtest.URL(t)
	st, err := postgres.Open(ctx, newer, nil)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	pgtest.Exec(t, newer, `INSERT INTO chorus_schema_version (version) VALUES (999)`)
	_, err = postgres.OpenReader(ctx, newer, nil)
	require.ErrorIs(t, err, history.ErrSchemaTooNew)
	require.Contains(t, err.Error(), "999")

	older := pgtest.URL(t)
	st, err = postgres.Open(ctx, older, nil)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	pgtest.Exec(t, older, `DELETE FROM chorus_schema_version`)
	_, err = postgres.OpenReader(ctx, older, nil)
	require.ErrorIs(t, err, postgres.ErrSchemaTooOld)
}

// Errors never hold the connection string's password.
func TestReaderErrorsHideThePassword(t *testing.T) {
	ctx := t.Context()
	const secret = "s3cret-Pa55"
	for _, cs := range []string{
		"postgres://chorus:" + secret + "@127.0.0.1:notaport/chorus",
		"postgres://chorus:" + secret + "@127.0.0.1:1/chorus?connect_timeout=5",
		"postgres://chorus:" + secret + "@127.0.0.1:1/chorus?sslmode=bogus",
		"host=127.0.0.1 port=1 password=" + secret + " connect_timeout=5",
	} {
		_, err := postgres.OpenReader(ctx, cs, nil)
		require.Error(t, err, cs)
		require.NotContains(t, err.Error(), secret, cs)
		require.True(t, strings.HasPrefix(err.Error(), "history/postgres: open reader"), err.Error())
	}
}

// After Close every read fails with ErrStoreClosed; closing again does
// nothing.
func TestReaderClose(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)
	st, err := postgres.Open(ctx, u, nil)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	r, err := postgres.OpenReader(ctx, u, &postgres.ReaderOptions{MaxConns: 1})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err = r.Run(ctx, "x")
	require.ErrorIs(t, err, history.ErrStoreClosed)
	_, err = r.ListRuns(ctx, history.ListFilter{})
	require.ErrorIs(t, err, history.ErrStoreClosed)
	_, _, err = r.Lease(ctx)
	require.ErrorIs(t, err, history.ErrStoreClosed)
	require.False(t, errors.Is(err, postgres.ErrReadOnly))

	_, err = postgres.OpenReader(ctx, u, &postgres.ReaderOptions{MaxConns: -1})
	require.Error(t, err)
}
