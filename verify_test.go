package chorus_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// TestEngineVerify: a journal written by the engine verifies; an event
// edited behind its back is named with its run and seq; purging runs keeps
// the file verifying.
func TestEngineVerify(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	greet := workflow.New("greet", func(ctx workflow.Context, name string) (string, error) {
		return "hello " + name, nil
	})
	eng, path := setup(t, nil, greet)
	for _, id := range []string{"r1", "r2", "r3"} {
		run, err := chorus.Start(ctx, eng, greet, id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		_, err = run.Result(ctx)
		require.NoError(t, err)
	}
	rep, err := eng.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 3, rep.Runs)

	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `UPDATE events SET payload = CAST('"mallory"' AS BLOB) WHERE run_id = 'r2' AND seq = 1`)
	require.NoError(t, err)

	rep, err = eng.Verify(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Damage, 1)
	require.Equal(t, history.ChainDamage{RunID: "r2", Seq: 1, Kind: history.DamageEdited, Detail: rep.Damage[0].Detail}, rep.Damage[0])
}
