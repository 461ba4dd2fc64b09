package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/sqlite"
)

// A command's FILE argument is a SQLite database file, or a PostgreSQL
// database named by a connection URL (postgres://... or postgresql://...).
// A URL's password never appears in the command's output or errors.

// store is what the read commands need of a database, opened read-only:
// a [sqlite.Store] opened with [sqlite.OpenReadOnly], or a
// [postgres.Reader].
type store interface {
	history.Store
	history.RunTaskStore
	history.AttrStore
	QueueItems(ctx context.Context, f history.QueueFilter) ([]history.QueueItem, error)
}

var (
	_ store = (*sqlite.Store)(nil)
	_ store = (*postgres.Reader)(nil)
)

// isPostgres reports whether target names a PostgreSQL database rather
// than a file.
func isPostgres(target string) bool {
	t := strings.ToLower(target)
	return strings.HasPrefix(t, "postgres://") || strings.HasPrefix(t, "postgresql://")
}

// userinfo matches the user and password of a URL: "//user:password@".
var userinfo = regexp.MustCompile(`//([^/@:]*):[^/@]*@`)

// redact masks the password of every URL in s.
func redact(s string) string {
	return userinfo.ReplaceAllString(s, "//$1:xxxxx@")
}

// display is how output names target: a file's path, or a URL without its
// password.
func display(target string) string {
	if !isPostgres(target) {
		return target
	}
	if u, err := url.Parse(target); err == nil {
		return u.Redacted()
	}
	return redact(target)
}

// redactedError is an error whose text has its URLs' passwords masked; it
// wraps the original, so errors.Is still sees its sentinels.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// pgError masks the password of target, and of any URL, in err's text.
func pgError(target string, err error) error {
	if err == nil {
		return nil
	}
	msg := redact(err.Error())
	if u, perr := url.Parse(target); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
			if raw := strings.SplitN(strings.SplitN(target, "@", 2)[0], ":", 3); len(raw) == 3 && raw[2] != "" {
				msg = strings.ReplaceAll(msg, raw[2], "xxxxx")
			}
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// open opens the database read-only: a file without a lock, a PostgreSQL
// database without its lease.
func open(ctx context.Context, target string) (store, error) {
	if isPostgres(target) {
		r, err := postgres.OpenReader(ctx, target, nil)
		if err != nil {
			return nil, pgError(target, fmt.Errorf("open %s: %w", display(target), err))
		}
		return r, nil
	}
	return sqlite.OpenReadOnly(ctx, target, nil)
}

// openFile opens a SQLite database file read-only, for the commands that
// only work on one; a PostgreSQL URL is refused, naming the command.
func openFile(ctx context.Context, command, target string) (*sqlite.Store, error) {
	if isPostgres(target) {
		return nil, fmt.Errorf("%s works on a SQLite database file only, not on a PostgreSQL database (%s)", command, display(target))
	}
	return sqlite.OpenReadOnly(ctx, target, nil)
}

// openOwner takes a PostgreSQL database's lease for a command that writes
// (purge, and signal, cancel and terminate without --addr): it checks the
// schema first with a reader, so that it never creates or upgrades tables,
// and fails at once, naming the owner, while an engine holds the lease.
func openOwner(ctx context.Context, target, command, instead string) (*postgres.Store, error) {
	r, err := open(ctx, target)
	if err != nil {
		return nil, err
	}
	if err := r.Close(); err != nil {
		return nil, err
	}
	st, err := postgres.Open(ctx, target, &postgres.Options{Owner: "chorus-cli " + command + " " + defaultOwnerSuffix()})
	if errors.Is(err, history.ErrLocked) {
		return nil, pgError(target, fmt.Errorf("%s is owned by a running engine: %s: %w", display(target), instead, err))
	}
	if err != nil {
		return nil, pgError(target, fmt.Errorf("open %s: %w", display(target), err))
	}
	return st, nil
}

// defaultOwnerSuffix names the user and host in a lease the command takes.
func defaultOwnerSuffix() string {
	return strings.TrimPrefix(defaultIdentity(), "cli:")
}
