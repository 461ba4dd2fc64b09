package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// TestCheckpointOffCommit: the writer does not checkpoint inside COMMIT
// (wal_autocheckpoint=0); the checkpointer copies the log back as commits
// append to it, with the store's synchronous setting, and the log is
// started again from its beginning, so that its file stays bounded however
// much is written; everything committed reads back, after a reopen too.
func TestCheckpointOffCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ckpt.db")
	s, err := Open(ctx, path, &Options{Synchronous: SynchronousNormal})
	require.NoError(t, err)
	defer func() { _ = s.Close() }()

	var v string
	require.NoError(t, s.w.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&v))
	require.Equal(t, "0", v)
	require.NoError(t, s.ckpt.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&v))
	require.Equal(t, "1", v)

	// About 6 pages per run: 3,000 runs write several times the log's
	// bound.
	payload := bytes.Repeat([]byte("x"), 6*4096)
	const runs, perCommit = 3000, 20
	for i := 0; i < runs; i += perCommit {
		var bs []*history.Batch
		for j := i; j < i+perCommit; j++ {
			bs = append(bs, &history.Batch{RunID: fmt.Sprintf("r%d", j), Time: chainT0,
				Create: &history.RunInfo{Workflow: "wf"},
				Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Payload: payload, Time: chainT0}}})
		}
		errs, err := s.Commit(ctx, bs)
		require.NoError(t, err)
		for _, e := range errs {
			require.NoError(t, e)
		}
	}
	require.Positive(t, s.ckpt.checkpoints.Load(), "no background checkpoint ran")
	fi, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	const frame = 4096 + 24
	maxWAL := int64(2*ckptInlineFrames+2*ckptFrames+perCommit*8) * frame
	t.Logf("log file %d bytes; %d background checkpoints, %d by the writer", fi.Size(), s.ckpt.checkpoints.Load(), s.ckpt.inlines)
	require.Less(t, fi.Size(), maxWAL, "the log was not started again")

	check := func(s *Store) {
		for _, id := range []string{"r0", fmt.Sprintf("r%d", runs/2), fmt.Sprintf("r%d", runs-1)} {
			evs, err := s.Events(ctx, id, 0)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Equal(t, payload, evs[0].Payload)
		}
	}
	check(s)
	require.NoError(t, s.Close())
	_, err = os.Stat(path + "-wal")
	require.True(t, os.IsNotExist(err), "Close left the log: %v", err)
	s, err = Open(ctx, path, nil)
	require.NoError(t, err)
	check(s)
	require.NoError(t, s.IntegrityCheck(ctx))
}

// TestRunExists: RunExists tells a run row, running, ended or queued,
// from none, and reports a closed store.
func TestRunExists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "exists.db"), nil)
	require.NoError(t, err)
	chainRun(t, s, "ended", 3)
	commitOne(t, s, &history.Batch{RunID: "queued", Time: chainT0, Create: &history.RunInfo{Workflow: "wf", Status: history.StatusQueued}})
	for id, want := range map[string]bool{"ended": true, "queued": true, "none": false, "": false} {
		got, err := s.RunExists(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, got, id)
	}
	require.NoError(t, s.Close())
	_, err = s.RunExists(ctx, "ended")
	require.ErrorIs(t, err, history.ErrStoreClosed)
}

// TestRunIDFilter: once its filter is built, RunExists answers most new IDs
// from memory and never denies a run the file has: runs created before the
// build, while it read the file (kept aside and added), after it, queued
// runs, and runs created after the filter filled up and was built again.
func TestRunIDFilter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ids.db")
	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	create := func(ids ...string) {
		t.Helper()
		var bs []*history.Batch
		for _, id := range ids {
			bs = append(bs, &history.Batch{RunID: id, Time: chainT0, Create: &history.RunInfo{Workflow: "wf"},
				Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: chainT0}}})
		}
		errs, err := s.Commit(ctx, bs)
		require.NoError(t, err)
		for _, e := range errs {
			require.NoError(t, e)
		}
	}
	var have []string
	for i := range 50 {
		have = append(have, fmt.Sprintf("before-%d", i))
	}
	create(have...)
	require.NoError(t, s.Close())

	s, err = Open(ctx, path, nil)
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	s.ids.wg.Wait()
	require.EqualValues(t, 1, s.ids.builds.Load())
	after := []string{"after-1", "after-2"}
	create(after...)
	have = append(have, after...)
	_, _, err = s.Enqueue(ctx, history.QueueItem{RunID: "queued-1", Queue: "q", Workflow: "wf", EnqueuedAt: chainT0})
	require.NoError(t, err)
	have = append(have, "queued-1")

	// A second build, held once it has its snapshot: runs created then
	// are not in the snapshot, only kept aside.
	snap, release := make(chan struct{}), make(chan struct{})
	s.commitMu.Lock()
	s.ids.scanHook = func() { close(snap); <-release }
	s.startIDFilter()
	s.ids.scanHook = nil
	s.commitMu.Unlock()
	<-snap
	during := []string{"during-1", "during-2", "during-3"}
	create(during...)
	have = append(have, during...)
	close(release)
	s.ids.wg.Wait()
	require.EqualValues(t, 2, s.ids.builds.Load())

	// Full: the next create starts a build of a larger filter.
	s.commitMu.Lock()
	s.ids.capacity = s.ids.added
	s.commitMu.Unlock()
	create("full-1")
	have = append(have, "full-1")
	s.ids.wg.Wait()
	require.EqualValues(t, 3, s.ids.builds.Load())

	for _, id := range have {
		may, known := s.ids.mayHave(id)
		require.True(t, known && may, id)
		ok, err := s.RunExists(ctx, id)
		require.NoError(t, err)
		require.True(t, ok, id)
	}
	fromMemory := 0
	for i := range 1000 {
		id := fmt.Sprintf("new-%d", i)
		if may, known := s.ids.mayHave(id); known && !may {
			fromMemory++
		}
		ok, err := s.RunExists(ctx, id)
		require.NoError(t, err)
		require.False(t, ok, id)
	}
	require.Greater(t, fromMemory, 950, "about 1 %% of new IDs are false positives")
}
