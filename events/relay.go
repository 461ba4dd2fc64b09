package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/chorusdev/chorus/history"
)

// Defaults of [RelayOptions].
const (
	DefaultBatchSize     = 256
	DefaultPollInterval  = 20 * time.Millisecond
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultSentRetention = 24 * time.Hour
)

// RelayOptions configures a [Relay]. A nil *RelayOptions means every
// default.
type RelayOptions struct {
	// Source is the CloudEvents source of events whose definition names
	// none. Defaults to [DefaultSource].
	Source string
	// Codec decodes the journaled markers: give the engine's
	// Options.Codec if it is not the default. Defaults to
	// history.JSONCodec.
	Codec history.Codec
	// BatchSize is how many outbox rows one pass reads. Defaults to
	// [DefaultBatchSize].
	BatchSize int
	// PollInterval is how long the relay waits to look at the outbox
	// again after a pass that found nothing to send. Defaults to
	// [DefaultPollInterval].
	PollInterval time.Duration
	// MinBackoff is the wait before the second attempt of an event the
	// broker refused; each further attempt doubles it, up to MaxBackoff,
	// with up to 20% random jitter. Defaults to [DefaultMinBackoff].
	MinBackoff time.Duration
	// MaxBackoff caps the wait between attempts. Defaults to
	// [DefaultMaxBackoff].
	MaxBackoff time.Duration
	// SentRetention is how long a sent event stays in the outbox (for
	// inspection) before the relay deletes it. Defaults to
	// [DefaultSentRetention].
	SentRetention time.Duration
	// Logger reports failed publishes. Defaults to slog.Default().
	Logger *slog.Logger
	// Wakeup, installed as the engine's observer, wakes the relay when a
	// run commits an event, instead of at its next poll. Defaults to nil:
	// the relay polls every PollInterval.
	Wakeup *Wakeup
}

func (o *RelayOptions) withDefaults() RelayOptions {
	var r RelayOptions
	if o != nil {
		r = *o
	}
	if r.Source == "" {
		r.Source = DefaultSource
	}
	r.Codec = codecOr(r.Codec)
	if r.BatchSize == 0 {
		r.BatchSize = DefaultBatchSize
	}
	if r.PollInterval == 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.MinBackoff == 0 {
		r.MinBackoff = DefaultMinBackoff
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = DefaultMaxBackoff
	}
	if r.SentRetention == 0 {
		r.SentRetention = DefaultSentRetention
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r
}

func (o *RelayOptions) validate() error {
	switch {
	case o.BatchSize < 0:
		return fmt.Errorf("events: RelayOptions.BatchSize is negative (%d)", o.BatchSize)
	case o.PollInterval < 0:
		return fmt.Errorf("events: RelayOptions.PollInterval is negative (%v)", o.PollInterval)
	case o.MinBackoff < 0:
		return fmt.Errorf("events: RelayOptions.MinBackoff is negative (%v)", o.MinBackoff)
	case o.MaxBackoff < 0 || o.MaxBackoff != 0 && o.MaxBackoff < o.MinBackoff:
		return fmt.Errorf("events: RelayOptions.MaxBackoff (%v) is negative or under MinBackoff (%v)", o.MaxBackoff, o.MinBackoff)
	case o.SentRetention < 0:
		return fmt.Errorf("events: RelayOptions.SentRetention is negative (%v)", o.SentRetention)
	}
	return nil
}

// Relay delivers the outbox of one database to a [Publisher]. Run one
// Relay per database: two would each deliver every event, and the order
// per key would no longer hold.
type Relay struct {
	st         *Store
	pub        Publisher
	o          RelayOptions
	lastPruned time.Time
}

// NewRelay returns a Relay from st's outbox to pub.
func NewRelay(st *Store, pub Publisher, opts *RelayOptions) (*Relay, error) {
	if st == nil || pub == nil {
		return nil, errors.New("events: NewRelay needs a Store and a Publisher")
	}
	if opts != nil {
		if err := opts.validate(); err != nil {
			return nil, err
		}
	}
	return &Relay{st: st, pub: pub, o: opts.withDefaults()}, nil
}

// Run delivers events until ctx is done, then returns nil. It returns an
// error only when the database fails.
func (r *Relay) Run(ctx context.Context) error {
	for {
		n, err := r.Flush(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		var wake chan struct{}
		if r.o.Wakeup != nil {
			wake = r.o.Wakeup.ch
		}
		t := r.st.clock.Timer(r.o.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}

type outboxRow struct {
	id       int64
	eventID  string
	run      string
	blob     []byte
	attempts int
	due      int64
}

// Flush makes one pass over the outbox: it publishes, in outbox order,
// every unsent event that is due and whose key has no earlier event
// waiting, and marks those the broker confirmed as sent, a batch of
// BatchSize rows at a time. It returns how many it sent. An event the
// broker refuses is tried again after a backoff; the events of the same
// topic and key after it wait for it, and the other keys go on.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	r.prune(ctx)
	blocked := map[[2]string]bool{}
	total := 0
	var after int64
	for {
		rows, err := r.pending(ctx, after)
		if err != nil {
			return total, err
		}
		n, err := r.flushBatch(ctx, rows, blocked)
		total += n
		if err != nil || len(rows) < r.o.BatchSize || ctx.Err() != nil {
			return total, err
		}
		after = rows[len(rows)-1].id
	}
}

// flushBatch publishes the due rows of one batch whose keys are not
// blocked, blocking the key of each row it cannot send.
func (r *Relay) flushBatch(ctx context.Context, rows []outboxRow, blocked map[[2]string]bool) (int, error) {
	now := r.st.clock.Now()
	var sent []int64
	for _, row := range rows {
		if ctx.Err() != nil {
			break
		}
		var rec record
		if err := r.o.Codec.Unmarshal(row.blob, &rec); err != nil {
			// Its key is unknown, so it blocks none: it is reported on
			// every pass until the relay is given the engine's codec.
			r.fail(ctx, row, now, fmt.Errorf("decode outbox row %d (event %s): %w", row.id, row.eventID, err))
			continue
		}
		k := [2]string{rec.Topic, rec.Key}
		if blocked[k] {
			continue
		}
		if row.due > nanos(now) {
			blocked[k] = true
			continue
		}
		ev, err := envelope(row.eventID, row.run, &rec, r.o.Source)
		if err != nil {
			blocked[k] = true
			r.fail(ctx, row, now, fmt.Errorf("build CloudEvent of outbox row %d (event %s): %w", row.id, row.eventID, err))
			continue
		}
		body, err := ev.MarshalJSON()
		if err != nil {
			blocked[k] = true
			r.fail(ctx, row, now, fmt.Errorf("encode CloudEvent %s: %w", row.eventID, err))
			continue
		}
		if err := r.pub.Publish(ctx, &Message{Topic: rec.Topic, Key: rec.Key, ID: row.eventID, Body: body}); err != nil {
			blocked[k] = true
			if ctx.Err() == nil {
				r.fail(ctx, row, now, fmt.Errorf("publish event %s to %s: %w", row.eventID, rec.Topic, err))
			}
			continue
		}
		sent = append(sent, row.id)
	}
	if len(sent) == 0 {
		return 0, nil
	}
	// Marked with a context of its own: a relay stopping between the
	// broker's confirmation and this update would send the batch again.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.markSent(mctx, sent, r.st.clock.Now()); err != nil {
		return 0, err
	}
	return len(sent), nil
}

func (r *Relay) pending(ctx context.Context, after int64) ([]outboxRow, error) {
	q, err := r.st.db.QueryContext(ctx, `SELECT id, event_id, run, record, attempts, next_attempt FROM chorus_outbox
		WHERE sent_at IS NULL AND id > ? ORDER BY id LIMIT ?`, after, r.o.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("events: read outbox: %w", err)
	}
	defer q.Close()
	var rows []outboxRow
	for q.Next() {
		var row outboxRow
		if err := q.Scan(&row.id, &row.eventID, &row.run, &row.blob, &row.attempts, &row.due); err != nil {
			return nil, fmt.Errorf("events: read outbox: %w", err)
		}
		rows = append(rows, row)
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("events: read outbox: %w", err)
	}
	return rows, nil
}

func (r *Relay) markSent(ctx context.Context, ids []int64, now time.Time) error {
	tx, err := r.st.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("events: mark sent: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, `UPDATE chorus_outbox SET sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("events: mark sent: %w", err)
	}
	defer stmt.Close()
	for _, id := range ids {
		if _, err := stmt.ExecContext(ctx, nanos(now), id); err != nil {
			return fmt.Errorf("events: mark outbox row %d sent: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("events: mark sent: %w", err)
	}
	return nil
}

// fail records a failed attempt of row and when to try it next.
func (r *Relay) fail(ctx context.Context, row outboxRow, now time.Time, cause error) {
	attempts := row.attempts + 1
	next := now.Add(r.backoff(attempts))
	r.o.Logger.LogAttrs(ctx, slog.LevelWarn, "events: relay attempt failed", slog.Int64("outbox_id", row.id),
		slog.String("event_id", row.eventID), slog.Int("attempt", attempts), slog.Time("next_attempt", next), slog.Any("error", cause))
	if _, err := r.st.db.ExecContext(context.WithoutCancel(ctx), `UPDATE chorus_outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?`,
		attempts, nanos(next), cause.Error(), row.id); err != nil {
		r.o.Logger.LogAttrs(ctx, slog.LevelError, "events: record failed attempt", slog.Int64("outbox_id", row.id), slog.Any("error", err))
	}
}

// backoff returns the wait after the attempt-th failed attempt.
func (r *Relay) backoff(attempt int) time.Duration {
	d := r.o.MinBackoff
	for i := 1; i < attempt && d < r.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.o.MaxBackoff)
	if d > 0 {
		d -= time.Duration(rand.Int64N(int64(d)/5 + 1))
	}
	return d
}

// prune deletes sent events older than the retention, at most once a
// minute.
func (r *Relay) prune(ctx context.Context) {
	now := r.st.clock.Now()
	if now.Sub(r.lastPruned) < time.Minute {
		return
	}
	r.lastPruned = now
	if _, err := r.st.db.ExecContext(ctx, `DELETE FROM chorus_outbox WHERE sent_at IS NOT NULL AND sent_at < ?`,
		nanos(now.Add(-r.o.SentRetention))); err != nil && ctx.Err() == nil {
		r.o.Logger.LogAttrs(ctx, slog.LevelError, "events: prune sent events", slog.Any("error", err))
	}
}
