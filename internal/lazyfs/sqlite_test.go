package lazyfs_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/chorusdev/chorus/internal/lazyfs"
	_ "modernc.org/sqlite"
)

// SQLite in WAL mode, with its mmapped -shm file, works on the mount, and
// what a FULL commit acknowledged survives a cut.
func TestSQLiteWAL(t *testing.T) {
	for _, mode := range lazyfs.Modes {
		t.Run(mode.String(), func(t *testing.T) {
			l, mnt, backing := mount(t)
			db, err := sql.Open("sqlite", "file://"+filepath.Join(mnt, "t.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(2)
			if _, err := db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				if _, err := db.Exec(`INSERT INTO t (v) VALUES (?)`, "value"); err != nil {
					t.Fatalf("insert %d: %v", i, err)
				}
			}
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 200 {
				t.Fatalf("count through the mount: %d, %v", n, err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			cut(t, l, mode, 3)
			db, err = sql.Open("sqlite", "file://"+filepath.Join(backing, "t.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var ok string
			if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
				t.Fatalf("integrity_check after the cut: %q, %v", ok, err)
			}
			if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 200 {
				t.Fatalf("after the cut %d rows (%v), want the 200 committed with synchronous=FULL", n, err)
			}
		})
	}
}
