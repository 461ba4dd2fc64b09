package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// OpenReadOnly opens the existing Chorus database at path for reading only,
// for tools that inspect a journal while the application that owns it runs
// (the chorus command's read commands). Unlike [Open] it takes no lock on the
// file, never creates it and never migrates it: it sees every transaction the
// owner has committed (the database is in WAL mode, where readers and the
// writer do not wait for each other), and the owner never waits for it.
//
// Every write through the returned store (Commit) fails: its connections are
// opened with mode=ro and query_only. It reads with the same checksums as a
// store opened with [Open], so damage is reported the same way. When no
// engine has the file open, SQLite leaves an empty -wal and a -shm file
// beside it (with the database's permission); the next Open uses them as
// they are. The directory must be writable for that.
//
// A missing file gives an error wrapping fs.ErrNotExist; a file that is not a
// Chorus database one wrapping history.ErrNotChorusDatabase; a database
// written by a newer Chorus one wrapping history.ErrSchemaTooNew, and one at
// an older schema version (not yet migrated by a newer engine) one wrapping
// [ErrSchemaTooOld]. Every error names the path. opts may be nil; only
// BusyTimeout and MaxReadConns apply.
func OpenReadOnly(ctx context.Context, path string, opts *Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	if path == "" || path == memoryPath {
		return nil, fmt.Errorf("%sopen read-only %q: a database file path is required", errPrefix, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%sopen read-only %q: %w", errPrefix, path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%sopen read-only %q: is a directory", errPrefix, path)
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("%sopen read-only %q: %w: empty file", errPrefix, path, fs.ErrNotExist)
	}
	walSize, _ := fileSize(path + "-wal")
	if err := checkHeader(path, fi.Size(), walSize > 0); err != nil {
		return nil, err
	}
	uri, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("%sopen read-only %q: %v", errPrefix, path, err)
	}
	q := strings.Join([]string{
		"mode=ro",
		fmt.Sprintf("_pragma=busy_timeout(%d)", o.busyTimeoutMillis()),
		"_pragma=query_only(1)",
	}, "&")
	db, err := sql.Open(driverName, uri+"?"+q)
	if err != nil {
		return nil, fmt.Errorf("%sopen read-only %q: %v", errPrefix, path, err)
	}
	db.SetMaxOpenConns(o.MaxReadConns)
	db.SetMaxIdleConns(o.MaxReadConns)
	in, err := readInfo(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, mapErr(ctx, err, nil, fmt.Sprintf("open read-only %q: inspect", path))
	}
	if err := in.classify(path); err != nil {
		_ = db.Close()
		return nil, err
	}
	if in.appID != ApplicationID || in.userVersion < int64(SchemaVersion()) {
		_ = db.Close()
		return nil, fmt.Errorf("%sopen read-only %q: %w: the database is at schema version %d, this code reads version %d (open it once with the engine to migrate it)",
			errPrefix, path, ErrSchemaTooOld, in.userVersion, SchemaVersion())
	}
	// Both pools are the read-only one: the write statements are prepared
	// but any attempt to run them is refused by SQLite.
	return newStore(ctx, path, db, db)
}

// ErrSchemaTooOld is wrapped by [OpenReadOnly] for a database that an older
// Chorus wrote and that no engine of this version has migrated yet ([Open]
// migrates it; OpenReadOnly never writes).
var ErrSchemaTooOld = errors.New("chorus: database schema older than this code")
