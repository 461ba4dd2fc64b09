package history

import "errors"

// Sentinel errors. Stores return them (wrapped with details); test with
// [errors.Is].
var (
	// ErrRunNotFound: no run has the given ID.
	ErrRunNotFound = errors.New("chorus: run not found")
	// ErrRunExists: a run with the given ID exists already.
	ErrRunExists = errors.New("chorus: run already exists")
	// ErrConflict: the journal already holds an event at a Seq being written,
	// so someone else wrote to the run.
	ErrConflict = errors.New("chorus: journal write conflict")
	// ErrNotChorusDatabase: the file is not a Chorus database (not SQLite at
	// all, or a SQLite database of another application).
	ErrNotChorusDatabase = errors.New("chorus: not a Chorus database")
	// ErrSchemaTooNew: the database was written by a newer Chorus whose
	// schema this code does not know.
	ErrSchemaTooNew = errors.New("chorus: database schema is newer than this code")
	// ErrCorrupt: a stored row cannot be read back as it was written (a
	// value of the wrong type, truncated data, a checksum that does not
	// match). The damage concerns the run the error names, not the others.
	ErrCorrupt = errors.New("chorus: corrupt journal data")
	// ErrStoreClosed: the store has been closed.
	ErrStoreClosed = errors.New("chorus: store closed")
	// ErrLocked: another process (or another store in this one) has the
	// database open; one engine at a time owns a file.
	ErrLocked = errors.New("chorus: database is in use by another engine")
)
