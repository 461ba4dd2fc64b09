package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chorusdev/chorus/history"
)

// errPrefix starts every error this package makes.
const errPrefix = "history/postgres: "

// ErrFenced is wrapped by the error of every write of a store that lost
// its lease: another engine took the database over (this one was paused, or
// cut off from the database, for longer than the lease), so whatever this
// one still holds in memory is stale. The error also wraps
// [history.ErrStoreClosed], so that the engine stops writing; the process
// should close its engine and exit, or open a new store as a standby.
var ErrFenced = errors.New("history/postgres: another engine took over the database (this store's lease was lost)")

// fencedErr is the error of an operation refused because the store lost
// its lease.
func fencedErr(what string) error {
	return fmt.Errorf("%s%s: %w (%w)", errPrefix, what, ErrFenced, history.ErrStoreClosed)
}

// PostgreSQL error codes the store maps to history sentinels.
const (
	codeUniqueViolation = "23505"
)

// pgCode returns the SQLSTATE of err, or "" when err does not come from
// the server.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// mapErr turns an error of pgx into one that wraps a history sentinel
// where one fits, or a context error, and otherwise carries only the
// driver's text: no driver type reaches the caller. onConstraint, when not
// nil, is the sentinel for a unique violation. what describes the
// operation and starts the message (after errPrefix).
func mapErr(ctx context.Context, err error, onConstraint error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrFenced) || errors.Is(err, history.ErrStoreClosed) {
		return err
	}
	if ctx != nil && ctx.Err() != nil {
		return fmt.Errorf("%s%s: %w", errPrefix, what, ctx.Err())
	}
	for _, ce := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ce) {
			return fmt.Errorf("%s%s: %w", errPrefix, what, ce)
		}
	}
	if errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("%s%s: %w", errPrefix, what, history.ErrStoreClosed)
	}
	if pgCode(err) == codeUniqueViolation && onConstraint != nil {
		return fmt.Errorf("%s%s: %w (%s)", errPrefix, what, onConstraint, err.Error())
	}
	return fmt.Errorf("%s%s: %s", errPrefix, what, err.Error())
}

// corruptf returns an error wrapping history.ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%s%w: %s", errPrefix, history.ErrCorrupt, fmt.Sprintf(format, args...))
}
