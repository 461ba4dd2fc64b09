//go:build unix

package chorus_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
)

// TestFileModeOption: the journal's files are private by default, and
// Options.FileMode chooses their permission, whatever the umask (which is
// process-wide, so this test is not parallel).
func TestFileModeOption(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, mode := range []os.FileMode{0, 0o640} {
		path := filepath.Join(t.TempDir(), "chorus.db")
		eng := openEngine(t, path, &chorus.Options{FileMode: mode})
		want := mode
		if want == 0 {
			want = 0o600
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.Equal(t, want, fi.Mode().Perm(), "%s", filepath.Base(p))
		}
		closeEngine(t, eng)
	}
	_, err := chorus.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), &chorus.Options{FileMode: os.ModeDir | 0o700})
	require.ErrorContains(t, err, "Options.FileMode")
}
