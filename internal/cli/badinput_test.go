package cli_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history/sqlite"
)

// A missing file, a file that is not SQLite and a SQLite database of
// another application are refused with exit status 1 and a message naming
// the file, by every command.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte("these are my notes, not a database of any kind"), 0o600))
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	require.NoError(t, err)
	_, err = db.Exec("CREATE TABLE t (x)")
	require.NoError(t, err)
	require.NoError(t, db.Close())

	f := &fixture{}
	for _, c := range []struct {
		name, file string
	}{
		{"err-missing-file", filepath.Join(dir, "missing.db")},
		{"err-not-sqlite", text},
		{"err-other-sqlite", other},
	} {
		t.Run(c.name, func(t *testing.T) {
			var all strings.Builder
			for _, args := range [][]string{
				{"runs", "list", c.file}, {"runs", "show", c.file, "x"}, {"history", c.file, "x"},
				{"stats", c.file}, {"verify", c.file, "--json"},
			} {
				code, out := f.run(args...)
				require.Equal(t, 1, code, out)
				all.WriteString(strings.ReplaceAll(out, dir, "DIR"))
			}
			golden(t, c.name, all.String())
		})
	}
	_, err = os.Stat(filepath.Join(dir, "missing.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "no command creates the file")
}

// verify reports damaged rows by run and seq and exits with status 1.
func TestVerifyDamage(t *testing.T) {
	f := newFixture(t)
	f.close(t)
	db, err := sql.Open("sqlite", f.path)
	require.NoError(t, err)
	// A payload changed under its checksum, two events of one run, and a
	// run row's workflow.
	for _, q := range []string{
		`UPDATE events SET payload = CAST('7' AS BLOB) WHERE run_id = 'order-2' AND seq = 2`,
		`UPDATE events SET payload = CAST('99' AS BLOB) WHERE run_id = 'trip-1' AND seq IN (3, 8)`,
		`UPDATE runs SET workflow = 'forged' WHERE id = 'pay-1'`,
	} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())

	code, out := f.run("verify", f.path)
	require.Equal(t, 1, code, out)
	golden(t, "verify-damaged", out)
	code, out = f.run("verify", f.path, "--json")
	require.Equal(t, 1, code, out)
	golden(t, "verify-damaged-json", out)
}

// A store opened read-only, as every command opens the file, takes no lock
// and never makes the engine wait: the engine commits runs while it is
// open, and it sees them.
func TestReadWhileEngineRuns(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ro, err := sqlite.OpenReadOnly(ctx, f.path, nil)
	require.NoError(t, err)
	defer ro.Close()
	before, err := ro.Run(ctx, "approval-1")
	require.NoError(t, err)

	f.startOrder(t, "order-late", 1)
	code, out := f.run("runs", "show", f.path, "order-late")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "completed")
	info, err := ro.Run(ctx, "order-late")
	require.NoError(t, err, "the read-only store sees what the engine committed after it opened")
	require.Equal(t, "order", info.Workflow)
	after, err := ro.Run(ctx, "approval-1")
	require.NoError(t, err)
	require.Equal(t, before, after)
}
