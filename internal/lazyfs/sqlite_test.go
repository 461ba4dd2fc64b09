package lazyfs_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chorusdev/chorus/internal/lazyfs"
	_ "modernc.org/sqlite"
)

// sqliteChildEnv makes the test binary run sqliteChild instead of tests.
const sqliteChildEnv = "LAZYFS_TEST_SQLITE_DB"

func TestMain(m *testing.M) {
	if db := os.Getenv(sqliteChildEnv); db != "" {
		sqliteChild(db)
	}
	os.Exit(m.Run())
}

// sqliteChild commits 200 rows with synchronous=FULL to the database at
// path, says "committed 200", and waits until it is killed (its standard
// input closes). SQLite must not run in the process that serves the
// mount: its -shm file is mmapped, and a page fault that waits for the
// FUSE server blocks a thread the Go runtime cannot stop, so the server's
// process can deadlock in a garbage collection.
func sqliteChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "sqlite child:", err)
		os.Exit(3)
	}
	db, err := sql.Open("sqlite", "file://"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		fail(err)
	}
	db.SetMaxOpenConns(2)
	if _, err := db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		fail(err)
	}
	for range 200 {
		if _, err := db.Exec(`INSERT INTO t (v) VALUES (?)`, strings.Repeat("v", 300)); err != nil {
			fail(err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		fail(err)
	}
	fmt.Printf("committed %d\n", n)
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// SQLite in WAL mode, with its mmapped -shm file, works on the mount, and
// what FULL commits acknowledged survives a kill and a cut in every mode.
func TestSQLiteWAL(t *testing.T) {
	for _, mode := range lazyfs.Modes {
		t.Run(mode.String(), func(t *testing.T) {
			l, mnt, backing := mount(t)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), sqliteChildEnv+"="+filepath.Join(mnt, "t.db"))
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if line != "committed 200\n" {
				t.Fatalf("the child said %q\n%s", line, stderr.String())
			}
			cut(t, l, mode, 3)
			db, err := sql.Open("sqlite", "file://"+filepath.Join(backing, "t.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var ok string
			if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
				t.Fatalf("integrity_check after the cut: %q, %v", ok, err)
			}
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 200 {
				t.Fatalf("after the cut %d rows (%v), want the 200 committed with synchronous=FULL", n, err)
			}
		})
	}
}
