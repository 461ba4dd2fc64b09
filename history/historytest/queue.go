package historytest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// RunQueue checks a [history.QueueStore] on the stores open returns (each
// subtest opens one; it must implement QueueStore): enqueue makes a queued
// run row, claims honour order and limits, dedup and debounce gather, ended
// runs free their slots, a waiting run can be canceled in place, and
// concurrent claims never exceed a queue's concurrency nor claim an item
// twice.
func RunQueue(t *testing.T, open func(t *testing.T) history.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, st history.Store, qs history.QueueStore)
	}{
		{"EnqueueAndClaim", testQueueEnqueueAndClaim},
		{"ConcurrentClaims", testQueueConcurrentClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			require.NotNil(t, s, "open returned a nil store")
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			qs, ok := s.(history.QueueStore)
			require.True(t, ok, "%T does not implement history.QueueStore", s)
			tc.fn(t, s, qs)
		})
	}
}

func queueIDs(items []history.QueueItem) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.RunID)
	}
	return ids
}

func testQueueEnqueueAndClaim(t *testing.T, st history.Store, qs history.QueueStore) {
	ctx := t.Context()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	enq := func(id string, prio int, part, dedup string) error {
		_, _, err := qs.Enqueue(ctx, history.QueueItem{RunID: id, Queue: "q", Workflow: "wf", Input: []byte(`1`), Priority: prio,
			PartitionKey: part, DedupID: dedup, EnqueuedAt: t0})
		return err
	}
	require.NoError(t, enq("a", 2, "x", "d-a"))
	require.NoError(t, enq("b", 1, "x", ""))
	require.NoError(t, enq("c", 1, "y", ""))
	require.NoError(t, enq("d", 0, "x", ""))
	var de *history.QueueDedupError
	require.ErrorAs(t, enq("e", 0, "", "d-a"), &de)
	require.Equal(t, "a", de.RunID)
	require.ErrorIs(t, enq("a", 0, "", ""), history.ErrRunExists)

	info, err := st.Run(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, history.StatusQueued, info.Status)
	require.Equal(t, t0, info.CreatedAt)

	// Concurrency 2, one per partition: d (x, priority 0) then c (y).
	c := history.QueueClaim{Queue: "q", Now: t0.Add(time.Second), Max: 10, Concurrency: 2, PartitionConcurrency: 1}
	got, _, err := qs.ClaimQueued(ctx, c)
	require.NoError(t, err)
	require.Equal(t, []string{"d", "c"}, queueIDs(got))
	_, err = st.Run(ctx, "d")
	require.ErrorIs(t, err, history.ErrRunNotFound, "the claim hands the ID to the engine")
	got, _, err = qs.ClaimQueued(ctx, c)
	require.NoError(t, err)
	require.Empty(t, got, "full")

	// Cancel a waiting run in place; a claimed one is not waiting.
	done, err := qs.CancelQueued(ctx, "a", history.StatusUpdate{Status: history.StatusCanceled, Failure: []byte(`{}`)}, t0)
	require.NoError(t, err)
	require.True(t, done)
	info, err = st.Run(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, history.StatusCanceled, info.Status)
	done, err = qs.CancelQueued(ctx, "d", history.StatusUpdate{Status: history.StatusCanceled}, t0)
	require.NoError(t, err)
	require.False(t, done)
	require.NoError(t, enq("a2", 0, "", "d-a"), "the canceled run's deduplication ID is free")

	// d's run starts and ends: its slot (and its partition's) frees.
	errs, err := st.Commit(ctx, []*history.Batch{{RunID: "d", Time: t0, Create: &history.RunInfo{Workflow: "wf"},
		Status: &history.StatusUpdate{Status: history.StatusCompleted},
		Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: t0}, {Seq: 2, Type: history.EventRunCompleted, Time: t0}}}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	got, _, err = qs.ClaimQueued(ctx, c)
	require.NoError(t, err)
	require.Equal(t, []string{"a2"}, queueIDs(got), "a2 has no partition key: its own partition")

	items, err := qs.QueueItems(ctx, history.QueueFilter{Queue: "q", States: []history.QueueState{history.QueueWaiting}})
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, queueIDs(items))

	// Debounce: a second enqueue with the key replaces the waiting item's
	// input and start time.
	deb := func(id, in string, nb time.Time) (history.QueueItem, bool) {
		it, merged, err := qs.Enqueue(ctx, history.QueueItem{RunID: id, Queue: "deb", Workflow: "wf", Input: []byte(in), DebounceKey: "k",
			EnqueuedAt: t0, NotBefore: nb})
		require.NoError(t, err)
		return it, merged
	}
	it, merged := deb("k1", `1`, t0.Add(10*time.Second))
	require.False(t, merged)
	it2, merged := deb("k2", `2`, t0.Add(20*time.Second))
	require.True(t, merged)
	require.Equal(t, it.RunID, it2.RunID)
	require.Equal(t, []byte(`2`), it2.Input)
	_, err = st.Run(ctx, "k2")
	require.ErrorIs(t, err, history.ErrRunNotFound)
	got, next, err := qs.ClaimQueued(ctx, history.QueueClaim{Queue: "deb", Now: t0.Add(15 * time.Second), Max: 5})
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, t0.Add(20*time.Second), next)

	// Rate limit: 1 per minute, counted over started items.
	for _, id := range []string{"r1", "r2"} {
		_, _, err := qs.Enqueue(ctx, history.QueueItem{RunID: id, Queue: "rate", Workflow: "wf", EnqueuedAt: t0})
		require.NoError(t, err)
	}
	rc := history.QueueClaim{Queue: "rate", Now: t0, Max: 5, RateLimit: 1, RatePeriod: time.Minute}
	got, _, err = qs.ClaimQueued(ctx, rc)
	require.NoError(t, err)
	require.Equal(t, []string{"r1"}, queueIDs(got))
	got, next, err = qs.ClaimQueued(ctx, rc)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, t0.Add(time.Minute), next)
	rc.Now = t0.Add(time.Minute)
	got, _, err = qs.ClaimQueued(ctx, rc)
	require.NoError(t, err)
	require.Equal(t, []string{"r2"}, queueIDs(got))

	_, _, err = qs.ClaimQueued(ctx, history.QueueClaim{Queue: "q", Now: t0})
	require.Error(t, err, "Max is required")
}

func testQueueConcurrentClaims(t *testing.T, _ history.Store, qs history.QueueStore) {
	ctx := t.Context()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const items, limit, claimers = 60, 7, 6
	for i := range items {
		_, _, err := qs.Enqueue(ctx, history.QueueItem{RunID: fmt.Sprintf("c%02d", i), Queue: "busy", Workflow: "wf", EnqueuedAt: t0})
		require.NoError(t, err)
	}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
		errs    = make(chan error, claimers)
	)
	for range claimers {
		wg.Go(func() {
			for range 5 {
				got, _, err := qs.ClaimQueued(ctx, history.QueueClaim{Queue: "busy", Now: t0.Add(time.Second), Max: 3, Concurrency: limit})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, it := range got {
					claimed[it.RunID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, claimed, limit, "claims under contention stop at the queue's concurrency")
	for id, n := range claimed {
		require.Equal(t, 1, n, "item %s claimed %d times", id, n)
	}
	started, err := qs.QueueItems(ctx, history.QueueFilter{Queue: "busy", States: []history.QueueState{history.QueueStarted}})
	require.NoError(t, err)
	require.Len(t, started, limit)
}
