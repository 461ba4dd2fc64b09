package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/postgres/pgtest"
)

func TestOwnershipConformance(t *testing.T) {
	pgtest.BaseURL(t)
	historytest.RunOwnership(t, func(t *testing.T) historytest.Ownership {
		u := pgtest.URL(t)
		return historytest.Ownership{
			Open: func(ctx context.Context) (history.Store, error) {
				s, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 4})
				if err != nil {
					return nil, err // not a typed nil
				}
				return s, nil
			},
			Expire: func(context.Context) {
				pgtest.Exec(t, u, `UPDATE chorus_lease SET expires_at = now()`)
			},
		}
	})
}

// TestFencedStore checks what the engine and the application see of a
// store that was taken over: ErrFenced (and ErrStoreClosed) on every
// write, Lost closed, and a Close that returns.
func TestFencedStore(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	opts := &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2, Owner: "old"}
	old, err := postgres.Open(ctx, u, opts)
	require.NoError(t, err)
	require.EqualValues(t, 1, old.Epoch())
	select {
	case <-old.Lost():
		t.Fatal("Lost closed before any takeover")
	default:
	}

	pgtest.Exec(t, u, `UPDATE chorus_lease SET expires_at = now()`)
	cur, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2, Owner: "new"})
	require.NoError(t, err)
	defer cur.Close()
	require.EqualValues(t, 2, cur.Epoch(), "a takeover raises the epoch")

	_, err = old.Commit(ctx, []*history.Batch{{RunID: "r", Time: time.Now(), Create: &history.RunInfo{Workflow: "wf"},
		Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: time.Now()}}}})
	require.ErrorIs(t, err, postgres.ErrFenced)
	require.ErrorIs(t, err, history.ErrStoreClosed)
	<-old.Lost() // closed by the commit that found the lease taken
	_, _, err = old.Enqueue(ctx, history.QueueItem{RunID: "q", Queue: "q", Workflow: "wf", EnqueuedAt: time.Now()})
	require.ErrorIs(t, err, postgres.ErrFenced)
	_, err = old.PurgeRuns(ctx, history.PurgeFilter{Before: time.Now(), Limit: 10})
	require.ErrorIs(t, err, postgres.ErrFenced)
	require.NoError(t, old.Close())

	// The new owner's Close releases the lease: a third store needs no
	// wait.
	require.NoError(t, cur.Close())
	third, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2})
	require.NoError(t, err)
	require.EqualValues(t, 3, third.Epoch())
	require.NoError(t, third.Close())
}

// TestStandbyTakesOverAfterRelease opens a standby while an owner holds
// the lease: the standby waits, and takes over as soon as the owner closes
// (which releases the lease); a standby's wait ends with its context.
func TestStandbyTakesOverAfterRelease(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	owner, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2})
	require.NoError(t, err)

	_, err = postgres.Open(ctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2})
	require.ErrorIs(t, err, history.ErrLocked)
	require.Contains(t, err.Error(), owner.Owner(), "the error names the owner")

	type opened struct {
		s   *postgres.Store
		err error
	}
	done := make(chan opened, 1)
	go func() {
		s, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: 400 * time.Millisecond, MaxConns: 2, Standby: true})
		done <- opened{s, err}
	}()
	require.NoError(t, owner.Close()) // releases the lease
	got := <-done
	require.NoError(t, got.err)
	require.EqualValues(t, 2, got.s.Epoch())
	require.NoError(t, got.s.Close())

	// A standby's wait ends with its context.
	holder, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2})
	require.NoError(t, err)
	defer holder.Close()
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = postgres.Open(wctx, u, &postgres.Options{LeaseTTL: time.Minute, MaxConns: 2, Standby: true})
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

// TestRenewalNoticesTakeover checks that the background renewal finds a
// takeover by itself, without a commit, and closes Lost.
func TestRenewalNoticesTakeover(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	s, err := postgres.Open(ctx, u, &postgres.Options{LeaseTTL: 150 * time.Millisecond, MaxConns: 2})
	require.NoError(t, err)
	defer s.Close()
	// Another engine takes over behind the owner's back: its next renewal
	// finds a newer epoch and closes Lost, with no commit needed.
	pgtest.Exec(t, u, `UPDATE chorus_lease SET epoch = epoch + 1, owner = 'intruder'`)
	select {
	case <-s.Lost():
	case <-time.After(time.Minute):
		t.Fatal("the renewal did not notice the takeover")
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	s, err := postgres.Open(ctx, u, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	pgtest.Exec(t, u, `INSERT INTO chorus_schema_version (version) VALUES (999)`)
	_, err = postgres.Open(ctx, u, nil)
	require.ErrorIs(t, err, history.ErrSchemaTooNew)
}
