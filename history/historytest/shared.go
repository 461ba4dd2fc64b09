package historytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// Shared is what [RunShared] needs of a store whose database several
// engines share, each owning the runs it created.
type Shared struct {
	// Open opens a store named node on the test's database, which every
	// call of the same Shared shares. The store implements
	// [history.RunAdopter].
	Open func(ctx context.Context, node string) (history.Store, error)
	// Expire makes node's claim lapse, as when its process died or was
	// paused for longer than its lease, without the node knowing.
	Expire func(ctx context.Context, node string)
	// Adopt makes s adopt, at once, the runs of every node whose claim
	// lapsed, and returns the IDs of the adopted runs that have work left
	// (what the store sends on Adopted when it adopts by itself).
	Adopt func(ctx context.Context, s history.Store) ([]string, error)
}

// RunShared checks a store in which several engines share one database,
// over a fresh database that env returns for each subtest:
//
//   - each store's Tasks holds the tasks of its own runs only;
//   - a batch on a run another store owns fails with [history.ErrNotOwner]
//     (a [*history.NotOwnerError] naming the owner) and writes nothing,
//     while the other batches of the commit land;
//   - once a store's claim lapses, another adopts its runs: their tasks
//     become the adopter's, the adopter writes to them, and the old store
//     writes nothing any more (its commits fail with an error wrapping
//     [history.ErrStoreClosed]);
//   - two stores adopting at once adopt each run once.
func RunShared(t *testing.T, env func(t *testing.T) Shared) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, sh Shared)
	}{
		{"OwnTasksOnly", testSharedOwnTasks},
		{"ForeignBatchRefused", testSharedForeignBatch},
		{"TakeoverMovesRunsAndFences", testSharedTakeover},
		{"ConcurrentTakeoverAdoptsOnce", testSharedConcurrentTakeover},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, env(t))
		})
	}
}

func openNode(t *testing.T, sh Shared, node string) history.Store {
	t.Helper()
	s, err := sh.Open(t.Context(), node)
	require.NoError(t, err)
	require.Implements(t, (*history.RunAdopter)(nil), s)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// withTask creates run id with a pending activity task at step 2.
func withTask(id string, tm time.Time) *history.Batch {
	b := createBatch(id, "wf", tm)
	b.Events = append(b.Events, scheduled(2, "act", tm))
	b.AddTasks = []history.Task{{Step: 2, Name: "act", Input: []byte(`{"step":2}`), Attempt: 1}}
	return b
}

func taskRuns(t *testing.T, s history.Store) []string {
	t.Helper()
	var ids []string
	for _, k := range mustTasks(t, s) {
		ids = append(ids, k.RunID)
	}
	return ids
}

func owns(t *testing.T, s history.Store, id string) bool {
	t.Helper()
	mine, err := s.(history.RunAdopter).OwnsRun(t.Context(), id)
	require.NoError(t, err)
	return mine
}

func testSharedOwnTasks(t *testing.T, sh Shared) {
	a, b := openNode(t, sh, "a"), openNode(t, sh, "b")
	commit(t, a, withTask("ra", t0))
	commit(t, b, withTask("rb", t0))
	require.Equal(t, []string{"ra"}, taskRuns(t, a), "a's tasks")
	require.Equal(t, []string{"rb"}, taskRuns(t, b), "b's tasks")
	require.True(t, owns(t, a, "ra"))
	require.False(t, owns(t, a, "rb"))
	require.False(t, owns(t, a, "nope"), "an unknown run is no one's")

	// Every store reads every run.
	info, err := a.Run(t.Context(), "rb")
	require.NoError(t, err)
	require.EqualValues(t, 2, info.LastSeq)
	if rts, ok := a.(history.RunTaskStore); ok {
		ks, err := rts.RunTasks(t.Context(), "rb")
		require.NoError(t, err)
		require.Len(t, ks, 1, "RunTasks reads another store's run")
	}
}

func testSharedForeignBatch(t *testing.T, sh Shared) {
	a, b := openNode(t, sh, "a"), openNode(t, sh, "b")
	commit(t, a, withTask("ra", t0))
	commit(t, b, withTask("rb", t0))

	errs := commitErrs(t, a,
		&history.Batch{RunID: "rb", Time: at(time.Second), Events: []history.Event{completed(3, 2, at(time.Second))}, DoneTasks: []int64{2}},
		appendBatch("ra", at(time.Second), completed(3, 2, at(time.Second))),
		&history.Batch{RunID: "rb", Time: at(time.Second), Status: &history.StatusUpdate{Status: history.StatusCanceled}},
		createBatch("rb", "wf", at(time.Second)),
	)
	require.ErrorIs(t, errs[0], history.ErrNotOwner, "an append to b's run")
	var noe *history.NotOwnerError
	require.True(t, errors.As(errs[0], &noe), "the error is a NotOwnerError: %v", errs[0])
	require.Equal(t, "rb", noe.RunID)
	require.Equal(t, "b", noe.Owner, "the error names the owner")
	require.NoError(t, errs[1], "a's own batch lands")
	require.ErrorIs(t, errs[2], history.ErrNotOwner, "a status change of b's run")
	require.ErrorIs(t, errs[3], history.ErrRunExists, "a create of an existing run")

	info, err := b.Run(t.Context(), "rb")
	require.NoError(t, err)
	require.EqualValues(t, 2, info.LastSeq, "the refused append wrote nothing")
	require.Equal(t, history.StatusRunning, info.Status, "the refused status change wrote nothing")
	require.Equal(t, []string{"rb"}, taskRuns(t, b), "the refused batch deleted no task")
	info, err = a.Run(t.Context(), "ra")
	require.NoError(t, err)
	require.EqualValues(t, 3, info.LastSeq)

	// The owner writes on.
	commit(t, b, &history.Batch{RunID: "rb", Time: at(2 * time.Second), Events: []history.Event{completed(3, 2, at(2*time.Second))}, DoneTasks: []int64{2}})
}

func testSharedTakeover(t *testing.T, sh Shared) {
	a, b := openNode(t, sh, "a"), openNode(t, sh, "b")
	commit(t, a, withTask("ra", t0), createBatch("ra2", "wf", t0))
	commit(t, a, &history.Batch{RunID: "ra2", Time: at(time.Second), Events: []history.Event{{Seq: 2, Type: history.EventRunCompleted, Time: at(time.Second)}},
		Status: &history.StatusUpdate{Status: history.StatusCompleted}})
	commit(t, b, withTask("rb", t0))

	ids, err := sh.Adopt(t.Context(), b)
	require.NoError(t, err)
	require.Empty(t, ids, "a live store's runs are not adopted")

	sh.Expire(t.Context(), "a")
	ids, err = sh.Adopt(t.Context(), b)
	require.NoError(t, err)
	require.Equal(t, []string{"ra"}, ids, "the runs with work left are adopted (ra2 ended)")
	require.Equal(t, []string{"ra", "rb"}, taskRuns(t, b), "the adopted run's tasks are b's")
	require.True(t, owns(t, b, "ra"))
	require.True(t, owns(t, b, "ra2"), "ended runs move too")

	// The old store wakes up: nothing it writes lands.
	_, err = a.Commit(t.Context(), []*history.Batch{appendBatch("ra", at(2*time.Second), completed(3, 2, at(2*time.Second)))})
	require.ErrorIs(t, err, history.ErrStoreClosed, "a commit of a store whose runs were adopted")
	_, err = a.Commit(t.Context(), []*history.Batch{withTask("new", at(2*time.Second))})
	require.ErrorIs(t, err, history.ErrStoreClosed)
	_, err = b.Run(t.Context(), "new")
	require.ErrorIs(t, err, history.ErrRunNotFound)

	// The adopter writes on.
	commit(t, b, &history.Batch{RunID: "ra", Time: at(3 * time.Second), Events: []history.Event{completed(3, 2, at(3*time.Second))}, DoneTasks: []int64{2}})
	info, err := b.Run(t.Context(), "ra")
	require.NoError(t, err)
	require.EqualValues(t, 3, info.LastSeq)
	ids, err = sh.Adopt(t.Context(), b)
	require.NoError(t, err)
	require.Empty(t, ids, "a dead store is adopted once")
	_ = a.Close() // returns: closing a fenced store does not hang
}

func testSharedConcurrentTakeover(t *testing.T, sh Shared) {
	a := openNode(t, sh, "a")
	const n = 40
	var want []string
	for i := range n {
		id := fmt.Sprintf("r%02d", i)
		want = append(want, id)
		commit(t, a, withTask(id, t0))
	}
	b, c := openNode(t, sh, "b"), openNode(t, sh, "c")
	sh.Expire(t.Context(), "a")

	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	adopters := []history.Store{b, c}
	errs := make([]error, len(adopters))
	for i, s := range adopters {
		wg.Go(func() {
			ids, err := sh.Adopt(context.WithoutCancel(t.Context()), s)
			errs[i] = err
			mu.Lock()
			got = append(got, ids...)
			mu.Unlock()
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	slices.Sort(got)
	require.Equal(t, want, got, "every run adopted exactly once")
	tb, tc := taskRuns(t, b), taskRuns(t, c)
	require.Len(t, append(tb, tc...), n, "each run's task belongs to one adopter")
	for _, id := range want {
		require.NotEqual(t, owns(t, b, id), owns(t, c, id), "run %s has exactly one owner", id)
	}
}
