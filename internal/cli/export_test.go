package cli_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
)

// history --export writes the same chorus-history document as
// chorus.History, for every run of the fixture, and it decodes.
func TestHistoryExportMatchesEngine(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, id := range []string{"order-1", "trip-1", "broken-1", "upgrade-1", "parent-1", "parent-1-child", "approval-1"} {
		x, err := chorus.History(ctx, f.eng, id)
		require.NoError(t, err, id)
		var want bytes.Buffer
		require.NoError(t, x.Encode(&want))
		code, got := f.run("history", f.path, id, "--export")
		require.Equal(t, 0, code, got)
		require.Equal(t, want.String(), got, id)
		_, err = history.DecodeExport(bytes.NewReader([]byte(got)))
		require.NoError(t, err, id)
	}
}
