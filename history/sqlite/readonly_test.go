package sqlite_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
)

// A read-only store reads a database that a writer holds open (and locked),
// sees the writer's later commits, and never makes the writer wait.
func TestOpenReadOnlyWhileWriterHoldsFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	w := openStore(t, path, nil)
	mustCommit(t, w, createBatch("a"))

	r, err := sqlite.OpenReadOnly(t.Context(), path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })

	info, err := r.Run(t.Context(), "a")
	require.NoError(t, err)
	require.Equal(t, "wf", info.Workflow)
	evs, err := r.Events(t.Context(), "a", 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)

	// The writer commits while the reader is open, and the reader sees it.
	mustCommit(t, w, createBatch("b"))
	runs, err := r.ListRuns(t.Context(), history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.NoError(t, r.IntegrityCheck(t.Context()))

	// The reader cannot write.
	errs, err := r.Commit(t.Context(), []*history.Batch{createBatch("c")})
	if err == nil {
		require.Error(t, errs[0])
	}
	_, err = w.Run(t.Context(), "c")
	require.ErrorIs(t, err, history.ErrRunNotFound)
}

func TestOpenReadOnlyBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()

	_, err := sqlite.OpenReadOnly(ctx, filepath.Join(dir, "missing.db"), nil)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), "missing.db")
	_, err = os.Stat(filepath.Join(dir, "missing.db"))
	require.ErrorIs(t, err, fs.ErrNotExist, "OpenReadOnly must not create the file")

	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte("hello, this is not a database at all, just some text"), 0o600))
	_, err = sqlite.OpenReadOnly(ctx, text, nil)
	require.ErrorIs(t, err, history.ErrNotChorusDatabase)

	other := filepath.Join(dir, "other.db")
	rawExec(t, other, "CREATE TABLE t (x)")
	_, err = sqlite.OpenReadOnly(ctx, other, nil)
	require.ErrorIs(t, err, history.ErrNotChorusDatabase)

	closed := filepath.Join(dir, "closed.db")
	makeChorusDB(t, closed, 3)
	r, err := sqlite.OpenReadOnly(ctx, closed, nil)
	require.NoError(t, err, "a database nobody holds open")
	runs, err := r.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 3)
	require.NoError(t, r.Close())

	older := filepath.Join(dir, "older.db")
	makeChorusDB(t, older, 1)
	rawExec(t, older, fmt.Sprintf("PRAGMA user_version = %d", sqlite.SchemaVersion()-1))
	_, err = sqlite.OpenReadOnly(ctx, older, nil)
	require.ErrorIs(t, err, sqlite.ErrSchemaTooOld)
	require.Contains(t, err.Error(), "older.db")

	newer := filepath.Join(dir, "newer.db")
	makeChorusDB(t, newer, 1)
	rawExec(t, newer, "PRAGMA user_version = 9999")
	_, err = sqlite.OpenReadOnly(ctx, newer, nil)
	require.ErrorIs(t, err, history.ErrSchemaTooNew)
}

// OpenReadOnly takes no lock: a writer opens the file while a read-only
// store has it open (Open would wait for the flock, then fail, if it did).
func TestOpenReadOnlyTakesNoLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	makeChorusDB(t, path, 1)
	r, err := sqlite.OpenReadOnly(t.Context(), path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	w := openStore(t, path, &sqlite.Options{BusyTimeout: 100 * time.Millisecond})
	mustCommit(t, w, createBatch("late"))
	_, err = r.Run(t.Context(), "late")
	require.NoError(t, err)
}
