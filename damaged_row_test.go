package chorus_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// damagedDefs is a workflow that waits for a signal, then runs an activity
// on its input.
func damagedDefs() (*workflow.Definition[string, string], *workflow.Signal[int], []chorus.Definition) {
	goSig := workflow.NewSignal[int]("go")
	a := activity.New("damaged-a", func(ctx context.Context, s string) (string, error) { return s + "|ok", nil })
	wf := workflow.New("damaged-wf", func(ctx workflow.Context, s string) (string, error) {
		workflow.GetSignalChannel(ctx, goSig).Receive(ctx)
		return workflow.ExecuteActivity(ctx, a, s).Get(ctx)
	})
	return wf, goSig, []chorus.Definition{wf, a}
}

// flipByte changes, with SQL, the byte at index i (from the end when
// negative) of the BLOB that query selects, as a failing disk or a hand edit
// would, and returns the damaged BLOB.
func flipByte(t *testing.T, path, query, update string, i int, args ...any) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	var b []byte
	require.NoError(t, db.QueryRow(query, args...).Scan(&b))
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0x01
	_, err = db.Exec(update, append([]any{b}, args...)...)
	require.NoError(t, err)
	return b
}

// TestDamagedRowStaysLocal: one byte changed in a run's journal, and one
// in another run's result, are reported as corruption of those runs, never
// read as their data; List still lists every run, the engine blocks the run
// whose journal is damaged with the reason, and the other runs go on.
func TestDamagedRowStaysLocal(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "chorus.db")
	wf, goSig, defs := damagedDefs()
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: defs})
	require.NoError(t, err)
	for _, id := range []string{"a", "b", "c", "done"} {
		_, err := chorus.Start(ctx, eng, wf, "order-"+id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	require.NoError(t, chorus.Signal(ctx, eng, "done", goSig, 1))
	done, err := chorus.Lookup(ctx, eng, wf, "done")
	require.NoError(t, err)
	out, err := done.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "order-done|ok", out)
	require.NoError(t, eng.Close(ctx))

	// Run b's input "order-b" becomes "order-c": valid JSON, wrong data.
	got := flipByte(t, path, "SELECT payload FROM events WHERE run_id = ? AND seq = 1",
		"UPDATE events SET payload = ? WHERE run_id = ? AND seq = 1", -2, "b")
	require.Equal(t, `"order-c"`, string(got))
	// Run done's result "order-done|ok" becomes "order-done|oj".
	got = flipByte(t, path, "SELECT result FROM runs WHERE id = ?", "UPDATE runs SET result = ? WHERE id = ?", -2, "done")
	require.Equal(t, `"order-done|oj"`, string(got))

	eng = openEngine(t, path, &chorus.Options{Definitions: defs})
	runs, err := eng.List(ctx, nil)
	require.NoError(t, err, "one damaged row does not fail List")
	require.Len(t, runs, 4)
	for _, r := range runs {
		if r.ID == "done" {
			require.ErrorIs(t, r.Err, history.ErrCorrupt, "the damaged run is listed with the reason")
			continue
		}
		require.NoError(t, r.Err, r.ID)
		require.Equal(t, chorus.StatusRunning, r.Status, r.ID)
	}

	_, err = chorus.History(ctx, eng, "b")
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `run "b", event 1`)
	done, err = chorus.Lookup(ctx, eng, wf, "done")
	if err == nil {
		_, err = done.Result(ctx)
	}
	require.ErrorIs(t, err, history.ErrCorrupt, "never the damaged result")
	_, err = eng.Describe(ctx, "done")
	require.ErrorIs(t, err, history.ErrCorrupt)

	// The engine blocks b with the reason when it next has work for it.
	err = chorus.Signal(ctx, eng, "b", goSig, 1)
	require.Error(t, err, "a run whose journal is damaged takes no signal")
	info, err := eng.Describe(ctx, "b")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusBlocked, info.Status)
	var be *chorus.BlockedError
	require.True(t, errors.As(info.Err, &be), "%v", info.Err)
	require.Contains(t, be.Reason, `run "b", event 1`)
	require.Contains(t, be.Reason, "checksum")
	require.ErrorIs(t, info.Err, history.ErrCorrupt)
	hb, err := chorus.Lookup(ctx, eng, wf, "b")
	require.NoError(t, err)
	_, err = hb.Result(ctx)
	require.True(t, errors.As(err, &be), "%v", err)
	require.ErrorIs(t, err, history.ErrCorrupt, "Result of the blocked run gives the corruption as its cause")

	// The other runs go on.
	for _, id := range []string{"a", "c"} {
		require.NoError(t, chorus.Signal(ctx, eng, id, goSig, 1))
		h, err := chorus.Lookup(ctx, eng, wf, id)
		require.NoError(t, err)
		out, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, "order-"+id+"|ok", out)
	}
}

// TestDamagedEventIsCorruptionNotDivergence: a changed byte in an
// activity's recorded result, or in the name of a scheduled activity, is
// reported as corruption of the journal, not as the result failing to
// decode or as the code diverging from the journal.
func TestDamagedEventIsCorruptionNotDivergence(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "chorus.db")
	goSig := workflow.NewSignal[int]("go")
	a := activity.New("damaged-first", func(ctx context.Context, s string) (string, error) { return s + "|ok", nil })
	wf := workflow.New("damaged-first-wf", func(ctx workflow.Context, s string) (string, error) {
		out, err := workflow.ExecuteActivity(ctx, a, s).Get(ctx)
		workflow.GetSignalChannel(ctx, goSig).Receive(ctx)
		return out, err
	})
	defs := []chorus.Definition{wf, a}
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: defs})
	require.NoError(t, err)
	for _, id := range []string{"result", "name", "ok"} {
		_, err := chorus.Start(ctx, eng, wf, id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	for _, id := range []string{"result", "name", "ok"} {
		// Wait until each run has its activity's result.
		for {
			x, err := chorus.History(ctx, eng, id)
			require.NoError(t, err)
			if len(x.Events) >= 3 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("the activity does not complete")
			case <-time.After(time.Millisecond):
			}
		}
	}
	require.NoError(t, eng.Close(ctx))

	// The result "result|ok" loses its opening quote: no longer JSON.
	got := flipByte(t, path, "SELECT payload FROM events WHERE run_id = ? AND seq = 3",
		"UPDATE events SET payload = ? WHERE run_id = ? AND seq = 3", 0, "result")
	require.Equal(t, `#result|ok"`, string(got))
	// The scheduled activity "damaged-first" becomes "damaged-firss".
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE events SET name = 'damaged-firss' WHERE run_id = 'name' AND seq = 2`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	eng = openEngine(t, path, &chorus.Options{Definitions: defs})
	for _, c := range []struct{ id, seq string }{{"result", "3"}, {"name", "2"}} {
		require.Error(t, chorus.Signal(ctx, eng, c.id, goSig, 1), c.id)
		info, err := eng.Describe(ctx, c.id)
		require.NoError(t, err)
		require.Equal(t, chorus.StatusBlocked, info.Status, c.id)
		var be *chorus.BlockedError
		require.True(t, errors.As(info.Err, &be), "%s: %v", c.id, info.Err)
		require.Contains(t, be.Reason, `run "`+c.id+`", event `+c.seq+`: the row's checksum does not match`, c.id)
		require.ErrorIs(t, info.Err, history.ErrCorrupt, c.id)
		var nde *chorus.NonDeterminismError
		require.False(t, errors.As(info.Err, &nde), c.id)
	}
	require.NoError(t, chorus.Signal(ctx, eng, "ok", goSig, 1))
	h, err := chorus.Lookup(ctx, eng, wf, "ok")
	require.NoError(t, err)
	out, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "ok|ok", out)
}
