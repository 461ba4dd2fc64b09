package sqlite

import (
	"fmt"
	"os"
	"time"
)

// Synchronous is the SQLite synchronous setting a [Store] commits with. It
// decides when a commit waits for the disk; see the package documentation
// under "Durability".
type Synchronous string

const (
	// SynchronousFull makes every commit wait until its write-ahead-log
	// frames are on stable storage before Commit returns. A commit that
	// returned survives a process crash, an operating-system crash and a
	// power loss. It is the default.
	SynchronousFull Synchronous = "FULL"

	// SynchronousNormal lets commits return once their frames are written
	// to the write-ahead log, and syncs the disk only at checkpoints. In WAL
	// mode a power loss or operating-system crash can lose the last commits
	// that were acknowledged, but it never corrupts the file; a crash of the
	// process alone loses nothing, as with [SynchronousFull]. It makes
	// commits several times cheaper on disks where a sync is slow.
	SynchronousNormal Synchronous = "NORMAL"
)

// The defaults of [Options].
const (
	// DefaultSynchronous is the synchronous setting used when
	// Options.Synchronous is empty.
	DefaultSynchronous = SynchronousFull
	// DefaultBusyTimeout is how long a connection waits for a lock another
	// process holds when Options.BusyTimeout is zero.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultMaxReadConns is the size of the reader pool when
	// Options.MaxReadConns is zero.
	DefaultMaxReadConns = 4
	// DefaultFileMode is the permission of a database file that Open
	// creates, and so of its -wal and -shm files, when Options.FileMode is
	// zero: readable and writable by its owner only. Payloads often hold
	// personal data.
	DefaultFileMode os.FileMode = 0o600
)

// Options tunes [Open]. A nil *Options, and any zero field, means the
// default.
type Options struct {
	// Synchronous chooses how hard a commit waits for the disk:
	// SynchronousFull or SynchronousNormal. In WAL mode NORMAL risks losing
	// the last acknowledged commits on a power loss or operating-system
	// crash, never the file's integrity, and a process crash loses nothing
	// in either mode. Defaults to DefaultSynchronous (SynchronousFull).
	Synchronous Synchronous

	// BusyTimeout is how long a statement waits for a lock held by another
	// connection (for instance another process that opened the same file)
	// before it fails. It is rounded up to whole milliseconds and must not
	// be negative. Defaults to DefaultBusyTimeout (5s).
	BusyTimeout time.Duration

	// MaxReadConns caps the connections of the reader pool, which serves
	// Run, ListRuns, Events, Tasks and IntegrityCheck concurrently with the
	// single writer connection. It must not be negative and is ignored for
	// an in-memory store, which has one connection. Defaults to
	// DefaultMaxReadConns (4).
	MaxReadConns int

	// FileMode is the permission of the database file when Open creates
	// it, set exactly: the process's umask does not apply. SQLite gives the
	// -wal and -shm files it creates beside the database the database's
	// permission. An existing database keeps the permission it has. Only
	// permission bits (0o777) may be set. It is ignored for an in-memory
	// store, and where Open cannot set it (systems without Unix
	// permissions). Defaults to DefaultFileMode (0o600).
	FileMode os.FileMode
}

// withDefaults returns a copy of o (which may be nil) with every zero field
// set to its default.
func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Synchronous == "" {
		r.Synchronous = DefaultSynchronous
	}
	if r.BusyTimeout == 0 {
		r.BusyTimeout = DefaultBusyTimeout
	}
	if r.MaxReadConns == 0 {
		r.MaxReadConns = DefaultMaxReadConns
	}
	if r.FileMode == 0 {
		r.FileMode = DefaultFileMode
	}
	return r
}

// validate reports the first field of o that holds a value Open cannot use.
// A nil o is valid.
func (o *Options) validate() error {
	if o == nil {
		return nil
	}
	switch o.Synchronous {
	case "", SynchronousFull, SynchronousNormal:
	default:
		return fmt.Errorf("history/sqlite: Options.Synchronous is %q, want %q or %q",
			string(o.Synchronous), string(SynchronousFull), string(SynchronousNormal))
	}
	if o.BusyTimeout < 0 {
		return fmt.Errorf("history/sqlite: Options.BusyTimeout is %v, want zero (the default) or more", o.BusyTimeout)
	}
	if o.MaxReadConns < 0 {
		return fmt.Errorf("history/sqlite: Options.MaxReadConns is %d, want zero (the default) or more", o.MaxReadConns)
	}
	if o.FileMode&^os.ModePerm != 0 {
		return fmt.Errorf("history/sqlite: Options.FileMode is %v, want permission bits only (such as 0o600)", o.FileMode)
	}
	return nil
}

// busyTimeoutMillis is the busy timeout in whole milliseconds, rounded up.
func (o Options) busyTimeoutMillis() int64 {
	ms := int64(o.BusyTimeout / time.Millisecond)
	if o.BusyTimeout%time.Millisecond != 0 {
		ms++
	}
	return ms
}
