package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/chorusdev/chorus/history"
)

// ApplicationID is the value of SQLite's PRAGMA application_id in every
// Chorus database ("CHOR" in ASCII). Open refuses a SQLite database with
// another application ID, or with none and tables already in it.
const ApplicationID = 0x43484f52

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations, named NNNN_description.sql,
// and checks they are numbered 1, 2, 3... without a gap.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(names))
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		if !ok {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", base)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number", base)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	// fs.Glob returns names sorted, and the numbers are zero-padded, but do
	// not rely on the padding.
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].version < ms[j-1].version; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d (migrations are numbered 1, 2, 3... without a gap)", m.name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations embedded")
	}
	return ms, nil
}

// migrationSteps are the Go steps of migrations that SQL alone cannot do,
// run after the migration's SQL in its transaction.
var migrationSteps = map[int]func(ctx context.Context, tx *sql.Tx) error{
	9: computeChains,
}

// migrationKeepTriggers names, for each migration that rebuilds tables, the
// tables it rebuilds: triggers that other code put on them (package events
// captures journal rows with one) are read before the migration's SQL drops
// the tables and created again after it, in the same transaction.
var migrationKeepTriggers = map[int][]string{
	10: {"events", "tasks"},
}

// tableTriggers returns the CREATE TRIGGER statements of the triggers on
// the tables, in the order they were created.
func tableTriggers(ctx context.Context, tx *sql.Tx, tables []string) ([]string, error) {
	var out []string
	for _, table := range tables {
		rows, err := tx.QueryContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ? ORDER BY rowid`, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var q string
			if err := rows.Scan(&q); err != nil {
				_ = rows.Close()
				return nil, err
			}
			out = append(out, q)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var migrations = sync.OnceValues(func() ([]migration, error) {
	return loadMigrations(migrationFS)
})

// SchemaVersion returns the newest schema version this code knows, the
// number of its last migration. A database whose recorded version (PRAGMA
// user_version) is greater is refused with history.ErrSchemaTooNew.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(errPrefix + "embedded migrations: " + err.Error())
	}
	return ms[len(ms)-1].version
}

// dbInfo is what Open learns about a database before it touches it.
type dbInfo struct {
	appID       int64
	userVersion int64
	objects     int64 // rows of sqlite_schema
}

// readInfo reads dbInfo through q, a *sql.DB or *sql.Tx.
func readInfo(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (dbInfo, error) {
	var in dbInfo
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&in.appID); err != nil {
		return in, err
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&in.userVersion); err != nil {
		return in, err
	}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&in.objects); err != nil {
		return in, err
	}
	return in, nil
}

// classify decides whether Open may use a database described by in: a
// Chorus database at a version this code knows, or an empty SQLite database.
func (in dbInfo) classify(path string) error {
	switch {
	case in.appID == ApplicationID:
		if in.userVersion > int64(SchemaVersion()) {
			return fmt.Errorf("%sopen %q: %w: the database is at schema version %d, this code knows versions up to %d",
				errPrefix, path, history.ErrSchemaTooNew, in.userVersion, SchemaVersion())
		}
		if in.userVersion < 0 {
			return fmt.Errorf("%sopen %q: %w: schema version %d", errPrefix, path, history.ErrCorrupt, in.userVersion)
		}
		return nil
	case in.appID == 0 && in.userVersion == 0 && in.objects == 0:
		// An empty SQLite database: nothing to lose, adopt it.
		return nil
	default:
		return fmt.Errorf("%sopen %q: %w: a SQLite database of another application (application_id 0x%08x, user_version %d, %d schema objects)",
			errPrefix, path, history.ErrNotChorusDatabase, uint32(in.appID), in.userVersion, in.objects)
	}
}

// migrate brings the database behind w to SchemaVersion, one migration per
// BEGIN IMMEDIATE transaction, checking again inside each transaction that
// the database is one it may change.
func migrate(ctx context.Context, w *sql.DB, path string) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("%sembedded migrations: %v", errPrefix, err)
	}
	for {
		done, err := migrateOne(ctx, w, path, ms)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next migration, or reports done when there is none.
func migrateOne(ctx context.Context, w *sql.DB, path string, ms []migration) (done bool, err error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return false, mapErr(ctx, err, nil, fmt.Sprintf("open %q: begin migration", path))
	}
	defer func() {
		if err != nil || done {
			_ = tx.Rollback()
		}
	}()
	in, err := readInfo(ctx, tx)
	if err != nil {
		return false, mapErr(ctx, err, nil, fmt.Sprintf("open %q: read schema version", path))
	}
	if err := in.classify(path); err != nil {
		return false, err
	}
	if in.userVersion >= int64(len(ms)) {
		return true, nil
	}
	m := ms[in.userVersion]
	triggers, err := tableTriggers(ctx, tx, migrationKeepTriggers[m.version])
	if err != nil {
		return false, mapErr(ctx, err, nil, fmt.Sprintf("open %q: migration %s: read triggers", path, m.name))
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, mapErr(ctx, err, nil, fmt.Sprintf("open %q: migration %s", path, m.name))
	}
	for _, q := range triggers {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return false, mapErr(ctx, err, nil, fmt.Sprintf("open %q: migration %s: keep trigger", path, m.name))
		}
	}
	if step := migrationSteps[m.version]; step != nil {
		if err := step(ctx, tx); err != nil {
			return false, mapErr(ctx, err, nil, fmt.Sprintf("open %q: migration %s", path, m.name))
		}
	}
	// PRAGMA arguments cannot be bound; both values are integer constants
	// of this package, never input.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
		return false, mapErr(ctx, err, nil, fmt.Sprintf("open %q: migration %s: set application_id", path, m.name))
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return false, mapErr(ctx, err, nil, fmt.Sprintf("open %q: migration %s: set user_version", path, m.name))
	}
	if err := tx.Commit(); err != nil {
		return false, mapErr(ctx, err, nil, fmt.Sprintf("open %q: commit migration %s", path, m.name))
	}
	return false, nil
}
