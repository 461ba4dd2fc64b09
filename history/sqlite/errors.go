package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/chorusdev/chorus/history"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// errPrefix starts every error this package makes.
const errPrefix = "history/sqlite: "

// errBusy is the text used for SQLITE_BUSY and SQLITE_LOCKED, which have no
// sentinel: another connection, usually another process, holds the lock for
// longer than the busy timeout.
const errBusy = "database is locked by another connection"

// sqliteCode returns the primary SQLite result code of err, or 0 when err
// does not come from SQLite.
func sqliteCode(err error) int {
	var se *msqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// isClosedErr reports whether err says the database/sql pool or connection
// is gone.
func isClosedErr(err error) bool {
	if errors.Is(err, sql.ErrConnDone) {
		return true
	}
	// database/sql does not export the error it returns for a closed *DB.
	return strings.Contains(err.Error(), "sql: database is closed")
}

// mapErr turns an error of database/sql or the driver into one that wraps a
// history sentinel where one fits, or a context error, and otherwise
// carries only the driver's text: no driver type reaches the caller.
// onConstraint, when not nil, is the sentinel for a constraint violation.
// what describes the operation and starts the message (after errPrefix).
func mapErr(ctx context.Context, err error, onConstraint error, what string) error {
	if err == nil {
		return nil
	}
	if ctx != nil && ctx.Err() != nil {
		return fmt.Errorf("%s%s: %w", errPrefix, what, ctx.Err())
	}
	for _, ce := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ce) {
			return fmt.Errorf("%s%s: %w", errPrefix, what, ce)
		}
	}
	if isClosedErr(err) {
		return fmt.Errorf("%s%s: %w", errPrefix, what, history.ErrStoreClosed)
	}
	msg := err.Error()
	switch sqliteCode(err) {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%s%s: %s (%s)", errPrefix, what, errBusy, msg)
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%s%s: %w (%s)", errPrefix, what, history.ErrCorrupt, msg)
	case sqlite3.SQLITE_CONSTRAINT:
		if onConstraint != nil {
			return fmt.Errorf("%s%s: %w (%s)", errPrefix, what, onConstraint, msg)
		}
	}
	return fmt.Errorf("%s%s: %s", errPrefix, what, msg)
}

// corruptf returns an error wrapping history.ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%s%w: %s", errPrefix, history.ErrCorrupt, fmt.Sprintf(format, args...))
}
