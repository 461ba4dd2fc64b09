package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
)

func TestReuseConformance(t *testing.T) {
	historytest.RunReuse(t, func(t *testing.T) history.Store {
		return openStore(t, filepath.Join(t.TempDir(), "r.db"), nil)
	})
}
