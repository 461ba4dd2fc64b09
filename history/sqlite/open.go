package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chorusdev/chorus/history"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// driverName is the name modernc.org/sqlite registers with database/sql.
const driverName = "sqlite"

// memoryPath is the path that makes Open create an in-memory store.
const memoryPath = ":memory:"

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// headerSize is the size of the SQLite database header.
const headerSize = 100

// Open opens the Chorus database at path, creating it when the file does not
// exist or is empty, and applies any schema migrations it lacks. The path
// ":memory:" opens a private in-memory store that disappears on Close.
//
// Open inspects an existing file read-only before it changes anything, and
// leaves the file's bytes as they were when it returns an error wrapping
// history.ErrNotChorusDatabase (not SQLite, or a SQLite database of another
// application), history.ErrSchemaTooNew (written by a newer Chorus) or
// history.ErrCorrupt (a truncated or malformed database). Every error names
// the path. ctx bounds the inspection and the migrations; it is not kept.
func Open(ctx context.Context, path string, opts *Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	if path == "" {
		return nil, fmt.Errorf("%sopen: empty path (use %q for an in-memory store)", errPrefix, memoryPath)
	}
	if _, err := migrations(); err != nil {
		return nil, fmt.Errorf("%sembedded migrations: %v", errPrefix, err)
	}
	if path == memoryPath {
		return openMemory(ctx, o)
	}
	return openFile(ctx, path, o)
}

// openMemory opens an in-memory store. Both pools are one *sql.DB with a
// single connection, since every connection to "file::memory:" would see a
// database of its own; the unique name keeps stores in one process apart.
func openMemory(ctx context.Context, o Options) (*Store, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("%sopen %q: %v", errPrefix, memoryPath, err)
	}
	dsn := "file:chorus-" + hex.EncodeToString(rnd[:]) + "?mode=memory&cache=shared&" + writerParams(o, false)
	w, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("%sopen %q: %v", errPrefix, memoryPath, err)
	}
	configureWriter(w)
	if err := migrate(ctx, w, memoryPath); err != nil {
		_ = w.Close()
		return nil, err
	}
	return newStore(ctx, memoryPath, w, w)
}

// openFile opens a file store: inspect, then the writer, migrations, then
// the reader pool.
func openFile(ctx context.Context, path string, o Options) (*Store, error) {
	uri, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("%sopen %q: %v", errPrefix, path, err)
	}
	_, statErr := os.Stat(path)
	lock, err := lockFile(path, min(o.BusyTimeout, time.Second), o.FileMode)
	if err != nil {
		return nil, err
	}
	st, err := openLocked(ctx, path, uri, o)
	if err != nil {
		if lock != nil {
			_ = lock.Close()
		}
		if os.IsNotExist(statErr) {
			_ = os.Remove(path) // created by lockFile; leave nothing behind
		}
		return nil, err
	}
	st.lock = lock
	return st, nil
}

func openLocked(ctx context.Context, path, uri string, o Options) (*Store, error) {
	if err := inspect(ctx, path, uri, o); err != nil {
		return nil, err
	}
	w, err := sql.Open(driverName, uri+"?"+writerParams(o, true))
	if err != nil {
		return nil, fmt.Errorf("%sopen %q: %v", errPrefix, path, err)
	}
	configureWriter(w)
	if err := migrate(ctx, w, path); err != nil {
		_ = w.Close()
		return nil, err
	}
	r, err := sql.Open(driverName, uri+"?"+readerParams(o))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("%sopen %q: %v", errPrefix, path, err)
	}
	r.SetMaxOpenConns(o.MaxReadConns)
	r.SetMaxIdleConns(o.MaxReadConns)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	st, err := newStore(ctx, path, w, r)
	if err != nil {
		return nil, err
	}
	if st.ckpt, err = newCheckpointer(uri, o); err != nil {
		_ = st.closePools()
		return nil, fmt.Errorf("%sopen %q: %v", errPrefix, path, err)
	}
	st.ids = newIDFilter()
	st.commitMu.Lock()
	st.startIDFilter()
	st.commitMu.Unlock()
	return st, nil
}

// configureWriter limits the writer pool to one connection that is never
// closed for age or idleness (for an in-memory store, closing it would drop
// the database).
func configureWriter(w *sql.DB) {
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
}

// writerParams is the DSN query of the writer connection: every PRAGMA the
// store relies on is set here and nowhere else. modernc.org/sqlite runs each
// _pragma=name(value) as "PRAGMA name(value)" on every new connection,
// busy_timeout first, and _txlock=immediate makes database/sql transactions
// start with BEGIN IMMEDIATE, so that a transaction takes the write lock (or
// waits for it) up front instead of failing at its first write.
func writerParams(o Options, wal bool) string {
	p := []string{
		"_txlock=immediate",
		fmt.Sprintf("_pragma=busy_timeout(%d)", o.busyTimeoutMillis()),
		// The schema declares events.run_id and tasks.run_id as references
		// to runs, but the writer does not have SQLite enforce them: Commit
		// writes a batch's events and tasks only after the batch's UPDATE or
		// INSERT of the run's row changed that row in the same transaction
		// (or the batch fails), and PurgeRuns deletes every row of a run
		// before the run's row; enforcing them cost a lookup in the runs
		// index for every event and task written, on the one writer every
		// commit waits for (about a tenth of a commit's CPU). The hash chains
		// name any orphan (VerifyChains), as they do one made outside Chorus.
		"_pragma=foreign_keys(0)",
	}
	if wal {
		p = append(p,
			"_pragma=journal_mode(WAL)",
			"_pragma=synchronous("+string(o.Synchronous)+")",
			// The checkpointer copies the log back (checkpoint.go).
			"_pragma=wal_autocheckpoint(0)",
		)
	}
	return strings.Join(p, "&")
}

// readerParams is the DSN query of the reader connections. They never write:
// query_only makes SQLite refuse if one ever tried.
func readerParams(o Options) string {
	return strings.Join([]string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", o.busyTimeoutMillis()),
		"_pragma=query_only(1)",
	}, "&")
}

// fileURI turns a file path into a SQLite URI ("file:///abs/path") whose
// path escapes the characters a URI gives meaning to, so that any file name
// works and query parameters can follow.
func fileURI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	abs = filepath.ToSlash(abs)
	if !strings.HasPrefix(abs, "/") {
		abs = "/" + abs // Windows: file:///C:/dir/file
	}
	var b strings.Builder
	b.WriteString("file://")
	for i := 0; i < len(abs); i++ {
		c := abs[i]
		if c == '%' || c == '?' || c == '#' || c <= ' ' || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// inspect decides, without writing to it, whether Open may use the file at
// path. A missing or empty file is fine: Open creates the database.
func inspect(ctx context.Context, path, uri string, o Options) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%sopen %q: %w", errPrefix, path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%sopen %q: is a directory", errPrefix, path)
	}
	if fi.Size() == 0 {
		return nil
	}
	walSize, walExists := fileSize(path + "-wal")
	_, shmExists := fileSize(path + "-shm")
	if err := checkHeader(path, fi.Size(), walSize > 0); err != nil {
		return err
	}

	// Read the application ID, schema version and schema size through
	// SQLite, read-only. A read-only connection to a WAL database creates
	// the -wal and -shm files when they are missing (and leaves them), so
	// unless both exist already, open the file as immutable: no locks, no
	// side files, and the main file as the truth. That misses commits that
	// only a -wal file holds, which is conservative: migrate checks again,
	// inside its write transaction, before it changes anything.
	q := "mode=ro&immutable=1"
	if walExists && shmExists {
		q = "mode=ro"
	}
	q += fmt.Sprintf("&_pragma=busy_timeout(%d)", o.busyTimeoutMillis())
	db, err := sql.Open(driverName, uri+"?"+q)
	if err != nil {
		return fmt.Errorf("%sopen %q: %v", errPrefix, path, err)
	}
	db.SetMaxOpenConns(1)
	in, err := readInfo(ctx, db)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return mapErr(ctx, err, nil, fmt.Sprintf("open %q: inspect", path))
	}
	return in.classify(path)
}

// fileSize returns the size of the file at path and whether it exists.
func fileSize(path string) (int64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

// checkHeader reads the first 100 bytes of the file at path and checks that
// they are a SQLite header consistent with the file's size. With a non-empty
// -wal file the size check is skipped: a checkpoint interrupted by a crash
// can leave the file shorter than its header says until the log is replayed.
func checkHeader(path string, size int64, hasWAL bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%sopen %q: %w", errPrefix, path, err)
	}
	defer f.Close()
	h := make([]byte, headerSize)
	n, err := io.ReadFull(f, h)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%sopen %q: read header: %w", errPrefix, path, err)
	}
	h = h[:n]
	if n < len(sqliteMagic) || !bytes.Equal(h[:len(sqliteMagic)], []byte(sqliteMagic)) {
		return fmt.Errorf("%sopen %q: %w: not a SQLite database (no SQLite header)", errPrefix, path, history.ErrNotChorusDatabase)
	}
	if n < headerSize {
		return fmt.Errorf("%sopen %q: %w: truncated: %d bytes, shorter than the %d-byte SQLite header",
			errPrefix, path, history.ErrCorrupt, n, headerSize)
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%sopen %q: %w: invalid page size %d in the SQLite header", errPrefix, path, history.ErrCorrupt, pageSize)
	}
	if hasWAL {
		return nil
	}
	if size%pageSize != 0 {
		return fmt.Errorf("%sopen %q: %w: truncated: %d bytes is not a whole number of %d-byte pages",
			errPrefix, path, history.ErrCorrupt, size, pageSize)
	}
	// The page count at offset 28 is valid when the change counter (24)
	// matches the version-valid-for number (92).
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	if pages != 0 && bytes.Equal(h[24:28], h[92:96]) && size < pages*pageSize {
		return fmt.Errorf("%sopen %q: %w: truncated: %d bytes, the header says %d pages of %d bytes",
			errPrefix, path, history.ErrCorrupt, size, pages, pageSize)
	}
	return nil
}
