package chorus_test

// Corrupt and foreign files through the public API. The store's own tests
// cover the file format in depth (history/sqlite: TestOpenRefuses,
// TestCorruptRows, TestIntegrityCheckFindsDamage, TestOpenAfterCrash,
// TestSecondProcessWaitsThenFailsBusy); engine_test.go has
// TestOpenRefusesForeignFile and TestSecondEngineOnSameFileIsRefused. These
// add what chorus.Open and a running engine do with such files.
//
//	go test -run 'TestReliabilityFiles' -v .

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/workflow"
)

// filesRaw runs SQL on the database at path as another program would.
func filesRaw(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	for _, q := range stmts {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
}

// filesState is a directory's file names and one file's hash.
func filesState(t *testing.T, path string) ([]string, [32]byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	ents, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, sha256.Sum256(b)
}

// filesDefs is a one-activity workflow.
func filesDefs() (*workflow.Definition[string, string], []chorus.Definition) {
	a := activity.New("files-a", func(ctx context.Context, s string) (string, error) { return s + "|a", nil })
	wf := workflow.New("files-wf", func(ctx workflow.Context, s string) (string, error) {
		return workflow.ExecuteActivity(ctx, a, s).Get(ctx)
	})
	return wf, []chorus.Definition{wf, a}
}

// filesChorusDB makes a closed Chorus database with n completed runs.
func filesChorusDB(t *testing.T, path string, n int) {
	t.Helper()
	ctx := testContext(t)
	wf, defs := filesDefs()
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: defs})
	require.NoError(t, err)
	for i := range n {
		id := "run-" + strconv.Itoa(i)
		run, err := chorus.Start(ctx, eng, wf, id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		_, err = run.Result(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, eng.Close(ctx))
}

// TestReliabilityFilesOpenRefuses: chorus.Open refuses files that are not
// Chorus databases, or are damaged, with a sentinel error, and leaves them
// byte for byte as they were, creating nothing next to them.
func TestReliabilityFilesOpenRefuses(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 16384)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	write := func(b []byte) func(*testing.T, string) {
		return func(t *testing.T, p string) { require.NoError(t, os.WriteFile(p, b, 0o600)) }
	}
	tests := []struct {
		name  string
		setup func(*testing.T, string)
		want  []error
	}{
		{"random bytes", write(random), []error{chorus.ErrNotChorusDatabase}},
		{"SQLite header, random body", write(append([]byte("SQLite format 3\x00"), random[16:]...)), []error{chorus.ErrNotChorusDatabase, history.ErrCorrupt}},
		{"another application's database", func(t *testing.T, p string) {
			filesRaw(t, p, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)", "INSERT INTO orders (total) VALUES (42)")
		}, []error{chorus.ErrNotChorusDatabase}},
		{"another application in WAL mode", func(t *testing.T, p string) {
			filesRaw(t, p, "PRAGMA journal_mode = WAL", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
		}, []error{chorus.ErrNotChorusDatabase}},
		{"a newer Chorus", func(t *testing.T, p string) {
			filesChorusDB(t, p, 1)
			filesRaw(t, p, "PRAGMA user_version = "+strconv.Itoa(sqlite.SchemaVersion()+1))
		}, []error{chorus.ErrSchemaTooNew}},
		{"truncated to half", func(t *testing.T, p string) {
			filesChorusDB(t, p, 60)
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(p, fi.Size()/2/4096*4096))
		}, []error{history.ErrCorrupt}},
		{"header only", func(t *testing.T, p string) {
			filesChorusDB(t, p, 1)
			require.NoError(t, os.Truncate(p, 100))
		}, []error{history.ErrCorrupt, chorus.ErrNotChorusDatabase}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "x.db")
			tc.setup(t, path)
			names, hash := filesState(t, path)
			eng, err := chorus.Open(testContext(t), path, nil)
			if eng != nil {
				_ = eng.Close(context.Background())
			}
			require.Error(t, err)
			require.Truef(t, slices.ContainsFunc(tc.want, func(w error) bool { return errors.Is(err, w) }), "want one of %v, got %v", tc.want, err)
			require.ErrorContains(t, err, path)
			names2, hash2 := filesState(t, path)
			require.Equal(t, names, names2, "files next to the database")
			require.Equal(t, hash, hash2, "the file's bytes")
		})
	}
	t.Run("a directory", func(t *testing.T) {
		t.Parallel()
		_, err := chorus.Open(testContext(t), t.TempDir(), nil)
		require.Error(t, err)
	})
}

// TestReliabilityFilesGarbageWAL: a -wal file of garbage next to a good
// database (a crash while the log was being written, or a stray file) is
// ignored; the runs are all there and the engine works.
func TestReliabilityFilesGarbageWAL(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "chorus.db")
	filesChorusDB(t, path, 5)
	garbage := make([]byte, 3*4096+17)
	for i := range garbage {
		garbage[i] = byte(i*31 + 7)
	}
	require.NoError(t, os.WriteFile(path+"-wal", garbage, 0o600))
	wf, defs := filesDefs()
	eng := openEngine(t, path, &chorus.Options{Definitions: defs})
	runs, err := eng.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, runs, 5)
	run, err := chorus.Start(ctx, eng, wf, "new", &chorus.StartOptions{ID: "new"})
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "new|a", out)
}

// TestReliabilityFilesCorruptRun: one run's journal rows are damaged (an
// event type this code does not know), another run's are fine. Open
// succeeds, the healthy run completes, and the damaged one is reported
// with history.ErrCorrupt by every call that reads its journal; nothing
// panics, and Close works.
func TestReliabilityFilesCorruptRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "chorus.db")
	// Two runs stopped in their activity: the engine closes while it waits.
	block := make(chan struct{})
	a := activity.New("files-a", func(ctx context.Context, s string) (string, error) {
		select {
		case <-block:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return s + "|a", nil
	})
	wf := workflow.New("files-wf", func(ctx workflow.Context, s string) (string, error) {
		return workflow.ExecuteActivity(ctx, a, s).Get(ctx)
	})
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: []chorus.Definition{wf, a}})
	require.NoError(t, err)
	for _, id := range []string{"bad", "good"} {
		_, err := chorus.Start(ctx, eng, wf, id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	require.NoError(t, eng.Close(cctx))
	cancel()
	filesRaw(t, path, "UPDATE events SET type = 99 WHERE run_id = 'bad' AND seq = 1")

	_, defs := filesDefs()
	eng2 := openEngine(t, path, &chorus.Options{Definitions: defs})
	good, err := chorus.Lookup(ctx, eng2, wf, "good")
	require.NoError(t, err)
	out, err := good.Result(ctx)
	require.NoError(t, err, "a damaged run does not stop the others")
	require.Equal(t, "good|a", out)

	_, err = chorus.History(ctx, eng2, "bad")
	require.ErrorIs(t, err, history.ErrCorrupt)
	_, err = chorus.Query(ctx, eng2, "bad", workflow.NewQuery[struct{}, int]("q"), struct{}{})
	require.ErrorIs(t, err, history.ErrCorrupt)
	err = chorus.Signal(ctx, eng2, "bad", workflow.NewSignal[int]("s"), 1)
	require.ErrorIs(t, err, history.ErrCorrupt)
	info, err := eng2.Describe(ctx, "bad")
	require.NoError(t, err, "the run's index row is fine")
	t.Logf("the damaged run: %v, %v", info.Status, info.Err)
}
