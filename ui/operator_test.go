package ui_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
)

// assertOperatorAction checks that run id's journal records action by who.
func assertOperatorAction(t *testing.T, f *fixture, id, action, who string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenReadOnly(ctx, f.path, nil)
	require.NoError(t, err)
	defer st.Close()
	evs, err := st.Events(ctx, id, 0)
	require.NoError(t, err)
	for _, e := range evs {
		if e.Type != history.EventOperatorAction {
			continue
		}
		a, err := history.DecodeOperatorAction(e.Payload)
		require.NoError(t, err)
		if a.Action == action {
			require.Equal(t, who, a.Identity)
			return
		}
	}
	t.Fatalf("run %s's journal has no %s operator action: %v", id, action, evs)
}
