package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
	"github.com/chorusdev/chorus/history/sqlite"
)

// TestOwnershipConformance runs the single-owner cases the PostgreSQL
// store's lease also passes; the flock cannot lapse while its process
// lives, so the takeover case does not apply.
func TestOwnershipConformance(t *testing.T) {
	historytest.RunOwnership(t, func(t *testing.T) historytest.Ownership {
		path := filepath.Join(t.TempDir(), "c.db")
		return historytest.Ownership{Open: func(ctx context.Context) (history.Store, error) {
			s, err := sqlite.Open(ctx, path, nil)
			if err != nil {
				return nil, err
			}
			return s, nil
		}}
	})
}
