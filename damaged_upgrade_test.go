package chorus_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
)

// TestCheckUpgradeReportsDamagedRun: CheckUpgrade does not replay a run
// whose row is damaged (a first_seq out of range; a workflow name that no
// longer matches the row's checksum), since where its replay starts cannot
// be trusted, but reports it as a divergence with the row's corruption as
// the error. Options.CheckUpgrade still opens the file, leaves those rows
// as they are, and lets the other runs go on.
func TestCheckUpgradeReportsDamagedRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "chorus.db")
	wf, goSig, defs := damagedDefs()
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: defs})
	require.NoError(t, err)
	for _, id := range []string{"a", "b", "c", "d"} {
		_, err := chorus.Start(ctx, eng, wf, "order-"+id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	require.NoError(t, eng.Close(ctx))

	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE runs SET first_seq = 7 WHERE id = 'b'`)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE runs SET workflow = 'damaged-wg' WHERE id = 'd'`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	requireDamaged := func(divs []chorus.Divergence) {
		t.Helper()
		require.Len(t, divs, 2, "%v", divs)
		for i, want := range []struct{ id, msg string }{
			{"b", `run "b": column first_seq holds int64 7`},
			{"d", `run "d": the row's checksum does not match its workflow`},
		} {
			d := divs[i]
			require.Equal(t, want.id, d.RunID)
			require.ErrorIs(t, d.Err, history.ErrCorrupt, want.id)
			require.ErrorContains(t, d.Err, want.msg)
			var nde *chorus.NonDeterminismError
			require.False(t, errors.As(d.Err, &nde), "damage is not a divergence of the code: %v", d.Err)
		}
	}
	eng, err = chorus.Open(ctx, path, &chorus.Options{Definitions: defs})
	require.NoError(t, err)
	divs, err := eng.CheckUpgrade(ctx)
	require.NoError(t, err)
	requireDamaged(divs)
	require.NoError(t, eng.Close(ctx))

	eng = openEngine(t, path, &chorus.Options{Definitions: defs, CheckUpgrade: true})
	divs, err = eng.CheckUpgrade(ctx)
	require.NoError(t, err)
	requireDamaged(divs)
	for _, id := range []string{"b", "d"} {
		_, err := eng.Describe(ctx, id)
		require.ErrorIs(t, err, history.ErrCorrupt, "the damaged row of %s is reported, not rewritten", id)
	}
	for _, id := range []string{"a", "c"} {
		require.NoError(t, chorus.Signal(ctx, eng, id, goSig, 1))
		h, err := chorus.Lookup(ctx, eng, wf, id)
		require.NoError(t, err)
		out, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, "order-"+id+"|ok", out)
	}
}
