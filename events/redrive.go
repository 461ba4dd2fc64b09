package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
)

// ErrNotParked is wrapped by the error of [Inbox.Redrive] and
// [Store.DeleteParked] for a source and ID that name no parked message.
var ErrNotParked = errors.New("events: no parked message")

// Redrive processes the parked message of source and id again with p,
// once the cause of its failures is fixed (a bug deployed away, a customer
// created): a dead-letter queue's redrive. On success the message counts
// as processed, so a later duplicate is ignored as for any other; on
// failure it stays parked with the new error and one more attempt, and
// Redrive returns that error. A message that was parked because it is not
// a CloudEvent cannot be processed; delete it with [Store.DeleteParked].
// Redrive one message from one process at a time.
func (in *Inbox) Redrive(ctx context.Context, source, id string, p Process) error {
	var body []byte
	var state int
	err := in.st.db.QueryRowContext(ctx, `SELECT body, state FROM chorus_inbox WHERE source = ? AND id = ?`, source, id).Scan(&body, &state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w with source %q and ID %q", ErrNotParked, source, id)
	case err != nil:
		return fmt.Errorf("events: redrive %s %s: %w", source, id, err)
	case state != stateParked:
		return fmt.Errorf("%w with source %q and ID %q: the message is %s", ErrNotParked, source, id, stateName(state))
	}
	ev, err := DecodeMessage(body)
	if err != nil {
		return fmt.Errorf("events: redrive %s %s: %w (delete it with DeleteParked)", source, id, err)
	}
	perr := safeProcess(traceContext(ctx, ev), p, ev)
	if perr == nil {
		in.o.Logger.LogAttrs(ctx, slog.LevelInfo, "events: inbox processed a parked message", slog.String("source", source), slog.String("id", id))
		return in.finish(ctx, source, id)
	}
	if _, err := in.st.db.ExecContext(context.WithoutCancel(ctx), `UPDATE chorus_inbox SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE source = ? AND id = ?`,
		errText(perr), nanos(in.st.clock.Now()), source, id); err != nil {
		return fmt.Errorf("events: redrive %s %s: record its failure: %w (processing failed: %v)", source, id, err, perr)
	}
	return fmt.Errorf("events: redrive %s %s: %w", source, id, perr)
}

// DeleteParked deletes the parked message of source and id, for good: an
// operator's decision that it will never be processed.
func (s *Store) DeleteParked(ctx context.Context, source, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM chorus_inbox WHERE source = ? AND id = ? AND state = ?`, source, id, stateParked)
	if err != nil {
		return fmt.Errorf("events: delete parked %s %s: %w", source, id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("events: delete parked %s %s: %w", source, id, err)
	} else if n == 0 {
		return fmt.Errorf("%w with source %q and ID %q", ErrNotParked, source, id)
	}
	return nil
}

func stateName(state int) string {
	switch state {
	case stateFailing:
		return "still being delivered (not parked yet)"
	case stateDone:
		return "processed"
	}
	return fmt.Sprintf("in state %d", state)
}
