package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
	"github.com/chorusdev/chorus/history/sqlite"
)

func TestQueueConformance(t *testing.T) {
	historytest.RunQueue(t, func(t *testing.T) history.Store {
		s := openStore(t, filepath.Join(t.TempDir(), "q.db"), nil)
		return s
	})
}

var _ history.QueueStore = (*sqlite.Store)(nil)
