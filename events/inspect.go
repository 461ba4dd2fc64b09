package events

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/benbjohnson/clock"
)

// OutboxEvent is one row of the outbox, as [Store.Outbox] lists it.
type OutboxEvent struct {
	// Seq is the row's place in the outbox: the relay sends in this
	// order.
	Seq int64
	// ID is the CloudEvent id.
	ID string
	// Run and Step name the run that published the event and the journal
	// step of its marker.
	Run  string
	Step int64
	// Created is when the run recorded the event.
	Created time.Time
	// Attempts counts the publishes tried.
	Attempts int
	// NextAttempt is when the relay tries again after a failure.
	NextAttempt time.Time
	// LastError is the error of the last failed attempt.
	LastError string
	// Sent is when the broker confirmed the event, or zero.
	Sent time.Time
}

// ParkedMessage is a message the inbox gave up on, as [Store.Parked]
// lists it.
type ParkedMessage struct {
	// Source and ID identify the message ("" and a hash of the body when
	// the body is not a CloudEvent).
	Source, ID string
	// Topic is the topic it arrived on.
	Topic string
	// Attempts counts the times it was processed.
	Attempts int
	// Error is the error of the last attempt.
	Error string
	// Body is the message as it arrived.
	Body []byte
	// FirstSeen and Parked are when it was first received and parked.
	FirstSeen, Parked time.Time
}

// OpenReadOnly opens the events tables of the database at path for
// reading only, without taking a lock or creating anything, for tools
// that inspect a database an engine may be using.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("events: open %q: want a database file path", path)
	}
	dsn := (&url.URL{Scheme: "file", Path: path}).String() + "?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("events: open %q: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("events: open %q: %w", path, err)
	}
	return &Store{db: db, clock: clock.New(), path: path}, nil
}

// hasTable reports whether the database has the table name; a database on
// which Open was never called has none of the events tables.
func (s *Store) hasTable(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("events: %s: %w", s.path, err)
	}
	return n > 0, nil
}

// Outbox lists the outbox rows not yet sent, in the order the relay sends
// them, and the sent ones still kept too when withSent is true.
func (s *Store) Outbox(ctx context.Context, withSent bool) ([]OutboxEvent, error) {
	if ok, err := s.hasTable(ctx, "chorus_outbox"); !ok {
		return nil, err
	}
	q := `SELECT id, event_id, run, seq, created_at, attempts, next_attempt, last_error, sent_at FROM chorus_outbox`
	if !withSent {
		q += ` WHERE sent_at IS NULL`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("events: list outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxEvent
	for rows.Next() {
		var ev OutboxEvent
		var created, sent sql.NullInt64
		var next int64
		if err := rows.Scan(&ev.Seq, &ev.ID, &ev.Run, &ev.Step, &created, &ev.Attempts, &next, &ev.LastError, &sent); err != nil {
			return nil, fmt.Errorf("events: list outbox: %w", err)
		}
		ev.Created, ev.Sent = fromNanos(created), fromNanos(sent)
		ev.NextAttempt = fromNanos(sql.NullInt64{Int64: next, Valid: true})
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: list outbox: %w", err)
	}
	return out, nil
}

// Parked lists the messages the inbox parked, oldest first.
func (s *Store) Parked(ctx context.Context) ([]ParkedMessage, error) {
	if ok, err := s.hasTable(ctx, "chorus_inbox"); !ok {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT source, id, topic, attempts, last_error, body, first_seen, updated_at
		FROM chorus_inbox WHERE state = ? ORDER BY updated_at, source, id`, stateParked)
	if err != nil {
		return nil, fmt.Errorf("events: list parked messages: %w", err)
	}
	defer rows.Close()
	var out []ParkedMessage
	for rows.Next() {
		var m ParkedMessage
		var first, parked int64
		if err := rows.Scan(&m.Source, &m.ID, &m.Topic, &m.Attempts, &m.Error, &m.Body, &first, &parked); err != nil {
			return nil, fmt.Errorf("events: list parked messages: %w", err)
		}
		m.FirstSeen, m.Parked = time.Unix(0, first).UTC(), time.Unix(0, parked).UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: list parked messages: %w", err)
	}
	return out, nil
}

// inbox row states.
const (
	stateFailing = 0 // failed fewer than MaxAttempts times; will be delivered again
	stateDone    = 1 // processed; a duplicate is acknowledged and ignored
	stateParked  = 2 // failed MaxAttempts times; kept for an operator
)
