package faultstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/faultstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func memStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var t0 = time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)

func create(id string) *history.Batch {
	return &history.Batch{
		RunID: id, Time: t0,
		Create: &history.RunInfo{ID: id, Workflow: "wf"},
		Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: t0}},
	}
}

// With every rate at zero the wrapper is a conforming store.
func TestConformanceWithoutFaults(t *testing.T) {
	t.Parallel()
	historytest.Run(t, func(t *testing.T) history.Store {
		return faultstore.Wrap(memStore(t), 1, faultstore.Rates{})
	})
}

func TestCommitError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inner := memStore(t)
	s := faultstore.Wrap(inner, 7, faultstore.Rates{CommitError: 1, MaxFaults: 1})
	errs, err := s.Commit(ctx, []*history.Batch{create("a"), create("b")})
	require.NoError(t, err)
	require.Len(t, errs, 2)
	for _, e := range errs {
		require.ErrorIs(t, e, faultstore.ErrInjected)
	}
	_, err = inner.Run(ctx, "a")
	require.ErrorIs(t, err, history.ErrRunNotFound, "nothing was written")
	// MaxFaults reached: the retry goes through.
	errs, err = s.Commit(ctx, []*history.Batch{create("a"), create("b")})
	require.NoError(t, err)
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, 1, s.Stats().Faults[faultstore.OpCommitError])
}

func TestBatchErrorFailsOnlyItsBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inner := memStore(t)
	s := faultstore.Wrap(inner, 7, faultstore.Rates{BatchError: 1, Only: func(id string) bool { return id == "victim" }})
	errs, err := s.Commit(ctx, []*history.Batch{create("victim"), create("bystander")})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], faultstore.ErrInjected)
	require.NoError(t, errs[1])
	_, err = inner.Run(ctx, "victim")
	require.ErrorIs(t, err, history.ErrRunNotFound)
	_, err = inner.Run(ctx, "bystander")
	require.NoError(t, err)
	// Reads of runs Only does not accept, and global reads, never fail.
	_, err = s.Run(ctx, "bystander")
	require.NoError(t, err)
	_, err = s.Tasks(ctx)
	require.NoError(t, err)
}

func TestCommitUnknownAndPanicWriteFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inner := memStore(t)
	s := faultstore.Wrap(inner, 3, faultstore.Rates{CommitUnknown: 1, MaxFaults: 1})
	errs, err := s.Commit(ctx, []*history.Batch{create("a")})
	require.Nil(t, errs)
	require.ErrorIs(t, err, faultstore.ErrUnknownOutcome)
	require.ErrorIs(t, err, faultstore.ErrInjected)
	_, err = inner.Run(ctx, "a")
	require.NoError(t, err, "the batch landed although the commit reported an error")

	l := faultstore.Wrap(inner, 3, faultstore.Rates{CommitLost: 1})
	errs, err = l.Commit(ctx, []*history.Batch{create("lost")})
	require.Nil(t, errs)
	require.ErrorIs(t, err, faultstore.ErrUnknownOutcome)
	_, err = inner.Run(ctx, "lost")
	require.ErrorIs(t, err, history.ErrRunNotFound, "nothing was written although the outcome is unknown")

	p := faultstore.Wrap(inner, 3, faultstore.Rates{CommitPanic: 1})
	require.Panics(t, func() { _, _ = p.Commit(ctx, []*history.Batch{create("b")}) })
	_, err = inner.Run(ctx, "b")
	require.NoError(t, err, "the batch landed before the panic")
}

func TestReadFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inner := memStore(t)
	errs, err := inner.Commit(ctx, []*history.Batch{create("a")})
	require.NoError(t, err)
	require.NoError(t, errors.Join(errs...))
	s := faultstore.Wrap(inner, 3, faultstore.Rates{Read: 1})
	_, err = s.Run(ctx, "a")
	require.ErrorIs(t, err, faultstore.ErrInjected)
	_, err = s.Events(ctx, "a", 0)
	require.ErrorIs(t, err, faultstore.ErrInjected)
	_, err = s.Tasks(ctx)
	require.ErrorIs(t, err, faultstore.ErrInjected)
	_, err = s.ListRuns(ctx, history.ListFilter{})
	require.ErrorIs(t, err, faultstore.ErrInjected)
	s.Disable()
	_, err = s.Run(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, 4, s.Stats().Total())
	require.Len(t, s.Faults(), 4)
}

// The same seed injects the same faults into the same calls, in whatever
// order they come, and a retried call draws afresh.
func TestDecisionsDependOnSeedAndCallOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inner := memStore(t)
	pattern := func(seed int64, ids []string) map[string][]bool {
		s := faultstore.Wrap(inner, seed, faultstore.Rates{Read: 0.5})
		got := map[string][]bool{}
		for range 8 {
			for _, id := range ids {
				_, err := s.Run(ctx, id)
				got[id] = append(got[id], errors.Is(err, faultstore.ErrInjected))
			}
		}
		return got
	}
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
	}
	rev := make([]string, len(ids))
	for i, id := range ids {
		rev[len(ids)-1-i] = id
	}
	a, b, c := pattern(11, ids), pattern(11, rev), pattern(12, ids)
	require.Equal(t, a, b)
	require.NotEqual(t, a, c)
	faults, varied := 0, false
	for _, id := range ids {
		for i, f := range a[id] {
			if f {
				faults++
			}
			if i > 0 && f != a[id][0] {
				varied = true
			}
		}
	}
	require.InDelta(t, 200, faults, 60, "about half of 400 reads fail")
	require.True(t, varied, "retries of one call draw afresh")
}
