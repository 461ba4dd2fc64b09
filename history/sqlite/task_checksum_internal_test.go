package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// TestMigrateToTaskChecksums opens a database at schema version 3, whose
// task rows have no checksums, and checks that such a row reads back
// unchecked, that a retry gives it the checksum of its attempt only (so
// it stays readable), and that a task added after the migration has both
// checksums and is reported damaged when its attempt changes behind the
// store's back.
func TestMigrateToTaskChecksums(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v3.db")
	ms, err := migrations()
	require.NoError(t, err)
	require.Greater(t, len(ms), 3, "this test is about migrating from version 3")
	uri, err := fileURI(path)
	require.NoError(t, err)
	o := (*Options)(nil).withDefaults()
	w, err := sql.Open(driverName, uri+"?"+writerParams(o, true))
	require.NoError(t, err)
	configureWriter(w)
	for {
		done, err := migrateOne(ctx, w, path, ms[:3])
		require.NoError(t, err)
		if done {
			break
		}
	}
	t0 := time.Date(2025, time.May, 4, 3, 2, 1, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO runs (id, workflow, status, created_at, updated_at, last_seq) VALUES ('old', 'wf', 1, ?, ?, 2)`, []any{t0.UnixNano(), t0.UnixNano()}},
		{`INSERT INTO events (run_id, seq, type, name, payload, time) VALUES ('old', 1, 1, 'wf', X'22696e22', ?)`, []any{t0.UnixNano()}},
		{`INSERT INTO events (run_id, seq, type, name, payload, time) VALUES ('old', 2, 2, 'act', X'2261', ?)`, []any{t0.UnixNano()}},
		{`INSERT INTO tasks (run_id, step, kind, name, input, attempt) VALUES ('old', 2, 1, 'act', X'2261', 1)`, nil},
	} {
		_, err := w.ExecContext(ctx, q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
	require.NoError(t, w.Close())

	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	sums := func() []any {
		t.Helper()
		var sum, attempt any
		require.NoError(t, s.r.QueryRowContext(ctx, `SELECT sum, attempt_sum FROM tasks WHERE run_id = 'old'`).Scan(&sum, &attempt))
		return []any{sum, attempt}
	}
	require.Equal(t, []any{nil, nil}, sums())

	// The old row reads unchecked, even when changed.
	_, err = s.w.ExecContext(ctx, `UPDATE tasks SET input = X'2262' WHERE run_id = 'old'`)
	require.NoError(t, err)
	ts, err := s.Tasks(ctx)
	require.NoError(t, err)
	require.Len(t, ts, 1)
	require.NoError(t, ts[0].Damaged)
	require.Equal(t, `"b`, string(ts[0].Input))

	// A retry sums the old row's attempt; a new task has both sums.
	errs, err := s.Commit(ctx, []*history.Batch{{
		RunID: "old", Time: t0.Add(time.Second),
		Events:      []history.Event{{Seq: 3, Type: history.EventTimerScheduled, Time: t0.Add(time.Second)}},
		UpdateTasks: []history.Task{{Step: 2, Attempt: 2, NotBefore: t0.Add(time.Minute)}},
		AddTasks:    []history.Task{{Step: 3, Kind: history.TaskTimer, Attempt: 1, NotBefore: t0.Add(time.Hour)}},
	}})
	require.NoError(t, err)
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, []any{nil, attemptSum("old", 2, 2, t0.Add(time.Minute))}, sums())
	var sum, attempt any
	require.NoError(t, s.r.QueryRowContext(ctx, `SELECT sum, attempt_sum FROM tasks WHERE run_id = 'old' AND step = 3`).Scan(&sum, &attempt))
	require.Equal(t, []any{taskSum("old", 3, history.TaskTimer, "", nil, nil), attemptSum("old", 3, 1, t0.Add(time.Hour))}, []any{sum, attempt})
	ts, err = s.Tasks(ctx)
	require.NoError(t, err)
	require.Len(t, ts, 2)
	for _, k := range ts {
		require.NoError(t, k.Damaged, k.Step)
	}
	require.Equal(t, 2, ts[0].Attempt)

	// Changing when the timer fires is damage; the other task reads as usual.
	_, err = s.w.ExecContext(ctx, `UPDATE tasks SET not_before = not_before - 1 WHERE run_id = 'old' AND step = 3`)
	require.NoError(t, err)
	ts, err = s.Tasks(ctx)
	require.NoError(t, err)
	require.Len(t, ts, 2)
	require.NoError(t, ts[0].Damaged)
	require.ErrorIs(t, ts[1].Damaged, history.ErrCorrupt)
	require.ErrorContains(t, ts[1].Damaged, `run "old", task 3: the row's checksum does not match its attempt and not_before`)
}

// TestTaskChecksumEncoding: the two sums of a task row, and tasks that
// differ in one column, sum differently.
func TestTaskChecksumEncoding(t *testing.T) {
	t.Parallel()
	require.NotEqual(t, taskSum("r", 2, history.TaskActivity, "ab", []byte("c"), nil),
		taskSum("r", 2, history.TaskActivity, "a", []byte("bc"), nil))
	require.NotEqual(t, taskSum("r", 2, history.TaskActivity, "a", []byte("x"), nil),
		taskSum("r", 2, history.TaskActivity, "a", nil, []byte("x")), "input is not options")
	require.NotEqual(t, taskSum("r", 2, history.TaskActivity, "a", nil, nil), taskSum("r", -2, history.TaskActivity, "a", nil, nil))
	require.NotEqual(t, attemptSum("r", 2, 1, time.Time{}), attemptSum("r", 2, 1, time.Unix(0, 0)),
		"the zero time (NULL) is not the Unix epoch (0)")
	require.NotEqual(t, attemptSum("r", 2, 1, time.Time{}), attemptSum("r", 2, 2, time.Time{}))
	v := taskSum("r", 2, history.TaskTimer, "", nil, nil)
	require.Equal(t, v, int64(int32(v)), "a sum fits 32 bits")
}

// BenchmarkTaskSum measures the two checksums of an activity task with a
// 50-byte input, which Commit computes for each task it adds (a retry
// computes the attempt's only) and Tasks for each it reads.
func BenchmarkTaskSum(b *testing.B) {
	input := []byte(`{"order":"A-1234","amount":1999,"currency":"EUR"}`)
	options := []byte(`{"start_to_close_timeout":"1m0s"}`)
	nb := time.Unix(0, 1748779200000000042)
	b.ReportAllocs()
	for b.Loop() {
		_ = taskSum("run-0001", 42, history.TaskActivity, "charge", input, options)
		_ = attemptSum("run-0001", 42, 1, nb)
	}
}
