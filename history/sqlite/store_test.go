package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	msqlite "modernc.org/sqlite"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
	"github.com/chorusdev/chorus/history/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openStore opens a store at path and closes it when the test ends.
func openStore(t testing.TB, path string, opts *sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	t.Run("File", func(t *testing.T) {
		t.Parallel()
		historytest.Run(t, func(t *testing.T) history.Store {
			return openStore(t, filepath.Join(t.TempDir(), "chorus.db"), nil)
		})
	})
	t.Run("FileNormal", func(t *testing.T) {
		t.Parallel()
		historytest.Run(t, func(t *testing.T) history.Store {
			return openStore(t, filepath.Join(t.TempDir(), "chorus.db"), &sqlite.Options{Synchronous: sqlite.SynchronousNormal, MaxReadConns: 2})
		})
	})
	t.Run("Memory", func(t *testing.T) {
		t.Parallel()
		historytest.Run(t, func(t *testing.T) history.Store {
			return openStore(t, ":memory:", nil)
		})
	})
}

var t0 = time.Date(2025, time.June, 1, 12, 0, 0, 42, time.UTC)

func createBatch(id string) *history.Batch {
	return &history.Batch{
		RunID:  id,
		Time:   t0,
		Create: &history.RunInfo{ID: id, Workflow: "wf", Status: history.StatusRunning},
		Events: []history.Event{
			{Seq: 1, Type: history.EventRunStarted, Name: "wf", Payload: []byte(`"in"`), Time: t0},
			{Seq: 2, Type: history.EventActivityScheduled, Name: "act", Payload: []byte(`"x"`), Time: t0},
		},
		AddTasks: []history.Task{{Step: 2, Name: "act", Input: []byte(`"x"`), Attempt: 1}},
	}
}

func mustCommit(t testing.TB, s history.Store, batches ...*history.Batch) {
	t.Helper()
	errs, err := s.Commit(context.Background(), batches)
	require.NoError(t, err)
	require.NoError(t, errors.Join(errs...))
}

// makeChorusDB creates a closed Chorus database at path holding runs runs.
func makeChorusDB(t *testing.T, path string, runs int) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, nil)
	require.NoError(t, err)
	var bs []*history.Batch
	for i := range runs {
		b := createBatch(fmt.Sprintf("run-%05d", i))
		b.Events[0].Payload = make([]byte, 200) // a few rows per page
		bs = append(bs, b)
	}
	if len(bs) > 0 {
		mustCommit(t, s, bs...)
	}
	require.NoError(t, s.Close())
}

// rawExec runs statements on the database at path through a connection of
// its own, as another program would.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	for _, q := range stmts {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
}

// snapshot is the names of the files in a directory and the hash of one.
type snapshot struct {
	names []string
	hash  [32]byte
}

func takeSnapshot(t *testing.T, path string) snapshot {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return snapshot{names: names, hash: sha256.Sum256(b)}
}

func TestReopenPersists(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	s, err := sqlite.Open(t.Context(), path, nil)
	require.NoError(t, err)
	require.Equal(t, path, s.Path())
	mustCommit(t, s, createBatch("a"), createBatch("b"))
	mustCommit(t, s, &history.Batch{RunID: "a", Time: t0.Add(time.Second), Status: &history.StatusUpdate{
		Status: history.StatusCompleted, Result: []byte("42"),
	}})
	require.NoError(t, s.Close())

	// The last connection checkpointed and removed the log.
	require.NoFileExists(t, path+"-wal")
	require.NoFileExists(t, path+"-shm")

	s = openStore(t, path, nil)
	r, err := s.Run(t.Context(), "a")
	require.NoError(t, err)
	require.Equal(t, history.StatusCompleted, r.Status)
	require.Equal(t, []byte("42"), r.Result)
	require.True(t, t0.Add(time.Second).Equal(r.UpdatedAt))
	evs, err := s.Events(t.Context(), "b", 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	tasks, err := s.Tasks(t.Context())
	require.NoError(t, err)
	require.Len(t, tasks, 2)
	require.NoError(t, s.IntegrityCheck(t.Context()))
}

func TestOpenCreates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, setup := range map[string]func(path string){
		"missing": func(string) {},
		"empty file": func(path string) {
			require.NoError(t, os.WriteFile(path, nil, 0o600))
		},
		"empty SQLite database": func(path string) {
			rawExec(t, path, "CREATE TABLE t (x)", "DROP TABLE t")
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".db")
			setup(path)
			s := openStore(t, path, nil)
			mustCommit(t, s, createBatch("r"))
			require.NoError(t, s.IntegrityCheck(t.Context()))
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	write := func(b []byte) func(t *testing.T, path string) {
		return func(t *testing.T, path string) { require.NoError(t, os.WriteFile(path, b, 0o600)) }
	}
	newer := strconv.Itoa(sqlite.SchemaVersion() + 1)
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  []error // any of
		msg   []string
	}{
		{name: "text", setup: write([]byte("name,qty\nwidget,3\n" + string(make([]byte, 300)))), want: []error{history.ErrNotChorusDatabase}},
		{name: "random bytes", setup: write(random(8192)), want: []error{history.ErrNotChorusDatabase}},
		{name: "short", setup: write([]byte("SQLite")), want: []error{history.ErrNotChorusDatabase}},
		{name: "header cut short", setup: func(t *testing.T, path string) {
			makeChorusDB(t, path, 0)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, b[:60], 0o600))
		}, want: []error{history.ErrCorrupt}},
		{name: "other application", setup: func(t *testing.T, path string) {
			rawExec(t, path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes (body) VALUES ('hi')")
		}, want: []error{history.ErrNotChorusDatabase}, msg: []string{"application_id 0x00000000"}},
		{name: "other application in WAL mode", setup: func(t *testing.T, path string) {
			rawExec(t, path, "PRAGMA journal_mode = WAL", "CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES ('hi')")
		}, want: []error{history.ErrNotChorusDatabase}},
		{name: "other application ID", setup: func(t *testing.T, path string) {
			rawExec(t, path, "PRAGMA application_id = 42", "CREATE TABLE t (x)", "DROP TABLE t")
		}, want: []error{history.ErrNotChorusDatabase}, msg: []string{"0x0000002a"}},
		{name: "user version without tables", setup: func(t *testing.T, path string) {
			rawExec(t, path, "PRAGMA user_version = 3")
		}, want: []error{history.ErrNotChorusDatabase}},
		{name: "schema too new", setup: func(t *testing.T, path string) {
			makeChorusDB(t, path, 1)
			rawExec(t, path, "PRAGMA user_version = "+newer)
		}, want: []error{history.ErrSchemaTooNew}, msg: []string{"version " + newer, "up to " + strconv.Itoa(sqlite.SchemaVersion())}},
		{name: "truncated to whole pages", setup: func(t *testing.T, path string) {
			makeChorusDB(t, path, 200)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.Greater(t, fi.Size(), int64(8*4096))
			require.NoError(t, os.Truncate(path, fi.Size()/2/4096*4096))
		}, want: []error{history.ErrCorrupt}, msg: []string{"truncated"}},
		{name: "truncated mid-page", setup: func(t *testing.T, path string) {
			makeChorusDB(t, path, 50)
			require.NoError(t, os.Truncate(path, 4096+1000))
		}, want: []error{history.ErrCorrupt}},
		{name: "garbage schema page", setup: func(t *testing.T, path string) {
			makeChorusDB(t, path, 50)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(random(4096-100), 100)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, want: []error{history.ErrCorrupt, history.ErrNotChorusDatabase}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "x.db")
			tc.setup(t, path)
			before := takeSnapshot(t, path)

			s, err := sqlite.Open(t.Context(), path, nil)
			if s != nil {
				_ = s.Close()
			}
			require.Error(t, err)
			require.Truef(t, slices.ContainsFunc(tc.want, func(w error) bool { return errors.Is(err, w) }),
				"want an error wrapping one of %v, got %v", tc.want, err)
			require.Contains(t, err.Error(), path)
			for _, m := range tc.msg {
				require.Contains(t, err.Error(), m)
			}
			requireNoDriverError(t, err)
			t.Log(err)

			after := takeSnapshot(t, path)
			require.Equal(t, before.names, after.names, "files next to the database changed")
			require.Equal(t, before.hash, after.hash, "the file's bytes changed")
		})
	}
}

func requireNoDriverError(t *testing.T, err error) {
	t.Helper()
	var se *msqlite.Error
	require.False(t, errors.As(err, &se), "a driver error escaped: %v", err)
}

func TestOpenBadPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := sqlite.Open(t.Context(), dir, nil)
	require.ErrorContains(t, err, "directory")
	_, err = sqlite.Open(t.Context(), filepath.Join(dir, "no", "such", "dir", "x.db"), nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), filepath.Join(dir, "no", "such", "dir", "x.db"))
	_, err = sqlite.Open(t.Context(), "", nil)
	require.Error(t, err)
}

func TestOpenSpecialFileName(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "odd ?name#with%25 chars&x=1.db")
	s, err := sqlite.Open(t.Context(), path, nil)
	require.NoError(t, err)
	mustCommit(t, s, createBatch("r"))
	require.NoError(t, s.Close())
	require.FileExists(t, path)
	s = openStore(t, path, nil)
	_, err = s.Run(t.Context(), "r")
	require.NoError(t, err)
}

func TestOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts  sqlite.Options
		field string
	}{
		{sqlite.Options{Synchronous: "OFF"}, "Options.Synchronous"},
		{sqlite.Options{BusyTimeout: -time.Second}, "Options.BusyTimeout"},
		{sqlite.Options{MaxReadConns: -1}, "Options.MaxReadConns"},
	} {
		path := filepath.Join(t.TempDir(), "x.db")
		_, err := sqlite.Open(t.Context(), path, &tc.opts)
		require.ErrorContains(t, err, tc.field)
		require.NoFileExists(t, path)
	}
	for _, sync := range []sqlite.Synchronous{sqlite.SynchronousFull, sqlite.SynchronousNormal} {
		t.Run(string(sync), func(t *testing.T) {
			t.Parallel()
			s := openStore(t, filepath.Join(t.TempDir(), "x.db"), &sqlite.Options{
				Synchronous: sync, BusyTimeout: 1500 * time.Microsecond, MaxReadConns: 1,
			})
			mustCommit(t, s, createBatch("r"))
			require.NoError(t, s.IntegrityCheck(t.Context()))
		})
	}
}

func TestMemoryStoresAreSeparate(t *testing.T) {
	t.Parallel()
	a := openStore(t, ":memory:", nil)
	b := openStore(t, ":memory:", nil)
	mustCommit(t, a, createBatch("r"))
	_, err := b.Run(t.Context(), "r")
	require.ErrorIs(t, err, history.ErrRunNotFound)
	mustCommit(t, b, createBatch("r"))
	require.NoError(t, a.IntegrityCheck(t.Context()))
	require.Equal(t, ":memory:", a.Path())
}

func TestCorruptRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "chorus.db")
	s := openStore(t, path, nil)
	b := createBatch("r")
	b.Events = append(b.Events, history.Event{Seq: 3, Type: history.EventActivityCompleted, Ref: 2, Time: t0})
	mustCommit(t, s, b, createBatch("q"))

	rawExec(t, path, "UPDATE events SET type = 99 WHERE run_id = 'r' AND seq = 2")
	_, err := s.Events(ctx, "r", 0)
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `run "r", event 2: column type holds int64 99`)
	evs, err := s.Events(ctx, "r", 2) // the tail is fine
	require.NoError(t, err)
	require.Len(t, evs, 1)

	rawExec(t, path, "DELETE FROM events WHERE run_id = 'q' AND seq = 1")
	_, err = s.Events(ctx, "q", 0)
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `run "q"`)

	rawExec(t, path, "UPDATE runs SET status = 42 WHERE id = 'r'")
	_, err = s.Run(ctx, "r")
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `run "r": column status`)
	// One damaged row does not hide the other runs: it is listed in its
	// place, marked.
	list, err := s.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "q", list[0].ID)
	require.NoError(t, list[0].Damaged)
	require.Equal(t, "r", list[1].ID)
	require.ErrorIs(t, list[1].Damaged, history.ErrCorrupt)
	require.ErrorContains(t, list[1].Damaged, `run "r": column status`)
	requireNoDriverError(t, list[1].Damaged)

	// A damaged task is listed in its place, marked.
	taskDamage := func() error {
		t.Helper()
		tasks, err := s.Tasks(ctx)
		require.NoError(t, err, "one damaged task does not fail Tasks")
		require.Len(t, tasks, 2)
		require.Equal(t, "q", tasks[0].RunID)
		require.Equal(t, "r", tasks[1].RunID)
		require.NoError(t, tasks[1].Damaged, "the other task reads as usual")
		return tasks[0].Damaged
	}
	rawExec(t, path, "UPDATE tasks SET attempt = -1 WHERE run_id = 'q'")
	err = taskDamage()
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `run "q", task 2`)
	rawExec(t, path, "UPDATE tasks SET attempt = 1 WHERE run_id = 'q'")

	// Every task reads back with a kind this code knows.
	for _, kind := range []string{"0", "99", "-1", "300"} {
		rawExec(t, path, "UPDATE tasks SET kind = "+kind+" WHERE run_id = 'q'")
		err = taskDamage()
		require.ErrorIs(t, err, history.ErrCorrupt, "kind %s", kind)
		require.ErrorContains(t, err, `run "q", task 2: column kind holds int64 `+kind)
		requireNoDriverError(t, err)
	}
	// Another known kind fails the row's checksum; a row without one
	// (written before migration 0004) is read unchecked.
	rawExec(t, path, "UPDATE tasks SET kind = 6 WHERE run_id = 'q'")
	err = taskDamage()
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `run "q", task 2: the row's checksum does not match`)
	rawExec(t, path, "UPDATE tasks SET sum = NULL WHERE run_id = 'q'")
	tasks, err := s.Tasks(ctx)
	require.NoError(t, err)
	require.Equal(t, "q", tasks[0].RunID)
	require.NoError(t, tasks[0].Damaged)
	require.Equal(t, history.TaskCancelChild, tasks[0].Kind)

	// first_seq lies within the journal, and parent_run and parent_step
	// agree on whether the run has a parent. Run "q" has two events.
	for _, tc := range []struct{ set, col string }{
		{"first_seq = 0", "first_seq"},
		{"first_seq = 3", "first_seq"},
		{"parent_step = 4", "parent_step"},
		{"parent_run = 'p'", "parent_step"},
		{"parent_run = 'p', parent_step = -2", "parent_step"},
		{"parent_run = '', parent_step = 1", "parent_run"},
	} {
		rawExec(t, path, "UPDATE runs SET "+tc.set+" WHERE id = 'q'")
		_, err = s.Run(ctx, "q")
		require.ErrorIs(t, err, history.ErrCorrupt, tc.set)
		require.ErrorContains(t, err, `run "q": column `+tc.col, tc.set)
		requireNoDriverError(t, err)
		rawExec(t, path, "UPDATE runs SET first_seq = 1, parent_run = NULL, parent_step = 0 WHERE id = 'q'")
	}
	// A consistent edit still fails the row's checksum; a row without one
	// (written before migration 0003) is read unchecked.
	rawExec(t, path, "UPDATE runs SET first_seq = 2, parent_run = 'p', parent_step = 9 WHERE id = 'q'")
	_, err = s.Run(ctx, "q")
	require.ErrorIs(t, err, history.ErrCorrupt)
	require.ErrorContains(t, err, `run "q": the row's checksum does not match`)
	rawExec(t, path, "UPDATE runs SET sum = NULL WHERE id = 'q'")
	q, err := s.Run(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, int64(2), q.FirstSeq)
	require.Equal(t, "p", q.Parent)
	require.Equal(t, int64(9), q.ParentStep)

	// A file-level integrity check still passes: the rows are well-formed
	// SQLite, only not Chorus.
	require.NoError(t, s.IntegrityCheck(ctx))
}

func TestCommitCanceled(t *testing.T) {
	t.Parallel()
	s := openStore(t, filepath.Join(t.TempDir(), "chorus.db"), nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	errs, err := s.Commit(ctx, []*history.Batch{createBatch("r")})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], context.Canceled)
	requireNoDriverError(t, err)
	_, err = s.Run(t.Context(), "r")
	require.ErrorIs(t, err, history.ErrRunNotFound)
}

func TestSecondProcessWaitsThenFailsBusy(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	s := openStore(t, path, &sqlite.Options{BusyTimeout: 50 * time.Millisecond})

	// Another connection, as another process would, holds the write lock.
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	conn, err := db.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err)

	errs, err := s.Commit(t.Context(), []*history.Batch{createBatch("r")})
	require.Error(t, err)
	require.ErrorContains(t, err, "locked")
	require.Error(t, errs[0])
	requireNoDriverError(t, err)

	_, err = conn.ExecContext(t.Context(), "ROLLBACK")
	require.NoError(t, err)
	mustCommit(t, s, createBatch("r"))
}

func TestIntegrityCheckFindsDamage(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	makeChorusDB(t, path, 200)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	pages := fi.Size() / 4096
	require.Greater(t, pages, int64(10))

	// Scribble over the middle of a page deep in the file; page 1 (the
	// header and schema) stays intact, so Open cannot tell.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	junk := make([]byte, 2048)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	_, err = f.WriteAt(junk, (pages-3)*4096+1024)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s := openStore(t, path, nil)
	err = s.IntegrityCheck(t.Context())
	require.ErrorIs(t, err, history.ErrCorrupt)
	requireNoDriverError(t, err)
	t.Log(err)
}

// TestOpenAfterCrash opens copies of a database taken while its store was
// open, as a crash would leave it: the commits are in the -wal file only.
func TestOpenAfterCrash(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	s := openStore(t, path, nil)
	mustCommit(t, s, createBatch("a"), createBatch("b"))
	mustCommit(t, s, &history.Batch{RunID: "a", Time: t0, Status: &history.StatusUpdate{Status: history.StatusBlocked}})
	require.FileExists(t, path+"-wal")

	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(to, b, 0o600))
	}
	for name, withSHM := range map[string]bool{"wal and shm": true, "wal only": false} {
		t.Run(name, func(t *testing.T) {
			crashed := filepath.Join(t.TempDir(), "crashed.db")
			copyFile(path, crashed)
			copyFile(path+"-wal", crashed+"-wal")
			if withSHM {
				copyFile(path+"-shm", crashed+"-shm")
			}
			c := openStore(t, crashed, nil)
			r, err := c.Run(t.Context(), "a")
			require.NoError(t, err)
			require.Equal(t, history.StatusBlocked, r.Status)
			tasks, err := c.Tasks(t.Context())
			require.NoError(t, err)
			require.Len(t, tasks, 2)
			require.NoError(t, c.IntegrityCheck(t.Context()))
		})
	}
}

// TestInvalidBatches covers what this store checks beyond the conformance
// suite: parent links, task names and attempts. Each invalid batch fails
// alone, names the field, and writes nothing.
func TestInvalidBatches(t *testing.T) {
	t.Parallel()
	s := openStore(t, ":memory:", nil)
	mustCommit(t, s, createBatch("r"))
	child := func(parent string, step int64) *history.Batch {
		b := createBatch("c")
		b.Create.Parent, b.Create.ParentStep = parent, step
		return b
	}
	addTask := func(k history.Task) *history.Batch {
		return &history.Batch{RunID: "r", Time: t0, DropTasks: true, AddTasks: []history.Task{k}}
	}
	tests := []struct {
		b   *history.Batch
		msg string
	}{
		{child("r", 0), `Create.Parent is "r" without a ParentStep`},
		{child("", 2), "Create.ParentStep is 2 without a Parent"},
		{child("r", -2), "Create.ParentStep is -2"},
		{child("c", 2), "Create.Parent is the run itself"},
		{addTask(history.Task{Step: 3, Attempt: 1}), "activity task 3 has an empty Name"},
		{addTask(history.Task{Step: 3, Kind: history.TaskActivity, Attempt: 1}), "activity task 3 has an empty Name"},
		{addTask(history.Task{Step: 3, Name: "a", Attempt: -1}), "task 3: Attempt -1"},
		{addTask(history.Task{Step: 3, Kind: history.TaskKind(99), Attempt: 1}), "task 3 has unknown kind TaskKind(99)"},
		{&history.Batch{RunID: "r", Time: t0, UpdateTasks: []history.Task{{Step: 2, Attempt: -3}}}, "task 2: Attempt -3"},
		{&history.Batch{RunID: "r", Time: t0, Events: []history.Event{
			{Seq: 3, Type: history.EventRunContinuedAsNew, Time: t0},
			{Seq: 4, Type: history.EventActivityScheduled, Name: "a", Time: t0},
		}, Status: &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: 4}, DropTasks: true},
			"Status.FirstSeq is 4, which is not the Seq of a RunStarted event of the batch"},
	}
	batches := make([]*history.Batch, len(tests))
	for i, tc := range tests {
		batches[i] = tc.b
	}
	errs, err := s.Commit(t.Context(), batches)
	require.NoError(t, err)
	for i, tc := range tests {
		require.ErrorContains(t, errs[i], tc.msg, "batch %d", i)
	}

	_, err = s.Run(t.Context(), "c")
	require.ErrorIs(t, err, history.ErrRunNotFound)
	r, err := s.Run(t.Context(), "r")
	require.NoError(t, err)
	require.Equal(t, int64(2), r.LastSeq)
	require.Equal(t, int64(1), r.FirstSeq)
	tasks, err := s.Tasks(t.Context())
	require.NoError(t, err)
	require.Equal(t, []history.Task{{
		RunID: "r", Step: 2, Kind: history.TaskActivity, Name: "act", Input: []byte(`"x"`), Attempt: 1,
		Workflow: "wf", ScheduledAt: t0,
	}}, tasks)

	// Kinds other than activity may leave Name empty, and a parent need not
	// exist in the store.
	ok := addTask(history.Task{Step: 2, Kind: history.TaskTimer, Attempt: 1})
	mustCommit(t, s, ok, child("elsewhere", 3))
	tasks, err = s.Tasks(t.Context())
	require.NoError(t, err)
	require.Len(t, tasks, 2) // c's activity and r's timer
	require.Equal(t, "r", tasks[1].RunID)
	require.Equal(t, history.TaskTimer, tasks[1].Kind)
	require.Empty(t, tasks[1].Name)
	c, err := s.Run(t.Context(), "c")
	require.NoError(t, err)
	require.Equal(t, "elsewhere", c.Parent)
	require.Equal(t, int64(3), c.ParentStep)
}
