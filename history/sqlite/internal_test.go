package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

func TestPragmas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		sync Synchronous
		want string // journal_mode
		num  int    // synchronous
	}{
		{"file", SynchronousFull, "wal", 2},
		{"file", SynchronousNormal, "wal", 1},
		{memoryPath, SynchronousFull, "memory", -1},
	} {
		path := tc.path
		if path == "file" {
			path = filepath.Join(t.TempDir(), "x.db")
		}
		s, err := Open(t.Context(), path, &Options{Synchronous: tc.sync, BusyTimeout: 1234500000})
		require.NoError(t, err)
		ctx := t.Context()
		pragma := func(db interface {
			QueryRowContext(context.Context, string, ...any) *sql.Row
		}, name string) string {
			var v string
			require.NoError(t, db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v), name)
			return v
		}
		require.Equal(t, tc.want, pragma(s.w, "journal_mode"))
		if tc.num >= 0 {
			require.Equal(t, string(rune('0'+tc.num)), pragma(s.w, "synchronous"))
		}
		require.Equal(t, "0", pragma(s.w, "foreign_keys"))
		require.Equal(t, "1235", pragma(s.w, "busy_timeout"))
		require.Equal(t, "1128812370", pragma(s.w, "application_id"))
		require.Equal(t, strconv.Itoa(SchemaVersion()), pragma(s.w, "user_version"))
		if s.r != s.w {
			require.Equal(t, "1", pragma(s.r, "query_only"))
			require.Equal(t, "1235", pragma(s.r, "busy_timeout"))
		}
		require.NoError(t, s.Close())
	}
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	ms, err := loadMigrations(fstest.MapFS{
		"migrations/0002_b.sql":  file("B"),
		"migrations/0001_a.sql":  file("A"),
		"migrations/10_j.sql":    file("J"),
		"migrations/0003_c.sql":  file("C"),
		"migrations/004_d.sql":   file("D"),
		"migrations/05_e.sql":    file("E"),
		"migrations/6_f.sql":     file("F"),
		"migrations/0007_g.sql":  file("G"),
		"migrations/0008_h.sql":  file("H"),
		"migrations/00009_i.sql": file("I"),
	})
	require.NoError(t, err)
	var got string
	for i, m := range ms {
		require.Equal(t, i+1, m.version)
		got += m.sql
	}
	require.Equal(t, "ABCDEFGHIJ", got)

	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"migrations/0001_a.sql": file(""), "migrations/0003_c.sql": file("")},
		"twice":    {"migrations/0001_a.sql": file(""), "migrations/01_b.sql": file("")},
		"no start": {"migrations/0002_a.sql": file("")},
		"bad name": {"migrations/init.sql": file("")},
		"zero":     {"migrations/0000_a.sql": file("")},
		"none":     {},
	} {
		_, err := loadMigrations(fsys)
		require.Error(t, err, name)
	}

	ms, err = migrations()
	require.NoError(t, err)
	require.Equal(t, len(ms), SchemaVersion())
}

func TestFileURI(t *testing.T) {
	t.Parallel()
	u, err := fileURI("/tmp/a b/c?d#e%f.db")
	require.NoError(t, err)
	require.Equal(t, "file:///tmp/a%20b/c%3Fd%23e%25f.db", u)
}

// makeV1Database creates a database at path at schema version 1, as the
// code of that version left it, holding run "old" (workflow "order", two
// events) with a pending activity task at step 2, and run "done" (completed,
// one event), written with the statements of that version.
func makeV1Database(t *testing.T, path string) {
	t.Helper()
	ctx := t.Context()
	ms, err := migrations()
	require.NoError(t, err)
	require.Greater(t, len(ms), 1, "this test is about migrating from version 1")
	uri, err := fileURI(path)
	require.NoError(t, err)
	o := (*Options)(nil).withDefaults()
	w, err := sql.Open(driverName, uri+"?"+writerParams(o, true))
	require.NoError(t, err)
	configureWriter(w)
	defer func() { require.NoError(t, w.Close()) }()
	for {
		done, err := migrateOne(ctx, w, path, ms[:1])
		require.NoError(t, err)
		if done {
			break
		}
	}
	var v int
	require.NoError(t, w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v))
	require.Equal(t, 1, v)

	t0 := time.Date(2025, time.May, 4, 3, 2, 1, 0, time.UTC).UnixNano()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO runs (id, workflow, status, created_at, updated_at, last_seq, result, failure) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"old", "order", 1, t0, t0 + 1, 2, nil, nil}},
		{`INSERT INTO runs (id, workflow, status, created_at, updated_at, last_seq, result, failure) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"done", "order", 2, t0, t0, 1, []byte("42"), nil}},
		{`INSERT INTO events (run_id, seq, type, name, ref, payload, time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			[]any{"old", 1, 1, "order", 0, []byte(`"in"`), t0}},
		{`INSERT INTO events (run_id, seq, type, name, ref, payload, time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			[]any{"old", 2, 2, "charge", 0, []byte(`5`), t0 + 1}},
		{`INSERT INTO events (run_id, seq, type, name, ref, payload, time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			[]any{"done", 1, 1, "order", 0, nil, t0}},
		{`INSERT INTO tasks (run_id, step, activity, input, options, attempt, not_before) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			[]any{"old", 2, "charge", []byte(`5`), []byte(`{}`), 3, t0 + 99}},
	} {
		_, err := w.ExecContext(ctx, q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
}

// TestMigrateFromV1 opens a database made at schema version 1 and checks
// that it migrates to the current version and reads back whole, with the
// defaults of the new columns, and takes the new kinds of batch.
func TestMigrateFromV1(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "v1.db")
	makeV1Database(t, path)

	s, err := Open(t.Context(), path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	ctx := t.Context()
	var v int
	require.NoError(t, s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v))
	require.Equal(t, SchemaVersion(), v)
	require.NoError(t, s.IntegrityCheck(ctx))

	t0 := time.Date(2025, time.May, 4, 3, 2, 1, 0, time.UTC)
	r, err := s.Run(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, history.RunInfo{
		ID: "old", Workflow: "order", Status: history.StatusRunning,
		CreatedAt: t0, UpdatedAt: t0.Add(1), LastSeq: 2, FirstSeq: 1,
	}, r)
	runs, err := s.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.Equal(t, "done", runs[0].ID)
	require.Equal(t, history.StatusCompleted, runs[0].Status)
	require.Equal(t, int64(1), runs[0].FirstSeq)
	require.Equal(t, []byte("42"), runs[0].Result)
	require.Empty(t, runs[0].Parent)
	require.Zero(t, runs[0].ParentStep)
	require.Equal(t, r, runs[1])

	evs, err := s.Events(ctx, "old", 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, "charge", evs[1].Name)

	tasks, err := s.Tasks(ctx)
	require.NoError(t, err)
	require.Equal(t, []history.Task{{
		RunID: "old", Step: 2, Kind: history.TaskActivity, Name: "charge",
		Input: []byte(`5`), Options: []byte(`{}`), Attempt: 3, NotBefore: t0.Add(99),
		Workflow: "order", ScheduledAt: t0.Add(1),
	}}, tasks)

	// The migrated database takes batches that use the new columns.
	t1 := t0.Add(time.Second)
	errs, err := s.Commit(ctx, []*history.Batch{{
		RunID: "old", Time: t1,
		Events: []history.Event{
			{Seq: 3, Type: history.EventRunContinuedAsNew, Payload: []byte(`"again"`), Time: t1},
			{Seq: 4, Type: history.EventRunStarted, Name: "order", Payload: []byte(`"again"`), Time: t1},
			{Seq: 5, Type: history.EventTimerScheduled, Time: t1},
		},
		Status:    &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: 4},
		DropTasks: true,
		AddTasks:  []history.Task{{Step: 5, Kind: history.TaskTimer, Attempt: 1, NotBefore: t1.Add(time.Hour)}},
	}, {
		RunID: "child", Time: t1,
		Create: &history.RunInfo{Workflow: "sub", Parent: "old", ParentStep: 2},
		Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "sub", Time: t1}},
	}})
	require.NoError(t, err)
	require.NoError(t, errors.Join(errs...))
	r, err = s.Run(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, int64(4), r.FirstSeq)
	c, err := s.Run(ctx, "child")
	require.NoError(t, err)
	require.Equal(t, "old", c.Parent)
	require.Equal(t, int64(2), c.ParentStep)
	tasks, err = s.Tasks(ctx)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	require.Equal(t, history.TaskTimer, tasks[0].Kind)
	require.Empty(t, tasks[0].Name)
}
