package chorus_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// TestDamagedTaskRowStaysLocal: a pending task whose row was changed on
// disk (a kind that does not decode; an activity input whose bytes no
// longer match the row's checksum) does not make Open fail for the whole
// file, and is never run as if it were data. Open blocks the runs of the
// damaged rows with the corruption as the reason, durably (a signal does
// not resume them, nor does the next Open), the other runs complete (and
// an ended run keeps its outcome despite a damaged task), and terminating a
// damaged run is the way out.
func TestDamagedTaskRowStaysLocal(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "chorus.db")
	poke := workflow.NewSignal[int]("poke")
	var (
		mu   sync.Mutex
		seen []string
	)
	a := activity.New("dtask-a", func(ctx context.Context, s string) (string, error) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
		return s + "|ok", nil
	})
	wf := workflow.New("dtask-wf", func(ctx workflow.Context, s string) (string, error) {
		return workflow.ExecuteActivity(ctx, a, s).Get(ctx)
	})

	// Without its activity registered, each run's task stays pending.
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: []chorus.Definition{wf}})
	require.NoError(t, err)
	ids := []string{"ok1", "kind", "input", "ok2"}
	for _, id := range ids {
		_, err := chorus.Start(ctx, eng, wf, "order-"+id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	require.NoError(t, eng.Close(ctx))

	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM tasks`).Scan(&n))
	require.Equal(t, len(ids), n, "one pending task per run")
	_, err = db.Exec(`UPDATE tasks SET kind = 99 WHERE run_id = 'kind'`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	// Run input's activity input "order-input" becomes "order-inpuu":
	// valid, wrong data.
	got := flipByte(t, path, "SELECT input FROM tasks WHERE run_id = ?", "UPDATE tasks SET input = ? WHERE run_id = ?", -2, "input")
	require.Equal(t, `"order-inpuu"`, string(got))

	defs := &chorus.Options{Definitions: []chorus.Definition{wf, a}}
	eng, err = chorus.Open(ctx, path, defs)
	require.NoError(t, err, "one damaged task row does not make Open fail")

	for _, id := range []string{"ok1", "ok2"} {
		h, err := chorus.Lookup(ctx, eng, wf, id)
		require.NoError(t, err)
		out, err := h.Result(ctx)
		require.NoError(t, err, id)
		require.Equal(t, "order-"+id+"|ok", out)
	}
	requireBlockedCorrupt := func(eng *chorus.Engine, id, reason string) {
		t.Helper()
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, chorus.StatusBlocked, info.Status, id)
		var be *chorus.BlockedError
		require.True(t, errors.As(info.Err, &be), "%s: %v", id, info.Err)
		require.ErrorIs(t, info.Err, history.ErrCorrupt, id)
		require.Contains(t, be.Reason, reason, id)
		h, err := chorus.Lookup(ctx, eng, wf, id)
		require.NoError(t, err, id)
		_, err = h.Result(ctx)
		require.True(t, errors.As(err, &be), "%s: %v", id, err)
		require.ErrorIs(t, err, history.ErrCorrupt, id)
	}
	damaged := map[string]string{
		"kind":  `run "kind", task 2: column kind holds int64 99`,
		"input": `run "input", task 2: the row's checksum does not match`,
	}
	for id, reason := range damaged {
		requireBlockedCorrupt(eng, id, reason)
		err := chorus.Signal(ctx, eng, id, poke, 1)
		var be *chorus.BlockedError
		require.True(t, errors.As(err, &be), "a signal does not resume %s: %v", id, err)
		requireBlockedCorrupt(eng, id, reason)
	}
	require.NoError(t, eng.Close(ctx))
	// A damaged task left to a run that has ended does not change how it
	// ended.
	db, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO tasks (run_id, step, kind, name, attempt) VALUES ('ok1', 9, 99, '', 1)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	// The next Open finds them blocked still, and terminating one clears
	// its damaged task.
	eng = openEngine(t, path, defs)
	for id, reason := range damaged {
		requireBlockedCorrupt(eng, id, reason)
	}
	h, err := chorus.Lookup(ctx, eng, wf, "ok1")
	require.NoError(t, err)
	out, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "order-ok1|ok", out)
	require.NoError(t, eng.Terminate(ctx, "input", "damaged task"))
	info, err := eng.Describe(ctx, "input")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusTerminated, info.Status)

	mu.Lock()
	defer mu.Unlock()
	require.ElementsMatch(t, []string{"order-ok1", "order-ok2"}, seen, "no damaged task ran")
}
