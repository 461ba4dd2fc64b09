package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestPragmas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		sync Synchronous
		want string // journal_mode
		num  int    // synchronous
	}{
		{"file", SynchronousFull, "wal", 2},
		{"file", SynchronousNormal, "wal", 1},
		{memoryPath, SynchronousFull, "memory", -1},
	} {
		path := tc.path
		if path == "file" {
			path = filepath.Join(t.TempDir(), "x.db")
		}
		s, err := Open(t.Context(), path, &Options{Synchronous: tc.sync, BusyTimeout: 1234500000})
		require.NoError(t, err)
		ctx := t.Context()
		pragma := func(db interface {
			QueryRowContext(context.Context, string, ...any) *sql.Row
		}, name string) string {
			var v string
			require.NoError(t, db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v), name)
			return v
		}
		require.Equal(t, tc.want, pragma(s.w, "journal_mode"))
		if tc.num >= 0 {
			require.Equal(t, string(rune('0'+tc.num)), pragma(s.w, "synchronous"))
		}
		require.Equal(t, "1", pragma(s.w, "foreign_keys"))
		require.Equal(t, "1235", pragma(s.w, "busy_timeout"))
		require.Equal(t, "1128812370", pragma(s.w, "application_id"))
		require.Equal(t, "1", pragma(s.w, "user_version"))
		if s.r != s.w {
			require.Equal(t, "1", pragma(s.r, "query_only"))
			require.Equal(t, "1235", pragma(s.r, "busy_timeout"))
		}
		require.NoError(t, s.Close())
	}
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	ms, err := loadMigrations(fstest.MapFS{
		"migrations/0002_b.sql":  file("B"),
		"migrations/0001_a.sql":  file("A"),
		"migrations/10_j.sql":    file("J"),
		"migrations/0003_c.sql":  file("C"),
		"migrations/004_d.sql":   file("D"),
		"migrations/05_e.sql":    file("E"),
		"migrations/6_f.sql":     file("F"),
		"migrations/0007_g.sql":  file("G"),
		"migrations/0008_h.sql":  file("H"),
		"migrations/00009_i.sql": file("I"),
	})
	require.NoError(t, err)
	var got string
	for i, m := range ms {
		require.Equal(t, i+1, m.version)
		got += m.sql
	}
	require.Equal(t, "ABCDEFGHIJ", got)

	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"migrations/0001_a.sql": file(""), "migrations/0003_c.sql": file("")},
		"twice":    {"migrations/0001_a.sql": file(""), "migrations/01_b.sql": file("")},
		"no start": {"migrations/0002_a.sql": file("")},
		"bad name": {"migrations/init.sql": file("")},
		"zero":     {"migrations/0000_a.sql": file("")},
		"none":     {},
	} {
		_, err := loadMigrations(fsys)
		require.Error(t, err, name)
	}

	ms, err = migrations()
	require.NoError(t, err)
	require.Equal(t, len(ms), SchemaVersion())
}

func TestFileURI(t *testing.T) {
	t.Parallel()
	u, err := fileURI("/tmp/a b/c?d#e%f.db")
	require.NoError(t, err)
	require.Equal(t, "file:///tmp/a%20b/c%3Fd%23e%25f.db", u)
}
