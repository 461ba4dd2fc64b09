package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
)

// fileDamager edits a database file with SQL through a connection of its
// own, behind the store's back.
type fileDamager struct{ path string }

// flipByte changes one byte in the middle of the BLOB that query selects
// (with args), and writes it back with update, whose last parameter is
// the new BLOB followed by args.
func (d fileDamager) flipByte(t *testing.T, query, update string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", d.path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	var b []byte
	require.NoError(t, db.QueryRow(query, args...).Scan(&b))
	require.NotEmpty(t, b, query)
	b[len(b)/2] ^= 0x01
	res, err := db.Exec(update, append([]any{b}, args...)...)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}

func (d fileDamager) DamageEvent(t *testing.T, runID string, seq int64) {
	d.flipByte(t, "SELECT payload FROM events WHERE run_id = ? AND seq = ?",
		"UPDATE events SET payload = ? WHERE run_id = ? AND seq = ?", runID, seq)
}

func (d fileDamager) DamageRun(t *testing.T, runID string) {
	d.flipByte(t, "SELECT result FROM runs WHERE id = ?", "UPDATE runs SET result = ? WHERE id = ?", runID)
}

func (d fileDamager) DamageTask(t *testing.T, runID string, step int64) {
	d.flipByte(t, "SELECT input FROM tasks WHERE run_id = ? AND step = ?",
		"UPDATE tasks SET input = ? WHERE run_id = ? AND step = ?", runID, step)
}

// TestDamageConformance: a damaged row of the file is reported as
// corruption of its run, and of its run only.
func TestDamageConformance(t *testing.T) {
	t.Parallel()
	historytest.RunDamage(t, func(t *testing.T) (history.Store, historytest.Damager) {
		path := filepath.Join(t.TempDir(), "chorus.db")
		return openStore(t, path, nil), fileDamager{path}
	})
}
