//go:build unix

package sqlite_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history/sqlite"
)

// withUmask runs f with the process's umask set to mask. The umask is
// process-wide: tests that call it must not be parallel.
func withUmask(mask int, f func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

// requireModes checks the permission bits of the database and of the -wal
// and -shm files SQLite keeps beside it while the store is open.
func requireModes(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, want, fi.Mode().Perm(), "%s: mode %v, want %v", filepath.Base(p), fi.Mode().Perm(), want)
	}
}

// TestFileModeDefaultIsPrivate: whatever the umask, a new database and its
// -wal and -shm files are readable and writable by their owner only.
func TestFileModeDefaultIsPrivate(t *testing.T) {
	for _, mask := range []int{0, 0o022} {
		withUmask(mask, func() {
			path := filepath.Join(t.TempDir(), "x.db")
			s := openStore(t, path, nil)
			mustCommit(t, s, createBatch("r"))
			requireModes(t, path, 0o600)
			require.NoError(t, s.Close())
		})
	}
}

// TestFileModeOption: Options.FileMode chooses the mode, exactly, whatever
// the umask; a mode with bits other than permissions is refused.
func TestFileModeOption(t *testing.T) {
	for _, tc := range []struct {
		mask int
		mode os.FileMode
	}{{0, 0o640}, {0o077, 0o660}, {0o022, 0o600}} {
		withUmask(tc.mask, func() {
			path := filepath.Join(t.TempDir(), "x.db")
			s := openStore(t, path, &sqlite.Options{FileMode: tc.mode})
			mustCommit(t, s, createBatch("r"))
			requireModes(t, path, tc.mode)
			require.NoError(t, s.Close())
		})
	}
	for _, bad := range []os.FileMode{0o1600, os.ModeDir | 0o600, os.ModeSetuid | 0o600} {
		path := filepath.Join(t.TempDir(), "x.db")
		_, err := sqlite.Open(t.Context(), path, &sqlite.Options{FileMode: bad})
		require.ErrorContains(t, err, "Options.FileMode")
		require.NoFileExists(t, path)
	}
}

// TestFileModeKeepsExisting: an existing database keeps the mode it has
// (its owner may have chosen it), and its side files follow it.
func TestFileModeKeepsExisting(t *testing.T) {
	withUmask(0, func() {
		path := filepath.Join(t.TempDir(), "x.db")
		s := openStore(t, path, nil)
		mustCommit(t, s, createBatch("r"))
		require.NoError(t, s.Close())
		require.NoError(t, os.Chmod(path, 0o640))
		s = openStore(t, path, nil)
		mustCommit(t, s, createBatch("q"))
		requireModes(t, path, 0o640)
		require.NoError(t, s.Close())
	})
}
