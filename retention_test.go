package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/workflow"
)

// retentionDefs are the workflows of the purge tests: one that ends at
// once (failing on a negative input), one that waits for a signal, and one
// whose code panics, which blocks its run.
var (
	purgeGo    = workflow.NewSignal[int]("go")
	purgeQuick = workflow.New("purge-quick", func(ctx workflow.Context, n int) (int, error) {
		if n < 0 {
			return 0, errors.New("negative")
		}
		return n, nil
	})
	purgeWait = workflow.New("purge-wait", func(ctx workflow.Context, n int) (int, error) {
		v, _ := workflow.GetSignalChannel(ctx, purgeGo).Receive(ctx)
		return n + v, nil
	})
	purgeBroken = workflow.New("purge-broken", func(ctx workflow.Context, n int) (int, error) {
		workflow.GetSignalChannel(ctx, purgeGo).Receive(ctx)
		panic("bug")
	})
)

func TestPurgeRemovesOnlyRunsEndedBeforeCutoff(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	clk := clock.NewMock()
	t0 := clk.Now()
	eng, _ := setup(t, &chorus.Options{Clock: clk, Logger: slog.New(slog.DiscardHandler)}, purgeQuick, purgeWait, purgeBroken)

	ok, err := chorus.Start(ctx, eng, purgeQuick, 1, &chorus.StartOptions{ID: "old-ok"})
	require.NoError(t, err)
	_, err = ok.Result(ctx)
	require.NoError(t, err)
	bad, err := chorus.Start(ctx, eng, purgeQuick, -1, &chorus.StartOptions{ID: "old-failed"})
	require.NoError(t, err)
	_, err = bad.Result(ctx)
	require.Error(t, err)
	waiting, err := chorus.Start(ctx, eng, purgeWait, 1, &chorus.StartOptions{ID: "running"})
	require.NoError(t, err)
	blocked, err := chorus.Start(ctx, eng, purgeBroken, 1, &chorus.StartOptions{ID: "blocked"})
	require.NoError(t, err)
	var be *chorus.BlockedError
	require.ErrorAs(t, chorus.Signal(ctx, eng, "blocked", purgeGo, 1), &be)
	_, err = blocked.Result(ctx)
	require.ErrorAs(t, err, &be)

	clk.Add(2 * time.Hour)
	recent, err := chorus.Start(ctx, eng, purgeQuick, 3, &chorus.StartOptions{ID: "recent"})
	require.NoError(t, err)
	_, err = recent.Result(ctx)
	require.NoError(t, err)

	n, err := eng.Purge(ctx, chorus.PurgeOptions{FinishedBefore: t0.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, id := range []string{"old-ok", "old-failed"} {
		_, err := eng.Describe(ctx, id)
		require.ErrorIs(t, err, chorus.ErrRunNotFound, id)
		_, err = chorus.History(ctx, eng, id)
		require.ErrorIs(t, err, chorus.ErrRunNotFound, id)
	}
	for id, st := range map[string]chorus.RunStatus{"running": chorus.StatusRunning, "blocked": chorus.StatusBlocked, "recent": chorus.StatusCompleted} {
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, st, info.Status, id)
	}
	// A cutoff in the future takes every ended run, never one in flight.
	n, err = eng.Purge(ctx, chorus.PurgeOptions{FinishedBefore: clk.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// The running run goes on, and a purged ID starts again under the
	// default reuse policy, which refuses the ID of a run that exists.
	require.NoError(t, chorus.Signal(ctx, eng, "running", purgeGo, 41))
	got, err := waiting.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 42, got)
	again, err := chorus.Start(ctx, eng, purgeQuick, 7, &chorus.StartOptions{ID: "old-ok"})
	require.NoError(t, err)
	got, err = again.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, got)
	h, err := chorus.History(ctx, eng, "old-ok")
	require.NoError(t, err)
	require.Len(t, h.Events, 2, "the new run's history alone")
}

func TestPurgeOptionsInvalid(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	eng, _ := setup(t, nil)
	_, err := eng.Purge(ctx, chorus.PurgeOptions{})
	require.ErrorIs(t, err, chorus.ErrInvalidPurge)
	require.ErrorContains(t, err, "FinishedBefore")
	_, err = eng.Purge(ctx, chorus.PurgeOptions{FinishedBefore: time.Now(), Limit: -1})
	require.ErrorIs(t, err, chorus.ErrInvalidPurge)
	_, err = chorus.Open(ctx, filepath.Join(t.TempDir(), "x.db"), &chorus.Options{Retention: -time.Hour})
	require.ErrorContains(t, err, "Retention")
}

func TestPurgeLimit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	st := filledStore(t, 1200)
	eng, err := chorus.OpenStore(ctx, st, nil)
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	n, err := eng.Purge(ctx, chorus.PurgeOptions{FinishedBefore: time.Now(), Limit: 700})
	require.NoError(t, err)
	require.Equal(t, 700, n)
	n, err = eng.Purge(ctx, chorus.PurgeOptions{FinishedBefore: time.Now()})
	require.NoError(t, err)
	require.Equal(t, 500, n)
}

func TestRetentionPurgesInBackground(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	clk := clock.NewMock()
	eng, _ := setup(t, &chorus.Options{Clock: clk, Retention: 24 * time.Hour}, purgeQuick, purgeWait)

	old, err := chorus.Start(ctx, eng, purgeQuick, 1, &chorus.StartOptions{ID: "old"})
	require.NoError(t, err)
	_, err = old.Result(ctx)
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, purgeWait, 1, &chorus.StartOptions{ID: "running"})
	require.NoError(t, err)
	clk.Add(23 * time.Hour)
	recent, err := chorus.Start(ctx, eng, purgeQuick, 2, &chorus.StartOptions{ID: "recent"})
	require.NoError(t, err)
	_, err = recent.Result(ctx)
	require.NoError(t, err)
	_, err = eng.Describe(ctx, "old")
	require.NoError(t, err, "kept until it is 24 hours old")

	// "old" is 25 hours old and "recent" 2: the next hourly sweep takes
	// the first only, in the same transaction that spares the second.
	clk.Add(2 * time.Hour)
	require.Eventually(t, func() bool {
		_, err := eng.Describe(ctx, "old")
		return errors.Is(err, chorus.ErrRunNotFound)
	}, testTimeout, time.Millisecond, "the sweep did not purge the old run")
	for _, id := range []string{"recent", "running"} {
		_, err := eng.Describe(ctx, id)
		require.NoError(t, err, id)
	}
}

// filledStore returns a store holding n runs that completed an hour ago,
// written directly.
func filledStore(t testing.TB, n int) history.Store {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chorus.db"), &sqlite.Options{Synchronous: sqlite.SynchronousNormal})
	require.NoError(t, err)
	ended := time.Now().Add(-time.Hour)
	for i := 0; i < n; i += 1000 {
		var bs []*history.Batch
		for j := i; j < min(n, i+1000); j++ {
			id := fmt.Sprintf("done-%06d", j)
			bs = append(bs, &history.Batch{
				RunID:  id,
				Time:   ended,
				Create: &history.RunInfo{ID: id, Workflow: "purge-quick", Status: history.StatusCompleted, Result: []byte("1")},
				Events: []history.Event{
					{Seq: 1, Type: history.EventRunStarted, Name: "purge-quick", Payload: []byte("1"), Time: ended},
					{Seq: 2, Type: history.EventRunCompleted, Payload: []byte("1"), Time: ended},
				},
			})
		}
		errs, err := st.Commit(ctx, bs)
		require.NoError(t, err)
		for _, e := range errs {
			require.NoError(t, e)
		}
	}
	return st
}

// TestStartDuringLargePurge starts runs one after another while a purge of
// 20,000 ended runs (2,000 with -race, CHORUS_PURGE_RUNS if set) goes on, and without one, and logs the latency of
// Start in both cases (go test -run TestStartDuringLargePurge -v). It
// asserts only that every Start succeeds and the purge takes every ended
// run: timings vary with the machine.
func TestStartDuringLargePurge(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a database with 20,000 runs")
	}
	t.Parallel()
	ctx := testContext(t)
	total := 20_000
	if raceDetector {
		total = 2_000 // the race detector slows the purge tenfold
	}
	if v := os.Getenv("CHORUS_PURGE_RUNS"); v != "" {
		// A bigger measurement, by hand: CHORUS_PURGE_RUNS=1000000.
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "CHORUS_PURGE_RUNS")
		total = n
		c, cancel := context.WithTimeout(context.Background(), time.Hour)
		t.Cleanup(cancel)
		ctx = c
	}
	st := filledStore(t, total)
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: []chorus.Definition{purgeQuick}})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })

	starts := func(prefix string, until func(i int) bool) []time.Duration {
		var lat []time.Duration
		for i := 0; !until(i); i++ {
			begin := time.Now()
			_, err := chorus.Start(ctx, eng, purgeQuick, i, &chorus.StartOptions{ID: fmt.Sprintf("%s-%d", prefix, i)})
			require.NoError(t, err)
			lat = append(lat, time.Since(begin))
		}
		return lat
	}
	cutoff := time.Now() // before any run below ends
	var (
		wg     sync.WaitGroup
		purged int
		took   time.Duration
		perr   error
		done   = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		begin := time.Now()
		purged, perr = eng.Purge(ctx, chorus.PurgeOptions{FinishedBefore: cutoff})
		took = time.Since(begin)
	}()
	during := starts("during", func(int) bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	wg.Wait()
	require.NoError(t, perr)
	require.Equal(t, total, purged, "every run written directly, none started since")
	for _, id := range []string{"done-000000", fmt.Sprintf("done-%06d", total-1)} {
		_, err := eng.Describe(ctx, id)
		require.ErrorIs(t, err, chorus.ErrRunNotFound, id)
	}
	runs, err := eng.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, runs, len(during), "the runs started during the purge")
	quiet := starts("quiet", func(i int) bool { return i >= max(len(during), 200) })
	t.Logf("Start latency during a purge of %d runs (%v): %s", total, took.Round(time.Millisecond), percentiles(during))
	t.Logf("Start latency without a purge:           %s", percentiles(quiet))
}

func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "no samples"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(s), at(0.50), at(0.99), s[len(s)-1])
}

// TestRetentionSweepsAtOpen: a process that restarts more often than the
// sweeps come still purges, and Close stops a sweep under way (the
// package's goroutine leak check fails the tests otherwise).
func TestRetentionSweepsAtOpen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	st := filledStore(t, 1200)
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Retention: 30 * time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	require.Eventually(t, func() bool {
		runs, err := eng.List(ctx, nil)
		return err == nil && len(runs) == 0
	}, testTimeout, 5*time.Millisecond, "the sweep at Open did not purge the runs that ended an hour ago")

	big := filledStore(t, 5000)
	eng2, err := chorus.OpenStore(ctx, big, &chorus.Options{Retention: 30 * time.Minute})
	require.NoError(t, err)
	closeEngine(t, eng2)
}

func TestPurgeAfterClose(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	eng, err := chorus.Open(ctx, filepath.Join(t.TempDir(), "chorus.db"), nil)
	require.NoError(t, err)
	closeEngine(t, eng)
	_, err = eng.Purge(ctx, chorus.PurgeOptions{FinishedBefore: time.Now()})
	require.ErrorIs(t, err, chorus.ErrEngineClosed)
}
