package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// TestJournalQueriesUseIndexes checks that every statement that reads or
// changes one run's events or tasks finds them through an index instead of
// scanning the table, so that its cost does not grow with the database.
func TestJournalQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	perRun := map[string]string{
		"rsEvents":       readSQL[rsEvents],
		"rsRunTasks":     readSQL[rsRunTasks],
		"stInsertEvent":  writeSQL[stInsertEvent],
		"stInsertTask":   writeSQL[stInsertTask],
		"stUpdateTask":   writeSQL[stUpdateTask],
		"stDeleteTask":   writeSQL[stDeleteTask],
		"stDropTasks":    writeSQL[stDropTasks],
		"readRawEvents":  `SELECT seq, type, name, ref, payload, time, hash FROM events WHERE run_id = ? ORDER BY seq`,
		"purge events":   `DELETE FROM events WHERE run_id IN (?, ?)`,
		"purge tasks":    `DELETE FROM tasks WHERE run_id IN (?, ?)`,
		"purgeable runs": `SELECT r.id FROM runs AS r WHERE ` + purgeWhere,
	}
	for name, q := range perRun {
		plan := queryPlan(t, s.w, q)
		for _, line := range plan {
			// "SCAN events", "SCAN e" (its alias), ...: a walk of the
			// whole table, where "SEARCH ... USING INDEX" finds the rows.
			f := strings.Fields(line)
			require.False(t, len(f) > 1 && f[0] == "SCAN" && journalTables[f[1]], "%s scans a table: %q", name, plan)
		}
		require.NotContains(t, strings.Join(plan, "\n"), "TEMP B-TREE", "%s sorts: %q", name, plan)
	}
	// A listing by close time can search the partial index of ended runs
	// (migration 0011): its status term matches the index's WHERE, or
	// SQLite would refuse INDEXED BY ("no query solution").
	q, args, err := listQuery(history.ListFilter{ClosedFrom: chainT0, ClosedTo: chainT0.Add(time.Hour)}, "count(*)")
	require.NoError(t, err)
	require.Contains(t, q, " FROM runs WHERE ")
	q = strings.Replace(q, " FROM runs WHERE ", " FROM runs INDEXED BY runs_updated WHERE ", 1)
	require.Contains(t, strings.Join(queryPlan(t, s.w, q, args...), "\n"), "INDEX runs_updated")
	// Listing every task walks the index in key order, without a sort.
	require.NotContains(t, strings.Join(queryPlan(t, s.w, readSQL[rsTasks]), "\n"), "TEMP B-TREE")
}

// journalTables are the tables TestJournalQueriesUseIndexes watches, by name
// and by the aliases the queries give them.
var journalTables = map[string]bool{"events": true, "e": true, "tasks": true, "t": true}

// queryPlan returns the detail column of EXPLAIN QUERY PLAN of q, with
// the parameters bound to args, or every parameter to NULL without args.
func queryPlan(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	if len(args) == 0 {
		args = make([]any, strings.Count(q, "?"))
	}
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	require.NoError(t, err, q)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return plan
}

// TestMigrateRowidJournal writes runs with kilobyte payloads, tasks and a
// trigger on the journal into a file at schema version 9 (WITHOUT ROWID
// events and tasks), through the store's own Commit, and checks that
// migration 0010 keeps every row, checksum, hash and trigger, and that the
// rebuilt tables still refuse a duplicate seq or step with ErrConflict.
func TestMigrateRowidJournal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v9.db")
	ms, err := migrations()
	require.NoError(t, err)
	require.Equal(t, 10, ms[9].version, "this test is about migration 0010")
	uri, err := fileURI(path)
	require.NoError(t, err)
	w, err := sql.Open(driverName, uri+"?"+writerParams((*Options)(nil).withDefaults(), true))
	require.NoError(t, err)
	configureWriter(w)
	for {
		done, err := migrateOne(ctx, w, path, ms[:9])
		require.NoError(t, err)
		if done {
			break
		}
	}
	// Version 9 wrote the same columns with the same statements, but for
	// tasks.input_in_event, which the store's statement names: the column
	// is added here for it, NULL in every row (the input in the row), as
	// version 9 had it in effect.
	_, err = w.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE tasks ADD COLUMN input_in_event INTEGER;
		CREATE TABLE captured (run_id TEXT, seq INTEGER) STRICT;
		CREATE TRIGGER capture AFTER INSERT ON events WHEN NEW.type = %d
		BEGIN INSERT INTO captured VALUES (NEW.run_id, NEW.seq); END;`, history.EventActivityCompleted))
	require.NoError(t, err)
	old, err := newStore(ctx, path, w, w)
	require.NoError(t, err)

	t0 := time.Date(2026, time.March, 1, 2, 3, 4, 0, time.UTC)
	big := func(c byte) []byte { return bytes.Repeat([]byte{c}, 1400) }
	ids := []string{"r1", "r2", "r3"}
	for i, id := range ids {
		commitOne(t, old, &history.Batch{RunID: id, Time: t0,
			Create: &history.RunInfo{Workflow: "order"},
			Events: []history.Event{
				{Seq: 1, Type: history.EventRunStarted, Name: "order", Payload: big('a' + byte(i)), Time: t0},
				{Seq: 2, Type: history.EventActivityScheduled, Name: "charge", Payload: big('b'), Time: t0},
			},
			AddTasks: []history.Task{{Step: 2, Name: "charge", Input: big('c'), Options: []byte(`{"x":1}`), Attempt: 1, NotBefore: t0}},
		})
	}
	commitOne(t, old, &history.Batch{RunID: "r1", Time: t0.Add(time.Second),
		Events: []history.Event{
			{Seq: 3, Type: history.EventActivityCompleted, Ref: 2, Payload: big('d'), Time: t0.Add(time.Second)},
			{Seq: 4, Type: history.EventRunCompleted, Payload: big('e'), Time: t0.Add(time.Second)},
		},
		Status:    &history.StatusUpdate{Status: history.StatusCompleted, Result: big('e')},
		DoneTasks: []int64{2},
	})
	type snapshot struct {
		runs   []history.RunInfo
		events map[string][]history.Event
		tasks  []history.Task
	}
	snap := func(s *Store) snapshot {
		var sn snapshot
		sn.runs, err = s.ListRuns(ctx, history.ListFilter{})
		require.NoError(t, err)
		sn.events = map[string][]history.Event{}
		for _, id := range ids {
			sn.events[id], err = s.Events(ctx, id, 0)
			require.NoError(t, err)
		}
		sn.tasks, err = s.Tasks(ctx)
		require.NoError(t, err)
		return sn
	}
	before := snap(old)
	require.Len(t, before.events["r1"], 4)
	require.Len(t, before.tasks, 2)
	require.NoError(t, old.Close())

	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Equal(t, before, snap(s))
	require.NoError(t, s.IntegrityCheck(ctx))
	rep, err := s.VerifyChains(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 3, rep.Runs)
	for _, table := range []string{"events", "tasks"} {
		var ddl string
		require.NoError(t, s.w.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&ddl))
		require.NotContains(t, ddl, "WITHOUT ROWID", table)
	}

	// The trigger survived the rebuild and fires on new rows.
	commitOne(t, s, &history.Batch{RunID: "r2", Time: t0.Add(2 * time.Second),
		Events:   []history.Event{{Seq: 3, Type: history.EventActivityCompleted, Ref: 2, Payload: big('f'), Time: t0.Add(2 * time.Second)}},
		AddTasks: []history.Task{{Step: 3, Name: "refund", Attempt: 1}},
	})
	var captured int
	require.NoError(t, s.w.QueryRowContext(ctx, `SELECT count(*) FROM captured WHERE run_id = 'r2' AND seq = 3`).Scan(&captured))
	require.Equal(t, 1, captured)

	// A duplicate key is still a conflict, and leaves the run as it was.
	var dup sqlExec = s.w
	_, err = dup.ExecContext(ctx, writeSQL[stInsertEvent], "r3", 2, 5, "", 0, nil, nil, nil, nil)
	require.Error(t, err, "the unique index refuses a second seq 2")
	errs, err := s.Commit(ctx, []*history.Batch{{RunID: "r3", Time: t0,
		AddTasks: []history.Task{{Step: 2, Name: "charge", Attempt: 1}}}})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], history.ErrConflict)
	got, err := s.RunTasks(ctx, "r3")
	require.NoError(t, err)
	require.Equal(t, before.tasks[1:], got)
}

// sqlExec is what TestMigrateRowidJournal needs of a *sql.DB.
type sqlExec interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}

// commitOne commits b alone and requires it to succeed.
func commitOne(t *testing.T, s *Store, b *history.Batch) {
	t.Helper()
	errs, err := s.Commit(t.Context(), []*history.Batch{b})
	require.NoError(t, err)
	require.NoError(t, errs[0])
}

// TestTaskInputInEvent: a large task input that the batch's event at the
// task's step holds too is stored once, in the event, and reads back
// whole; smaller inputs, other bytes, or an event of another batch keep
// the input in the task's row; damage to the shared payload is reported
// for the task as well as for the event.
func TestTaskInputInEvent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "shared.db"), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	t0 := time.Date(2026, time.March, 1, 2, 3, 4, 0, time.UTC)
	big := bytes.Repeat([]byte("i"), 1400)
	small := []byte(`"small"`)
	commitOne(t, s, &history.Batch{RunID: "r", Time: t0,
		Create: &history.RunInfo{Workflow: "wf"},
		Events: []history.Event{
			{Seq: 1, Type: history.EventRunStarted, Name: "wf", Time: t0},
			{Seq: 2, Type: history.EventActivityScheduled, Name: "a", Payload: big, Time: t0},
			{Seq: 3, Type: history.EventActivityScheduled, Name: "a", Payload: small, Time: t0},
			{Seq: 4, Type: history.EventActivityScheduled, Name: "a", Payload: big, Time: t0},
		},
		AddTasks: []history.Task{
			{Step: 2, Name: "a", Input: bytes.Clone(big), Attempt: 1},
			{Step: 3, Name: "a", Input: small, Attempt: 1},
			{Step: 4, Name: "a", Input: append(bytes.Clone(big[1:]), 'j'), Attempt: 1},
		},
	})
	commitOne(t, s, &history.Batch{RunID: "r", Time: t0,
		Events:   []history.Event{{Seq: 5, Type: history.EventTimerScheduled, Time: t0}},
		AddTasks: []history.Task{{Step: 2 + 4, Name: "a", Input: big, Attempt: 1}, {Step: -2, Name: "a", Input: big, Attempt: 1}},
	})
	inEvent := map[int64]bool{}
	rows, err := s.w.QueryContext(ctx, `SELECT step, input IS NULL AND input_in_event = 1 FROM tasks WHERE run_id = 'r'`)
	require.NoError(t, err)
	for rows.Next() {
		var step int64
		var shared bool
		require.NoError(t, rows.Scan(&step, &shared))
		inEvent[step] = shared
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Equal(t, map[int64]bool{2: true, 3: false, 4: false, 6: false, -2: false}, inEvent)

	want := map[int64][]byte{2: big, 3: small, 4: append(bytes.Clone(big[1:]), 'j'), 6: big, -2: big}
	tasks, err := s.RunTasks(ctx, "r")
	require.NoError(t, err)
	require.Len(t, tasks, len(want))
	for _, k := range tasks {
		require.NoError(t, k.Damaged, "task %d", k.Step)
		require.Equal(t, want[k.Step], k.Input, "task %d", k.Step)
	}

	// Damage to the shared payload: the event and the task both report it.
	_, err = s.w.ExecContext(ctx, `UPDATE events SET payload = ? WHERE run_id = 'r' AND seq = 2`, append(bytes.Clone(big[1:]), 'x'))
	require.NoError(t, err)
	_, err = s.Events(ctx, "r", 0)
	require.ErrorIs(t, err, history.ErrCorrupt)
	tasks, err = s.Tasks(ctx)
	require.NoError(t, err)
	for _, k := range tasks {
		if k.Step == 2 {
			require.ErrorIs(t, k.Damaged, history.ErrCorrupt)
		} else {
			require.NoError(t, k.Damaged, "task %d", k.Step)
		}
	}
}
