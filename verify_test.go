package chorus_test

import (
	"bytes"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
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

// TestEngineVerifyAfterResetReuseAndPurge: the chain of a run stays whole
// when it is reset (a new generation after the old one, which stays in the
// journal), when a new run takes its ended ID, and when retention purges it
// and a run starts under its ID again; an audit export of it verifies too.
func TestEngineVerifyAfterResetReuseAndPurge(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f, eng, run := failedFixtureRun(t, ctx, "vr", "vr-1")
	clean := func(what string) chorus.VerifyReport {
		t.Helper()
		rep, err := eng.Verify(ctx)
		require.NoError(t, err)
		require.True(t, rep.OK(), "%s: %v", what, rep.Damage)
		return rep
	}
	clean("failed run")

	f.fixed.Store(true)
	_, err := eng.Reset(ctx, "vr-1", chorus.ResetOptions{ToFirstFailure: true})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	x, err := chorus.History(ctx, eng, "vr-1")
	require.NoError(t, err)
	require.Greater(t, x.Run.FirstSeq, int64(1), "the reset started a new generation")
	clean("after reset")
	var doc bytes.Buffer
	_, err = eng.ExportAudit(ctx, &doc, chorus.AuditOptions{Runs: []string{"vr-1"}})
	require.NoError(t, err)
	arep, err := history.VerifyAudit(&doc, nil)
	require.NoError(t, err)
	require.True(t, arep.OK(), "%v", arep.Damage)
	require.Equal(t, int64(len(x.Events)), arep.Events)

	again, err := chorus.Start(ctx, eng, f.wf, "y", &chorus.StartOptions{ID: "vr-1", IDReusePolicy: chorus.IDReuseAllowDuplicate})
	require.NoError(t, err)
	_, err = again.Result(ctx)
	require.NoError(t, err)
	rep := clean("after ID reuse")
	require.Equal(t, 1, rep.Runs)

	n, err := eng.Purge(ctx, chorus.PurgeOptions{FinishedBefore: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	rep = clean("after purge")
	require.Equal(t, 1, rep.Purged)

	third, err := chorus.Start(ctx, eng, f.wf, "z", &chorus.StartOptions{ID: "vr-1"})
	require.NoError(t, err)
	_, err = third.Result(ctx)
	require.NoError(t, err)
	rep = clean("a new run under a purged ID")
	require.Equal(t, 1, rep.Runs)
	require.Equal(t, 1, rep.Purged)
}

// chainless hides the chain of a store, as a store that keeps none (the
// PostgreSQL one) is: only the methods of history.Store are reachable.
type chainless struct{ history.Store }

// TestEngineVerifyUnsupported: on a store that keeps no hash chain, Verify
// and ExportAudit say so with ErrVerifyUnsupported, naming the store.
func TestEngineVerifyUnsupported(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chorus.db"), nil)
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, chainless{st}, nil)
	require.NoError(t, err)
	defer closeEngine(t, eng) // closes st

	_, err = eng.Verify(ctx)
	require.ErrorIs(t, err, chorus.ErrVerifyUnsupported)
	require.ErrorIs(t, err, history.ErrNoChain)
	require.Contains(t, err.Error(), "chainless")
	_, err = eng.ExportAudit(ctx, &bytes.Buffer{}, chorus.AuditOptions{Runs: []string{"r"}})
	require.ErrorIs(t, err, chorus.ErrVerifyUnsupported)
	_, err = history.ExportAudit(ctx, chainless{st}, &bytes.Buffer{}, history.AuditOptions{Runs: []string{"r"}})
	require.ErrorIs(t, err, history.ErrNoChain)
}
