package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

var chainT0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// chainRun commits a run of n events in batches of two, ended.
func chainRun(t *testing.T, s *Store, id string, n int64) {
	t.Helper()
	ctx := context.Background()
	for seq := int64(1); seq <= n; seq += 2 {
		b := &history.Batch{RunID: id, Time: chainT0}
		if seq == 1 {
			b.Create = &history.RunInfo{Workflow: "wf"}
			b.Events = append(b.Events, history.Event{Seq: 1, Type: history.EventRunStarted, Name: "wf", Payload: []byte(`"in"`), Time: chainT0})
		} else {
			b.Events = append(b.Events, history.Event{Seq: seq, Type: history.EventActivityScheduled, Name: "act",
				Payload: []byte(fmt.Sprintf(`{"n":%d}`, seq)), Time: chainT0.Add(time.Duration(seq))})
		}
		if seq+1 <= n {
			typ, ref := history.EventActivityCompleted, seq
			if seq == 1 {
				ref = 0
				typ = history.EventTimerScheduled
			}
			b.Events = append(b.Events, history.Event{Seq: seq + 1, Type: typ, Ref: ref, Payload: []byte(`"ok"`), Time: chainT0.Add(time.Duration(seq + 1))})
		}
		if seq+2 > n {
			b.Status = &history.StatusUpdate{Status: history.StatusCompleted}
		}
		errs, err := s.Commit(ctx, []*history.Batch{b})
		require.NoError(t, err)
		require.NoError(t, errs[0])
	}
}

// chainStore opens a file holding runs a (6 events), b (5) and c (3).
func chainStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "chorus.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	chainRun(t, s, "a", 6)
	chainRun(t, s, "b", 5)
	chainRun(t, s, "c", 3)
	return s
}

func verify(t *testing.T, s *Store) history.VerifyReport {
	t.Helper()
	rep, err := s.VerifyChains(context.Background())
	require.NoError(t, err)
	return rep
}

func TestChainCleanFileVerifies(t *testing.T) {
	t.Parallel()
	s := chainStore(t)
	rep := verify(t, s)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 3, rep.Runs)
	require.Equal(t, int64(14), rep.Events)
	head, err := s.ChainHead(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(3), head.Runs)
	require.Equal(t, head.Hash.String(), rep.Head)

	// The stored hashes are those of the documented encoding.
	r, err := s.ReadChain(context.Background(), "b")
	require.NoError(t, err)
	var prev history.Hash
	for _, e := range r.Events {
		prev = history.HashEvent(prev, "b", &e.Event)
		require.Equal(t, prev[:], e.Hash, "event %d", e.Seq)
	}
	require.Equal(t, prev[:], r.Head)
}

func TestChainDamageNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sql  []string
		want []history.ChainDamage // RunID, Seq and Kind
	}{
		{"edit payload", []string{`UPDATE events SET payload = X'7b7d' WHERE run_id = 'a' AND seq = 3`},
			[]history.ChainDamage{{RunID: "a", Seq: 3, Kind: history.DamageEdited}}},
		{"edit name", []string{`UPDATE events SET name = 'other' WHERE run_id = 'b' AND seq = 5`},
			[]history.ChainDamage{{RunID: "b", Seq: 5, Kind: history.DamageEdited}}},
		{"edit time", []string{`UPDATE events SET time = time + 1 WHERE run_id = 'a' AND seq = 1`},
			[]history.ChainDamage{{RunID: "a", Seq: 1, Kind: history.DamageEdited}}},
		{"delete row", []string{`DELETE FROM events WHERE run_id = 'a' AND seq = 4`},
			[]history.ChainDamage{{RunID: "a", Seq: 4, Kind: history.DamageDeleted}}},
		{"delete row and renumber", []string{
			`DELETE FROM events WHERE run_id = 'a' AND seq = 2`,
			`UPDATE events SET seq = -seq WHERE run_id = 'a' AND seq > 2`,
			`UPDATE events SET seq = -seq - 1 WHERE run_id = 'a' AND seq < 0`,
			`UPDATE runs SET last_seq = 5 WHERE id = 'a'`},
			[]history.ChainDamage{{RunID: "a", Seq: 2, Kind: history.DamageDeleted}}},
		{"delete tail", []string{`DELETE FROM events WHERE run_id = 'b' AND seq = 5`},
			[]history.ChainDamage{{RunID: "b", Seq: 5, Kind: history.DamageDeleted}}},
		{"delete tail and fix the row", []string{`DELETE FROM events WHERE run_id = 'b' AND seq = 5`,
			`UPDATE runs SET last_seq = 4 WHERE id = 'b'`},
			[]history.ChainDamage{{RunID: "b", Kind: history.DamageHead}}},
		{"insert at the end", []string{`INSERT INTO events (run_id, seq, type, name, ref, payload, time) VALUES ('c', 4, 12, 'x', 0, X'00', 1)`},
			[]history.ChainDamage{{RunID: "c", Seq: 4, Kind: history.DamageInserted}}},
		{"insert at the end with the row moved", []string{
			`INSERT INTO events (run_id, seq, type, name, ref, payload, time) VALUES ('c', 4, 12, 'x', 0, X'00', 1)`,
			`UPDATE runs SET last_seq = 4 WHERE id = 'c'`},
			[]history.ChainDamage{{RunID: "c", Seq: 4, Kind: history.DamageInserted}}},
		{"insert in the middle", []string{
			`UPDATE events SET seq = -seq - 1 WHERE run_id = 'a' AND seq >= 3`,
			`UPDATE events SET seq = -seq WHERE run_id = 'a' AND seq < 0`,
			`INSERT INTO events (run_id, seq, type, name, ref, payload, time) VALUES ('a', 3, 12, 'x', 0, X'00', 1)`,
			`UPDATE runs SET last_seq = 7 WHERE id = 'a'`},
			[]history.ChainDamage{{RunID: "a", Seq: 3, Kind: history.DamageInserted}}},
		{"reorder", []string{
			`UPDATE events SET seq = 100 WHERE run_id = 'a' AND seq = 3`,
			`UPDATE events SET seq = 3 WHERE run_id = 'a' AND seq = 4`,
			`UPDATE events SET seq = 4 WHERE run_id = 'a' AND seq = 100`},
			[]history.ChainDamage{{RunID: "a", Seq: 3, Kind: history.DamageReordered}}},
		{"delete a whole run", []string{`DELETE FROM events WHERE run_id = 'b'`, `DELETE FROM runs WHERE id = 'b'`},
			[]history.ChainDamage{{Kind: history.DamageDeleted}}},
		{"delete the last run", []string{`DELETE FROM events WHERE run_id = 'c'`, `DELETE FROM runs WHERE id = 'c'`},
			[]history.ChainDamage{{Kind: history.DamageDeleted}}},
		{"delete a run's row", []string{`PRAGMA foreign_keys = OFF`, `DELETE FROM runs WHERE id = 'c'`},
			[]history.ChainDamage{{RunID: "c", Kind: history.DamageDeleted}, {Kind: history.DamageDeleted}}},
		{"delete a run's journal", []string{`DELETE FROM events WHERE run_id = 'c'`},
			[]history.ChainDamage{{RunID: "c", Seq: 1, Kind: history.DamageDeleted}}},
		{"insert a run", []string{
			`INSERT INTO runs (id, workflow, status, last_seq) VALUES ('z', 'wf', 2, 1)`,
			`INSERT INTO events (run_id, seq, type, name, ref, payload, time) VALUES ('z', 1, 1, 'wf', 0, X'00', 1)`},
			[]history.ChainDamage{{RunID: "z", Seq: 1, Kind: history.DamageInserted}, {RunID: "z", Kind: history.DamageInserted}}},
		{"rename a run", []string{`PRAGMA foreign_keys = OFF`,
			`UPDATE events SET run_id = 'y' WHERE run_id = 'b'`, `UPDATE runs SET id = 'y' WHERE id = 'b'`},
			[]history.ChainDamage{{RunID: "y", Seq: 1, Kind: history.DamageEdited}, {Kind: history.DamageHead}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := chainStore(t)
			ctx := context.Background()
			for _, q := range tc.sql {
				_, err := s.w.ExecContext(ctx, q)
				require.NoError(t, err, q)
			}
			rep := verify(t, s)
			got := make([]history.ChainDamage, len(rep.Damage))
			for i, d := range rep.Damage {
				require.NotEmpty(t, d.Detail)
				got[i] = history.ChainDamage{RunID: d.RunID, Seq: d.Seq, Kind: d.Kind}
			}
			require.Equal(t, tc.want, got, "%v", rep.Damage)
		})
	}
}

// TestChainPurge: purged runs keep the file chain whole; a run deleted by
// hand afterwards is still detected.
func TestChainPurge(t *testing.T) {
	t.Parallel()
	s := chainStore(t)
	ctx := context.Background()
	res, err := s.PurgeRuns(ctx, history.PurgeFilter{Before: chainT0.Add(time.Hour), Workflow: "wf", Limit: 2})
	require.NoError(t, err)
	require.Equal(t, 2, res.Deleted)
	rep := verify(t, s)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 1, rep.Runs)
	require.Equal(t, 2, rep.Purged)

	// A new run under a purged ID takes a new place in the file chain.
	chainRun(t, s, "a", 2)
	rep = verify(t, s)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 2, rep.Runs)

	_, err = s.w.ExecContext(ctx, `DELETE FROM chain_purged WHERE purged_run = 'b'`)
	require.NoError(t, err)
	rep = verify(t, s)
	require.Len(t, rep.Damage, 1)
	require.Equal(t, history.DamageDeleted, rep.Damage[0].Kind)
}

// TestChainReuseAndGroups: a run reused under its ID and batches of
// several runs in one group commit keep verifying.
func TestChainGroupCommit(t *testing.T) {
	t.Parallel()
	s := chainStore(t)
	ctx := context.Background()
	var bs []*history.Batch
	for i := range 5 {
		id := fmt.Sprintf("g%d", i)
		bs = append(bs, &history.Batch{RunID: id, Time: chainT0, Create: &history.RunInfo{Workflow: "wf"},
			Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: chainT0}}})
	}
	// A failing batch in the middle (exists already) must not move the head.
	bs = append(bs[:2], append([]*history.Batch{{RunID: "a", Time: chainT0, Create: &history.RunInfo{Workflow: "wf"},
		Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: chainT0}}}}, bs[2:]...)...)
	errs, err := s.Commit(ctx, bs)
	require.NoError(t, err)
	require.ErrorIs(t, errs[2], history.ErrRunExists)
	rep := verify(t, s)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 8, rep.Runs)
}

// TestChainMigration: a file written before migration 0009 gets its chains
// computed once when opened, and verifies.
func TestChainMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chorus.db")
	db, err := sql.Open(driverName, path)
	require.NoError(t, err)
	ms, err := migrations()
	require.NoError(t, err)
	for {
		done, err := migrateOne(ctx, db, path, ms[:8])
		require.NoError(t, err)
		if done {
			break
		}
	}
	for _, q := range []string{
		`INSERT INTO runs (id, workflow, status, created_at, last_seq) VALUES ('old2', 'wf', 2, 2, 2), ('old1', 'wf', 1, 1, 1), ('queued', 'wf', 8, 0, 0)`,
		`INSERT INTO events (run_id, seq, type, name, ref, payload, time) VALUES
			('old1', 1, 1, 'wf', 0, X'01', 1), ('old2', 1, 1, 'wf', 0, NULL, 2), ('old2', 2, 5, '', 0, X'02', 3)`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	rep := verify(t, s)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 2, rep.Runs)
	var pos1, pos2 int64
	require.NoError(t, s.w.QueryRowContext(ctx, `SELECT chain_pos FROM runs WHERE id = 'old1'`).Scan(&pos1))
	require.NoError(t, s.w.QueryRowContext(ctx, `SELECT chain_pos FROM runs WHERE id = 'old2'`).Scan(&pos2))
	require.Equal(t, []int64{1, 2}, []int64{pos1, pos2}, "runs are chained in the order they were created")

	errs, err := s.Commit(ctx, []*history.Batch{{RunID: "old1", Time: chainT0,
		Events: []history.Event{{Seq: 2, Type: history.EventTimerScheduled, Time: chainT0}}}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	chainRun(t, s, "new", 3)
	rep = verify(t, s)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 3, rep.Runs)
}
