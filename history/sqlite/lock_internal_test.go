//go:build unix

package sqlite

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// A lock that another holder keeps is tried for the whole wait before the
// second Open gives up with ErrLocked, and a lock released during the wait
// is taken: Open does not fail at once on a lock that a forking process
// holds for a moment.
func TestLockWaitsBeforeErrLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock.db")
	held, err := lockFile(path, 0, 0o600)
	require.NoError(t, err)

	const wait = 300 * time.Millisecond
	start := time.Now()
	f, err := lockFile(path, wait, 0o600)
	require.ErrorIs(t, err, history.ErrLocked)
	require.Nil(t, f)
	require.GreaterOrEqual(t, time.Since(start), wait, "gave up before its wait was over")
	require.ErrorContains(t, err, path, "the error names the file")

	// Released while the second holder waits: it gets the lock.
	got := make(chan error, 1)
	tried := make(chan struct{})
	var once sync.Once
	go func() {
		f, err := lockFileBusy(path, time.Minute, 0o600, func() { once.Do(func() { close(tried) }) })
		if err == nil {
			err = f.Close()
		}
		got <- err
	}()
	<-tried // it found the lock held and waits
	require.NoError(t, held.Close())
	require.NoError(t, <-got)
}

// Open waits at most a second (or BusyTimeout, when shorter) for the
// file's lock: with a short BusyTimeout a second store on a held file is
// refused after that timeout, not after a second.
func TestSecondOpenWaitsForBusyTimeout(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "two.db")
	first, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer first.Close()

	start := time.Now()
	_, err = Open(ctx, path, &Options{BusyTimeout: 200 * time.Millisecond})
	require.ErrorIs(t, err, history.ErrLocked)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}
