package events

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/propagation"
)

// Defaults of [InboxOptions].
const (
	DefaultMaxAttempts = 5
	DefaultRetention   = 7 * 24 * time.Hour
)

// InboxOptions configures an [Inbox]. A nil *InboxOptions means every
// default.
type InboxOptions struct {
	// MaxAttempts is how many times a message is processed before it is
	// parked. Attempts are counted in the database, before processing, so
	// a message that crashes the process counts too. Defaults to
	// [DefaultMaxAttempts].
	MaxAttempts int
	// Retention is how long the ID of a processed message is remembered:
	// a duplicate arriving later than that is processed again. Parked
	// messages are kept until an operator deletes them. Defaults to
	// [DefaultRetention].
	Retention time.Duration
	// Logger reports failed and parked messages. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

func (o *InboxOptions) withDefaults() (InboxOptions, error) {
	var r InboxOptions
	if o != nil {
		r = *o
	}
	switch {
	case r.MaxAttempts < 0:
		return r, fmt.Errorf("events: InboxOptions.MaxAttempts is negative (%d)", r.MaxAttempts)
	case r.Retention < 0:
		return r, fmt.Errorf("events: InboxOptions.Retention is negative (%v)", r.Retention)
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.Retention == 0 {
		r.Retention = DefaultRetention
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r, nil
}

// Process handles one event an [Inbox] received: it starts a run, signals
// one, completes an activity. A nil error means the event is processed
// for good; an error has the broker deliver it again, until the inbox
// parks it. ctx carries the event's trace context (its traceparent), so a
// run started or signaled under it joins the publisher's trace when the
// engine has chorusotel.Propagator.
type Process func(ctx context.Context, ev event.Event) error

// Inbox makes the processing of broker messages idempotent: it remembers
// the CloudEvents source and id of every message it processed, in the
// database, and acknowledges a duplicate without processing it again; a
// message that failed MaxAttempts times is parked with its error and body
// (see [Store.Parked] and `chorus events parked`) and acknowledged, so
// that it neither blocks its topic nor is lost.
//
// The inbox records a message as processed after Process returned nil.
// A crash between the two processes it again on redelivery, so Process
// must be idempotent itself: the helpers are ([StartOn] derives the run
// ID from the event, [CompleteOn] treats an activity already completed as
// done) except [SignalOn] and [SignalWithStartOn], whose signal value
// carries the event ID for the workflow to recognise a repeat.
type Inbox struct {
	st         *Store
	o          InboxOptions
	lastPruned time.Time
}

// NewInbox returns an Inbox keeping its state in st's database.
func NewInbox(st *Store, opts *InboxOptions) (*Inbox, error) {
	if st == nil {
		return nil, errors.New("events: NewInbox needs a Store")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Inbox{st: st, o: o}, nil
}

// Handler returns the broker handler that passes each new message to p,
// once, as described on [Inbox].
func (in *Inbox) Handler(p Process) Handler {
	return func(ctx context.Context, m *Message) error { return in.Handle(ctx, m, p) }
}

// Handle processes m with p unless it was processed or parked before. It
// returns nil when the broker may forget m (processed now or before, or
// parked) and an error when it should deliver m again. A message whose
// body is not a CloudEvent is parked at once, under the source "" and
// the SHA-256 of its body.
func (in *Inbox) Handle(ctx context.Context, m *Message, p Process) error {
	in.prune(ctx)
	ev, decodeErr := DecodeMessage(m.Body)
	source, id := ev.Source(), ev.ID()
	if decodeErr != nil {
		sum := sha256.Sum256(m.Body)
		source, id = "", "sha256:"+hex.EncodeToString(sum[:])
	}
	attempts, state, err := in.begin(ctx, source, id, m)
	if err != nil {
		return err
	}
	if state != stateFailing {
		return nil // a duplicate: processed or parked before
	}
	if decodeErr != nil {
		return in.park(ctx, source, id, m, attempts, decodeErr)
	}
	perr := safeProcess(traceContext(ctx, ev), p, ev)
	if perr == nil {
		return in.finish(ctx, source, id)
	}
	if ctx.Err() != nil {
		return perr // shutting down: not the message's fault
	}
	if attempts >= in.o.MaxAttempts {
		return in.park(ctx, source, id, m, attempts, perr)
	}
	in.o.Logger.LogAttrs(ctx, slog.LevelWarn, "events: inbox attempt failed", slog.String("source", source), slog.String("id", id),
		slog.String("topic", m.Topic), slog.Int("attempt", attempts), slog.Any("error", perr))
	if _, err := in.st.db.ExecContext(context.WithoutCancel(ctx), `UPDATE chorus_inbox SET last_error = ?, updated_at = ? WHERE source = ? AND id = ?`,
		errText(perr), nanos(in.st.clock.Now()), source, id); err != nil {
		return fmt.Errorf("events: inbox: record failure of %s %s: %w (processing failed: %v)", source, id, err, perr)
	}
	return perr
}

func safeProcess(ctx context.Context, p Process, ev event.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("events: processing panicked: %v", r)
		}
	}()
	return p(ctx, ev)
}

// begin counts an attempt of the message and returns the attempts so far
// and its state; a processed or parked message is not counted.
func (in *Inbox) begin(ctx context.Context, source, id string, m *Message) (attempts, state int, err error) {
	now := nanos(in.st.clock.Now())
	err = in.st.db.QueryRowContext(ctx, `INSERT INTO chorus_inbox (source, id, topic, state, attempts, first_seen, updated_at)
		VALUES (?, ?, ?, 0, 1, ?, ?)
		ON CONFLICT (source, id) DO UPDATE SET attempts = attempts + 1, updated_at = excluded.updated_at WHERE state = 0
		RETURNING attempts, state`, source, id, m.Topic, now, now).Scan(&attempts, &state)
	if errors.Is(err, sql.ErrNoRows) {
		// The row exists and is processed or parked: the update did not apply.
		err = in.st.db.QueryRowContext(ctx, `SELECT attempts, state FROM chorus_inbox WHERE source = ? AND id = ?`, source, id).Scan(&attempts, &state)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("events: inbox: record message %s %s: %w", source, id, err)
	}
	return attempts, state, nil
}

func (in *Inbox) finish(ctx context.Context, source, id string) error {
	if _, err := in.st.db.ExecContext(context.WithoutCancel(ctx), `UPDATE chorus_inbox SET state = ?, last_error = '', updated_at = ? WHERE source = ? AND id = ?`,
		stateDone, nanos(in.st.clock.Now()), source, id); err != nil {
		return fmt.Errorf("events: inbox: mark %s %s processed: %w", source, id, err)
	}
	return nil
}

func (in *Inbox) park(ctx context.Context, source, id string, m *Message, attempts int, cause error) error {
	in.o.Logger.LogAttrs(ctx, slog.LevelError, "events: inbox parked a message", slog.String("source", source), slog.String("id", id),
		slog.String("topic", m.Topic), slog.Int("attempts", attempts), slog.Any("error", cause))
	if _, err := in.st.db.ExecContext(context.WithoutCancel(ctx), `UPDATE chorus_inbox SET state = ?, last_error = ?, body = ?, updated_at = ? WHERE source = ? AND id = ?`,
		stateParked, errText(cause), m.Body, nanos(in.st.clock.Now()), source, id); err != nil {
		return fmt.Errorf("events: inbox: park %s %s: %w (it failed with: %v)", source, id, err, cause)
	}
	return nil
}

// prune forgets processed messages older than the retention, at most
// once a minute.
func (in *Inbox) prune(ctx context.Context) {
	now := in.st.clock.Now()
	if now.Sub(in.lastPruned) < time.Minute {
		return
	}
	in.lastPruned = now
	if _, err := in.st.db.ExecContext(ctx, `DELETE FROM chorus_inbox WHERE state = ? AND updated_at < ?`,
		stateDone, nanos(now.Add(-in.o.Retention))); err != nil && ctx.Err() == nil {
		in.o.Logger.LogAttrs(ctx, slog.LevelError, "events: inbox: forget old messages", slog.Any("error", err))
	}
}

func errText(err error) string {
	s := err.Error()
	if len(s) > 4096 {
		s = s[:4096]
	}
	return s
}

// traceContext returns ctx carrying the trace context of ev's
// traceparent extension, if it has one.
func traceContext(ctx context.Context, ev event.Event) context.Context {
	tp, _ := ev.Extensions()[ExtTraceParent].(string)
	if tp == "" {
		return ctx
	}
	carrier := propagation.MapCarrier{"traceparent": tp}
	if ts, _ := ev.Extensions()[ExtTraceState].(string); ts != "" {
		carrier["tracestate"] = ts
	}
	return propagation.TraceContext{}.Extract(ctx, carrier)
}
