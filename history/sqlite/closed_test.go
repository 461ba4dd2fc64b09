package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
)

// TestClosedStoreErrorsNameTheRun: a read of a closed store says which run
// it was for, as an open store's errors do; the file's path is not what
// the caller asked about.
func TestClosedStoreErrorsNameTheRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chorus.db")
	s, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = s.Run(ctx, "order-42")
	require.ErrorIs(t, err, history.ErrStoreClosed)
	require.EqualError(t, err, `history/sqlite: read run "order-42": chorus: store closed`)

	_, err = s.Events(ctx, "order-42", 0)
	require.ErrorIs(t, err, history.ErrStoreClosed)
	require.EqualError(t, err, `history/sqlite: read events of run "order-42": chorus: store closed`)

	_, err = s.ListRuns(ctx, history.ListFilter{})
	require.ErrorIs(t, err, history.ErrStoreClosed)
	require.NotContains(t, err.Error(), path)
}
