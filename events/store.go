package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/benbjohnson/clock"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/chorusdev/chorus/history"
	chorussqlite "github.com/chorusdev/chorus/history/sqlite"
)

// The events package keeps its tables in the engine's own database file,
// next to the journal, so that the outbox row is written by the journal's
// transaction. It creates them itself (CREATE ... IF NOT EXISTS) instead of
// through the store's numbered migrations, so a database without events
// has none of them. None has a run_id column, so purging a run never
// deletes an event that was not yet sent.
const schemaSQL = `
CREATE TABLE IF NOT EXISTS chorus_outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL,
    run          TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    record       BLOB,
    created_at   INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    sent_at      INTEGER
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS chorus_outbox_event_id ON chorus_outbox (event_id);
CREATE INDEX IF NOT EXISTS chorus_outbox_pending ON chorus_outbox (id) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS chorus_outbox_sent ON chorus_outbox (sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS chorus_inbox (
    source     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    state      INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT    NOT NULL DEFAULT '',
    body       BLOB,
    first_seen INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chorus_inbox_done ON chorus_inbox (updated_at) WHERE state = 1;
CREATE INDEX IF NOT EXISTS chorus_inbox_parked ON chorus_inbox (updated_at) WHERE state = 2;

CREATE TABLE IF NOT EXISTS chorus_event_catalog (
    topic   TEXT NOT NULL,
    type    TEXT NOT NULL,
    source  TEXT NOT NULL,
    summary TEXT NOT NULL,
    schema  TEXT NOT NULL,
    PRIMARY KEY (topic, type)
) STRICT, WITHOUT ROWID;
`

// triggerSQL copies each Publish marker into the outbox inside the
// transaction that journals it. The event ID names the run, the run's
// creation time (so a run ID reused after a purge gives new IDs) and the
// journal sequence number: it is the same for every delivery of the row.
const triggerSQL = `
CREATE TRIGGER chorus_outbox_capture AFTER INSERT ON events
WHEN NEW.type = 21 AND NEW.name = 'chorus.event'
BEGIN
    INSERT OR IGNORE INTO chorus_outbox (event_id, run, seq, record, created_at)
    VALUES (NEW.run_id || '/' || coalesce((SELECT created_at FROM runs WHERE id = NEW.run_id), 0) || '/' || NEW.seq,
            NEW.run_id, NEW.seq, NEW.payload, NEW.time);
END;
`

// backfillSQL copies the markers journaled before the trigger existed (an
// engine that ran before Open was first called on its database, or a
// journal table rebuilt without the trigger). The unique event ID makes it
// skip markers already in the outbox.
const backfillSQL = `
INSERT OR IGNORE INTO chorus_outbox (event_id, run, seq, record, created_at)
SELECT e.run_id || '/' || coalesce(r.created_at, 0) || '/' || e.seq, e.run_id, e.seq, e.payload, e.time
FROM events AS e LEFT JOIN runs AS r ON r.id = e.run_id
WHERE e.type = 21 AND e.name = 'chorus.event'
ORDER BY e.time, e.run_id, e.seq
`

// ErrNotChorusDatabase is returned (wrapped) by [Open] for a file that is
// not a database an engine has opened.
var ErrNotChorusDatabase = errors.New("events: not a Chorus database (open the engine on it first)")

// Options configures [Open]. A nil *Options means every default.
type Options struct {
	// BusyTimeout is how long a statement waits for the engine's writer
	// to finish its transaction. Defaults to [DefaultBusyTimeout].
	BusyTimeout time.Duration
	// Clock reads the time of outbox and inbox bookkeeping. Defaults to
	// the system clock.
	Clock clock.Clock
}

// DefaultBusyTimeout is the default [Options.BusyTimeout].
const DefaultBusyTimeout = 10 * time.Second

// Store is the events tables of one engine's database file.
type Store struct {
	db    *sql.DB
	clock clock.Clock
	path  string
}

// Open opens the events tables of the SQLite database at path, which an
// engine (chorus.Open) has created, creating them and the outbox trigger
// if they do not exist. Markers journaled before the trigger first existed
// are copied into the outbox then, so call Open at startup, before or
// after the engine's runs resume. Close the Store before the engine.
func Open(ctx context.Context, path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.BusyTimeout < 0 {
		return nil, fmt.Errorf("events: Options.BusyTimeout is negative (%v)", o.BusyTimeout)
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.Clock == nil {
		o.Clock = clock.New()
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("events: open %q: want the path of the engine's database file", path)
	}
	dsn := (&url.URL{Scheme: "file", Path: path}).String() + fmt.Sprintf("?_pragma=busy_timeout(%d)&_txlock=immediate", o.BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("events: open %q: %w", path, err)
	}
	s := &Store{db: db, clock: o.Clock, path: path}
	if err := s.install(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) install(ctx context.Context) error {
	var appID int64
	if err := s.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("events: open %q: %w", s.path, err)
	}
	if appID != chorussqlite.ApplicationID {
		return fmt.Errorf("%w: %q has application_id 0x%08x", ErrNotChorusDatabase, s.path, uint32(appID))
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("events: open %q: begin: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("events: open %q: create tables: %w", s.path, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name = 'chorus_outbox_capture'`).Scan(&n); err != nil {
		return fmt.Errorf("events: open %q: %w", s.path, err)
	}
	if n == 0 {
		if _, err := tx.ExecContext(ctx, triggerSQL); err != nil {
			return fmt.Errorf("events: open %q: create outbox trigger: %w", s.path, err)
		}
		if _, err := tx.ExecContext(ctx, backfillSQL); err != nil {
			return fmt.Errorf("events: open %q: copy earlier events into the outbox: %w", s.path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("events: open %q: commit: %w", s.path, err)
	}
	return nil
}

// Close closes the Store's connections to the database.
func (s *Store) Close() error { return s.db.Close() }

// Declare records the definitions in the database's event catalog, from
// which `chorus events asyncapi` documents the application's events.
func (s *Store) Declare(ctx context.Context, defs ...Def) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("events: declare: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, d := range defs {
		schema, err := json.Marshal(d.Schema())
		if err != nil {
			return fmt.Errorf("events: declare %s %q: schema: %w", d.Topic(), d.Type(), err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO chorus_event_catalog (topic, type, source, summary, schema) VALUES (?, ?, ?, ?, ?)`,
			d.Topic(), d.Type(), d.Source(), d.Summary(), string(schema)); err != nil {
			return fmt.Errorf("events: declare %s %q: %w", d.Topic(), d.Type(), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("events: declare: %w", err)
	}
	return nil
}

// codecOr returns c, or the engine's default codec when c is nil.
func codecOr(c history.Codec) history.Codec {
	if c == nil {
		return history.JSONCodec{}
	}
	return c
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid || n.Int64 == 0 {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
