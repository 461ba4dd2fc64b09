package historytest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// Ownership is what [RunOwnership] needs of a store to check that one
// engine at a time owns a database.
type Ownership struct {
	// Open opens a store on the test's database, which every call of the
	// same Ownership shares. It returns the store's error as it is: one
	// wrapping [history.ErrLocked] while another store owns the database.
	Open func(ctx context.Context) (history.Store, error)
	// Expire makes the owner's claim on the database lapse, as when its
	// process was paused (or cut off) for longer than its lease, without
	// the owner knowing; nil for a store whose ownership cannot lapse
	// while its process lives (SQLite's flock). After it, Open succeeds
	// and takes the database over.
	Expire func(ctx context.Context)
}

// RunOwnership checks the single-owner rule of a store over one database
// that env returns for each subtest:
//
//   - a second store on an owned database is refused with
//     [history.ErrLocked], and takes it once the owner closes, seeing
//     everything the owner committed;
//   - when the owner's claim lapses (Ownership.Expire), a new store takes
//     the database over, and the old owner can write nothing any more: its
//     commits fail with an error wrapping [history.ErrStoreClosed] (so
//     that its engine stops) and leave the journal as the new owner has
//     it.
func RunOwnership(t *testing.T, env func(t *testing.T) Ownership) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, o Ownership)
	}{
		{"SecondOpenRefused", testSecondOpenRefused},
		{"TakeoverFencesOldOwner", testTakeoverFences},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, env(t))
		})
	}
}

func mustOpen(t *testing.T, o Ownership) history.Store {
	t.Helper()
	s, err := o.Open(t.Context())
	require.NoError(t, err)
	require.NotNil(t, s)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testSecondOpenRefused(t *testing.T, o Ownership) {
	a := mustOpen(t, o)
	commit(t, a, createBatch("r", "wf", t0))

	b, err := o.Open(t.Context())
	require.ErrorIs(t, err, history.ErrLocked, "a second store on an owned database")
	require.Nil(t, b)

	// The owner goes on unhindered.
	commit(t, a, appendBatch("r", at(time.Second), scheduled(2, "act", at(time.Second))))
	require.NoError(t, a.Close())

	c := mustOpen(t, o)
	info, err := c.Run(t.Context(), "r")
	require.NoError(t, err)
	require.EqualValues(t, 2, info.LastSeq, "the new owner sees what the old one committed")
	commit(t, c, appendBatch("r", at(2*time.Second), completed(3, 2, at(2*time.Second))))
}

func testTakeoverFences(t *testing.T, o Ownership) {
	if o.Expire == nil {
		t.Skip("the store's ownership cannot lapse while its process lives")
	}
	old := mustOpen(t, o)
	commit(t, old, createBatch("r", "wf", t0), createBatch("s", "wf", t0))

	o.Expire(t.Context())
	cur := mustOpen(t, o)

	// The old owner wakes up and writes what it had in memory: nothing
	// of it lands, and it is told to stop.
	errs, err := old.Commit(t.Context(), []*history.Batch{
		appendBatch("r", at(time.Second), scheduled(2, "stale", at(time.Second))),
		createBatch("t", "wf", at(time.Second)),
	})
	require.ErrorIs(t, err, history.ErrStoreClosed, "a commit of a store that was taken over")
	require.Len(t, errs, 2)
	for i, e := range errs {
		require.ErrorIs(t, e, history.ErrStoreClosed, "batch %d", i)
	}

	// The new owner has the journal as it was, and writes on.
	info, err := cur.Run(t.Context(), "r")
	require.NoError(t, err)
	require.EqualValues(t, 1, info.LastSeq, "the stale commit did not land")
	_, err = cur.Run(t.Context(), "t")
	require.ErrorIs(t, err, history.ErrRunNotFound, "the stale create did not land")
	commit(t, cur, appendBatch("r", at(2*time.Second), scheduled(2, "act", at(2*time.Second))))
	events, err := cur.Events(t.Context(), "r", 0)
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Equal(t, "act", events[1].Name)

	// Still refused afterwards, however often it tries.
	_, err = old.Commit(t.Context(), []*history.Batch{appendBatch("s", at(3*time.Second), scheduled(2, "stale", at(3*time.Second)))})
	require.ErrorIs(t, err, history.ErrStoreClosed)
	_ = old.Close() // returns: closing a store that was taken over does not hang
}
