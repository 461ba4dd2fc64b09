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

// TestMigrateToChecksums opens a database at schema version 2, whose rows
// have no checksums, and checks that they read back unchecked (a changed
// byte in them goes unnoticed, as before), that the rows written after
// the migration have checksums, and that a status change gives an old run
// row its outcome checksum.
func TestMigrateToChecksums(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v2.db")
	ms, err := migrations()
	require.NoError(t, err)
	require.Greater(t, len(ms), 2, "this test is about migrating from version 2")
	uri, err := fileURI(path)
	require.NoError(t, err)
	o := (*Options)(nil).withDefaults()
	w, err := sql.Open(driverName, uri+"?"+writerParams(o, true))
	require.NoError(t, err)
	configureWriter(w)
	for {
		done, err := migrateOne(ctx, w, path, ms[:2])
		require.NoError(t, err)
		if done {
			break
		}
	}
	t0 := time.Date(2025, time.May, 4, 3, 2, 1, 0, time.UTC).UnixNano()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO runs (id, workflow, status, created_at, updated_at, last_seq, result) VALUES ('old', 'wf', 2, ?, ?, 2, X'3432')`, []any{t0, t0}},
		{`INSERT INTO events (run_id, seq, type, name, payload, time) VALUES ('old', 1, 1, 'wf', X'22696e22', ?)`, []any{t0}},
		{`INSERT INTO events (run_id, seq, type, payload, time) VALUES ('old', 2, 5, X'3432', ?)`, []any{t0}},
	} {
		_, err := w.ExecContext(ctx, q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
	require.NoError(t, w.Close())

	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	sums := func(q string, args ...any) []any {
		t.Helper()
		rows, err := s.r.QueryContext(ctx, q, args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []any
		for rows.Next() {
			var v any
			require.NoError(t, rows.Scan(&v))
			out = append(out, v)
		}
		require.NoError(t, rows.Err())
		return out
	}
	require.Equal(t, []any{nil, nil}, sums(`SELECT sum FROM events WHERE run_id = 'old' ORDER BY seq`))

	// Old rows read unchecked, even when changed.
	_, err = s.w.ExecContext(ctx, `UPDATE events SET payload = X'226f7574' WHERE run_id = 'old' AND seq = 1`)
	require.NoError(t, err)
	evs, err := s.Events(ctx, "old", 0)
	require.NoError(t, err)
	require.Equal(t, `"out`, string(evs[0].Payload))
	r, err := s.Run(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, []byte("42"), r.Result)

	// New rows have checksums, and an old run row gains its outcome one.
	errs, err := s.Commit(ctx, []*history.Batch{{
		RunID: "new", Time: time.Unix(0, t0),
		Create: &history.RunInfo{Workflow: "wf"},
		Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: time.Unix(0, t0)}},
	}, {
		RunID: "old", Time: time.Unix(0, t0+1),
		Status: &history.StatusUpdate{Status: history.StatusBlocked, Failure: []byte(`{"message":"m"}`)},
	}})
	require.NoError(t, err)
	require.NoError(t, errors.Join(errs...))
	e := history.Event{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: time.Unix(0, t0)}
	require.Equal(t, []any{eventSum("new", &e)}, sums(`SELECT sum FROM events WHERE run_id = 'new'`))
	require.Equal(t, []any{nil}, sums(`SELECT sum FROM runs WHERE id = 'old'`))
	require.Equal(t, []any{outcomeSum("old", history.StatusBlocked, nil, []byte(`{"message":"m"}`))},
		sums(`SELECT outcome_sum FROM runs WHERE id = 'old'`))
	_, err = s.w.ExecContext(ctx, `UPDATE runs SET failure = X'7b7d' WHERE id = 'old'`)
	require.NoError(t, err)
	_, err = s.Run(ctx, "old")
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `run "old": the row's checksum does not match its status, result and failure`)
}

// TestChecksumEncoding: values that differ only in how they would be
// split between columns, or in NULL against empty where the store keeps
// them apart, sum differently; what the store cannot tell apart sums the
// same.
func TestChecksumEncoding(t *testing.T) {
	t.Parallel()
	ev := func(name string, payload []byte) int64 {
		return eventSum("r", &history.Event{Seq: 1, Type: history.EventSideEffect, Name: name, Payload: payload})
	}
	require.NotEqual(t, ev("ab", []byte("c")), ev("a", []byte("bc")))
	require.Equal(t, ev("a", nil), ev("a", []byte{}), "an empty payload is stored as NULL")
	require.NotEqual(t, eventSum("r", &history.Event{Seq: 1}), eventSum("r", &history.Event{Seq: 1, Time: time.Unix(0, 0)}),
		"the zero time (NULL) is not the Unix epoch (0)")
	require.NotEqual(t, runSum("r", "wf", time.Time{}, "", 0), runSum("r", "wf", time.Time{}, "p", 0))
	require.NotEqual(t, outcomeSum("r", history.StatusCompleted, []byte("x"), nil), outcomeSum("r", history.StatusCompleted, nil, []byte("x")))
	v := ev("a", []byte("b"))
	require.Equal(t, v, int64(int32(v)), "a sum fits 32 bits")
}

// BenchmarkEventSum measures the checksum of one journal event with a
// 50-byte payload, which Commit computes for each event it writes and
// Events for each it reads.
func BenchmarkEventSum(b *testing.B) {
	e := history.Event{Seq: 42, Type: history.EventActivityCompleted, Name: "charge", Ref: 41,
		Payload: []byte(`{"order":"A-1234","amount":1999,"currency":"EUR"}`), Time: time.Unix(0, 1748779200000000042)}
	b.ReportAllocs()
	for b.Loop() {
		_ = eventSum("run-0001", &e)
	}
}
