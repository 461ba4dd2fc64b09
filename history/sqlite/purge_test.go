package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
)

func TestPurgeConformance(t *testing.T) {
	t.Parallel()
	t.Run("File", func(t *testing.T) {
		t.Parallel()
		historytest.RunPurge(t, func(t *testing.T) history.Store {
			return openStore(t, filepath.Join(t.TempDir(), "chorus.db"), nil)
		})
	})
	t.Run("Memory", func(t *testing.T) {
		t.Parallel()
		historytest.RunPurge(t, func(t *testing.T) history.Store {
			return openStore(t, ":memory:", nil)
		})
	})
}
