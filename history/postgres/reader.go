package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chorusdev/chorus/history"
)

// ErrReadOnly is wrapped by the error of every write through a [Reader]:
// a reader never writes the database, whose owner is the engine holding
// its lease.
var ErrReadOnly = errors.New("history/postgres: read-only reader: writes go through the engine that owns the database")

// ErrSchemaTooOld is wrapped by [OpenReader] for a database whose tables
// an older Chorus made and that no engine of this version has upgraded yet
// ([Open] upgrades them; a reader never writes).
var ErrSchemaTooOld = errors.New("history/postgres: database schema older than this code")

// ReaderOptions configure [OpenReader]. The zero value (or nil) is valid.
type ReaderOptions struct {
	// MaxConns caps the reader's connection pool; the default is 2.
	MaxConns int32
}

// Reader reads a Chorus database in PostgreSQL without owning it: for
// tools that inspect the journal while the engine that holds the database's
// lease runs (the chorus command's read commands and its dashboard). It
// takes no lease and no lock, never creates or upgrades the tables, and
// refuses every write: [Reader.Commit], [Reader.PurgeRuns] and the queue
// writes fail with an error wrapping [ErrReadOnly], and its sessions run
// with default_transaction_read_only on, so the server refuses a write
// too. Each read sees the transactions committed when it starts, as a
// reader of the SQLite store does.
//
// A Reader is a [history.Store], [history.RunTaskStore],
// [history.AttrStore] and [history.QueueStore]; it is safe for concurrent
// use.
type Reader struct {
	// s is a store without a lease: its read methods only use the pool
	// and the closed flag.
	s *Store
}

var (
	_ history.Store        = (*Reader)(nil)
	_ history.RunTaskStore = (*Reader)(nil)
	_ history.AttrStore    = (*Reader)(nil)
	_ history.QueueStore   = (*Reader)(nil)
)

// OpenReader connects to the PostgreSQL database of connString (a URL or
// a key=value string, as pgx takes) and checks that the schema its
// search_path names first holds Chorus tables at the version this code
// reads. A database (or schema) without them fails with an error wrapping
// [history.ErrNotChorusDatabase]; one written by a newer Chorus with
// [history.ErrSchemaTooNew]; one an older Chorus wrote and no engine of
// this version opened since with [ErrSchemaTooOld]. The connection string
// is never part of an error.
func OpenReader(ctx context.Context, connString string, opts *ReaderOptions) (*Reader, error) {
	var o ReaderOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxConns < 0 {
		return nil, fmt.Errorf("%sopen reader: MaxConns %d is negative", errPrefix, o.MaxConns)
	}
	if o.MaxConns == 0 {
		o.MaxConns = 2
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx's message quotes the connection string with its password
		// masked; keep only its reason.
		return nil, fmt.Errorf("%sopen reader: bad connection string: %v", errPrefix, parseReason(err))
	}
	cfg.MaxConns = o.MaxConns
	if _, set := cfg.ConnConfig.RuntimeParams["default_transaction_read_only"]; !set {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if _, set := cfg.ConnConfig.RuntimeParams["application_name"]; !set {
		cfg.ConnConfig.RuntimeParams["application_name"] = "chorus reader"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, mapErr(ctx, err, nil, "open reader: connect")
	}
	r := &Reader{s: &Store{pool: pool, lost: make(chan struct{})}}
	if err := r.checkSchema(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return r, nil
}

// parseReason returns the reason of pgx's error for a connection string
// it cannot parse, without the string it quotes.
func parseReason(err error) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return "cannot parse it"
	}
	inner := pe.Unwrap()
	var ue *url.Error
	switch {
	case errors.As(inner, &ue):
		return ue.Err.Error() // url.Error quotes the whole URL
	case inner != nil:
		return strings.ReplaceAll(inner.Error(), pe.ConnString, "...")
	}
	// The reason follows the quoted (masked) string.
	s := pe.Error()
	if i := strings.LastIndex(s, "`: "); i >= 0 {
		return s[i+3:]
	}
	return "cannot parse it"
}

// checkSchema refuses a schema without Chorus tables or at a version this
// code does not read.
func (r *Reader) checkSchema(ctx context.Context) error {
	var (
		schema *string
		table  *string
	)
	err := r.s.pool.QueryRow(ctx, `SELECT current_schema(), to_regclass('chorus_schema_version')::text`).Scan(&schema, &table)
	if err != nil {
		return mapErr(ctx, err, nil, "open reader: inspect the database")
	}
	if schema == nil {
		return fmt.Errorf("%sopen reader: %w: no schema of the connection's search_path exists (check search_path)",
			errPrefix, history.ErrNotChorusDatabase)
	}
	where := fmt.Sprintf("schema %q", *schema)
	if table == nil {
		return fmt.Errorf("%sopen reader: %w: %s holds no Chorus tables (no chorus_schema_version table; an engine creates them when it first opens the database)",
			errPrefix, history.ErrNotChorusDatabase, where)
	}
	var have int
	if err := r.s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM chorus_schema_version`).Scan(&have); err != nil {
		return mapErr(ctx, err, nil, "open reader: read the schema version")
	}
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("%sopen reader: %v", errPrefix, err)
	}
	switch {
	case have > len(ms):
		return fmt.Errorf("%sopen reader: %w: %s is at schema version %d, this code reads up to %d",
			errPrefix, history.ErrSchemaTooNew, where, have, len(ms))
	case have < len(ms):
		return fmt.Errorf("%sopen reader: %w: %s is at schema version %d, this code reads version %d (open it once with the engine to upgrade it)",
			errPrefix, ErrSchemaTooOld, where, have, len(ms))
	}
	return nil
}

// readOnly is the error of a write refused by a reader.
func readOnly(what string) error {
	return fmt.Errorf("%s%s: %w", errPrefix, what, ErrReadOnly)
}

// Commit refuses to write: it returns an error wrapping [ErrReadOnly] for
// every batch and as its second result.
func (r *Reader) Commit(ctx context.Context, batches []*history.Batch) ([]error, error) {
	err := readOnly("commit")
	errs := make([]error, len(batches))
	for i := range errs {
		errs[i] = err
	}
	return errs, err
}

// PurgeRuns refuses to write: it returns an error wrapping [ErrReadOnly].
func (r *Reader) PurgeRuns(ctx context.Context, f history.PurgeFilter) (history.PurgeResult, error) {
	return history.PurgeResult{}, readOnly("purge")
}

// Enqueue refuses to write: it returns an error wrapping [ErrReadOnly].
func (r *Reader) Enqueue(ctx context.Context, it history.QueueItem) (history.QueueItem, bool, error) {
	return history.QueueItem{}, false, readOnly("enqueue")
}

// ClaimQueued refuses to write: it returns an error wrapping [ErrReadOnly].
func (r *Reader) ClaimQueued(ctx context.Context, c history.QueueClaim) ([]history.QueueItem, time.Time, error) {
	return nil, time.Time{}, readOnly("claim queued runs")
}

// CancelQueued refuses to write: it returns an error wrapping [ErrReadOnly].
func (r *Reader) CancelQueued(ctx context.Context, runID string, st history.StatusUpdate, at time.Time) (bool, error) {
	return false, readOnly(fmt.Sprintf("cancel queued run %q", runID))
}

// Run returns the index row of the run, as [Store.Run] does.
func (r *Reader) Run(ctx context.Context, runID string) (history.RunInfo, error) {
	return r.s.Run(ctx, runID)
}

// ListRuns returns the runs that match f, as [Store.ListRuns] does.
func (r *Reader) ListRuns(ctx context.Context, f history.ListFilter) ([]history.RunInfo, error) {
	return r.s.ListRuns(ctx, f)
}

// Events returns the run's journal after afterSeq, as [Store.Events] does.
func (r *Reader) Events(ctx context.Context, runID string, afterSeq int64) ([]history.Event, error) {
	return r.s.Events(ctx, runID, afterSeq)
}

// Tasks returns every pending task, as [Store.Tasks] does.
func (r *Reader) Tasks(ctx context.Context) ([]history.Task, error) {
	return r.s.Tasks(ctx)
}

// RunTasks returns the run's pending tasks, as [Store.RunTasks] does.
func (r *Reader) RunTasks(ctx context.Context, runID string) ([]history.Task, error) {
	return r.s.RunTasks(ctx, runID)
}

// RunAttrs returns the run's search attributes and memo, as
// [Store.RunAttrs] does.
func (r *Reader) RunAttrs(ctx context.Context, runID string) (history.RunAttrs, error) {
	return r.s.RunAttrs(ctx, runID)
}

// CountRuns returns how many runs match f, as [Store.CountRuns] does.
func (r *Reader) CountRuns(ctx context.Context, f history.ListFilter) (int64, error) {
	return r.s.CountRuns(ctx, f)
}

// QueueItems returns the queue items matching f, as [Store.QueueItems]
// does.
func (r *Reader) QueueItems(ctx context.Context, f history.QueueFilter) ([]history.QueueItem, error) {
	return r.s.QueueItems(ctx, f)
}

// Lease describes the ownership lease of a database.
type Lease struct {
	// Owner names the engine that holds (or last held) the lease.
	Owner string
	// Epoch is the lease's fencing token.
	Epoch int64
	// ExpiresAt is when the lease ends unless its owner renews it, by the
	// database server's clock.
	ExpiresAt time.Time
	// Live reports whether the lease had not expired when it was read:
	// an engine owns the database.
	Live bool
}

// Lease reads the database's ownership lease: which engine owns the
// database, if any. ok is false when no engine ever took it.
func (r *Reader) Lease(ctx context.Context) (l Lease, ok bool, err error) {
	if err := r.s.enter("read the lease", ""); err != nil {
		return Lease{}, false, err
	}
	defer r.s.mu.RUnlock()
	err = r.s.pool.QueryRow(ctx, `SELECT owner, epoch, expires_at, expires_at > now() FROM chorus_lease WHERE name = $1`,
		leaseName).Scan(&l.Owner, &l.Epoch, &l.ExpiresAt, &l.Live)
	if errors.Is(err, pgx.ErrNoRows) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, mapErr(ctx, err, nil, "read the lease")
	}
	return l, true, nil
}

// Close closes the reader's connections. It waits for reads in flight;
// afterwards every method returns an error wrapping
// [history.ErrStoreClosed]. Closing a closed reader does nothing.
func (r *Reader) Close() error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.closed {
		return nil
	}
	r.s.closed = true
	r.s.pool.Close()
	return nil
}
