package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chorusdev/chorus/history"
)

var _ history.QueueStore = (*Store)(nil)

// queueTx runs fn in a write transaction, serialized with Commit.
func (s *Store) queueTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	if err := s.enter(what, ""); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	defer s.afterCommit(ctx)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(ctx, err, nil, what+": begin")
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		var de *history.QueueDedupError
		if errors.As(err, &de) || errors.Is(err, history.ErrRunExists) {
			return err
		}
		return mapErr(ctx, err, nil, what)
	}
	return mapErr(ctx, tx.Commit(), nil, what+": commit")
}

// settleQueue marks done the started items of queue whose runs have ended.
func settleQueue(ctx context.Context, tx *sql.Tx, queue string) error {
	_, err := tx.ExecContext(ctx, `UPDATE queue_items SET state = 2 WHERE queue = ? AND state = 1
		AND run_id IN (SELECT id FROM runs WHERE status IN `+endedStatuses+`)`, queue)
	return err
}

// Enqueue implements [history.QueueStore].
func (s *Store) Enqueue(ctx context.Context, it history.QueueItem) (history.QueueItem, bool, error) {
	switch {
	case it.RunID == "" || it.Queue == "" || it.Workflow == "":
		return it, false, fmt.Errorf("%senqueue: RunID, Queue and Workflow are required", errPrefix)
	case !timeOK(it.EnqueuedAt) || it.EnqueuedAt.IsZero() || !timeOK(it.NotBefore):
		return it, false, fmt.Errorf("%senqueue %q: EnqueuedAt or NotBefore out of range", errPrefix, it.RunID)
	}
	it.State, it.StartedAt, it.RunStatus = history.QueueWaiting, time.Time{}, history.StatusQueued
	merged := false
	err := s.queueTx(ctx, fmt.Sprintf("enqueue %q", it.RunID), func(tx *sql.Tx) error {
		if it.DebounceKey != "" {
			var runID string
			err := tx.QueryRowContext(ctx, `SELECT run_id FROM queue_items WHERE queue = ? AND debounce_key = ? AND state = 0`,
				it.Queue, it.DebounceKey).Scan(&runID)
			switch {
			case err == nil:
				if _, err := tx.ExecContext(ctx, `UPDATE queue_items SET input = ?, options = ?, not_before = ? WHERE run_id = ?`,
					blob(it.Input), blob(it.Options), encTime(it.NotBefore), runID); err != nil {
					return err
				}
				got, err := queueItem(ctx, tx, runID)
				if err != nil {
					return err
				}
				it, merged = got, true
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		if err := settleQueue(ctx, tx, it.Queue); err != nil {
			return err
		}
		if it.DedupID != "" {
			var holder string
			err := tx.QueryRowContext(ctx, `SELECT run_id FROM queue_items WHERE queue = ? AND dedup_id = ? AND state < 2`,
				it.Queue, it.DedupID).Scan(&holder)
			if err == nil {
				return &history.QueueDedupError{Queue: it.Queue, DedupID: it.DedupID, RunID: holder}
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		now := encTime(it.EnqueuedAt)
		s.addRunIDs(it.RunID)
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (id, workflow, status, created_at, updated_at, last_seq, first_seq,
			parent_run, parent_step, result, failure, sum, outcome_sum) VALUES (?, ?, ?, ?, ?, 0, 1, NULL, 0, NULL, NULL, ?, ?)
			ON CONFLICT (id) DO NOTHING`,
			it.RunID, it.Workflow, int64(history.StatusQueued), now, now,
			runSum(it.RunID, it.Workflow, it.EnqueuedAt, "", 0), outcomeSum(it.RunID, history.StatusQueued, nil, nil))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%senqueue: run %q: %w", errPrefix, it.RunID, history.ErrRunExists)
		}
		// An item left from an earlier run under this ID (purged or
		// reused) only counted starts.
		if _, err := tx.ExecContext(ctx, `DELETE FROM queue_items WHERE run_id = ?`, it.RunID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO queue_items (run_id, queue, workflow, input, options, priority, dedup_id,
			partition_key, debounce_key, state, enqueued_at, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
			it.RunID, it.Queue, it.Workflow, blob(it.Input), blob(it.Options), int64(it.Priority), text(it.DedupID),
			it.PartitionKey, text(it.DebounceKey), now, encTime(it.NotBefore))
		return err
	})
	if err != nil {
		return history.QueueItem{}, false, err
	}
	return it, merged, nil
}

const queueColumns = `q.run_id, q.queue, q.workflow, q.input, q.options, q.priority, coalesce(q.dedup_id, ''), q.partition_key,
	coalesce(q.debounce_key, ''), q.state, q.enqueued_at, q.not_before, q.started_at, coalesce(r.status, 0)`

type rowScanner interface{ Scan(...any) error }

func scanQueueItem(sc rowScanner) (history.QueueItem, error) {
	var it history.QueueItem
	var prio, state, status int64
	var enq, nb, started sql.NullInt64
	err := sc.Scan(&it.RunID, &it.Queue, &it.Workflow, &it.Input, &it.Options, &prio, &it.DedupID, &it.PartitionKey,
		&it.DebounceKey, &state, &enq, &nb, &started, &status)
	if err != nil {
		return it, err
	}
	it.Priority, it.State, it.RunStatus = int(prio), history.QueueState(state), history.RunStatus(status)
	it.EnqueuedAt, it.NotBefore, it.StartedAt = nullTime(enq), nullTime(nb), nullTime(started)
	return it, nil
}

func nullTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}

func queueItem(ctx context.Context, tx *sql.Tx, runID string) (history.QueueItem, error) {
	return scanQueueItem(tx.QueryRowContext(ctx, `SELECT `+queueColumns+` FROM queue_items AS q LEFT JOIN runs AS r ON r.id = q.run_id
		WHERE q.run_id = ?`, runID))
}

// ClaimQueued implements [history.QueueStore].
func (s *Store) ClaimQueued(ctx context.Context, c history.QueueClaim) ([]history.QueueItem, time.Time, error) {
	if c.Queue == "" || c.Max <= 0 || c.Concurrency < 0 || c.PartitionConcurrency < 0 || c.RateLimit < 0 ||
		(c.RateLimit > 0 && c.RatePeriod <= 0) || !timeOK(c.Now) {
		return nil, time.Time{}, fmt.Errorf("%sclaim queue %q: malformed claim %+v", errPrefix, c.Queue, c)
	}
	var claimed []history.QueueItem
	var next time.Time
	later := func(t time.Time) {
		if !t.IsZero() && t.After(c.Now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	now := c.Now.UnixNano()
	err := s.queueTx(ctx, fmt.Sprintf("claim queue %q", c.Queue), func(tx *sql.Tx) error {
		if err := settleQueue(ctx, tx, c.Queue); err != nil {
			return err
		}
		budget := c.Max
		if c.Concurrency > 0 {
			var active int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM queue_items WHERE queue = ? AND state = 1`, c.Queue).Scan(&active); err != nil {
				return err
			}
			budget = min(budget, c.Concurrency-active)
		}
		if c.RateLimit > 0 {
			from := c.Now.Add(-c.RatePeriod).UnixNano()
			rows, err := tx.QueryContext(ctx, `SELECT started_at FROM queue_items WHERE queue = ? AND state > 0 AND started_at > ?
				ORDER BY started_at`, c.Queue, from)
			if err != nil {
				return err
			}
			var starts []int64
			for rows.Next() {
				var at int64
				if err := rows.Scan(&at); err != nil {
					rows.Close()
					return err
				}
				starts = append(starts, at)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			left := c.RateLimit - len(starts)
			if left <= 0 {
				// Full: a slot frees when the oldest start leaves the window.
				later(time.Unix(0, starts[len(starts)-c.RateLimit]).UTC().Add(c.RatePeriod))
			}
			budget = min(budget, left)
			// Done items older than the window count for nothing more.
			if _, err := tx.ExecContext(ctx, `DELETE FROM queue_items WHERE queue = ? AND state = 2 AND started_at <= ?`, c.Queue, from); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, `DELETE FROM queue_items WHERE queue = ? AND state = 2`, c.Queue); err != nil {
			return err
		}
		var wait sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT min(not_before) FROM queue_items WHERE queue = ? AND state = 0 AND not_before > ?`,
			c.Queue, now).Scan(&wait); err != nil {
			return err
		}
		later(nullTime(wait))
		if budget <= 0 {
			return nil
		}
		parts := map[string]int{}
		if c.PartitionConcurrency > 0 {
			rows, err := tx.QueryContext(ctx, `SELECT partition_key, count(*) FROM queue_items WHERE queue = ? AND state = 1 GROUP BY partition_key`, c.Queue)
			if err != nil {
				return err
			}
			for rows.Next() {
				var k string
				var n int
				if err := rows.Scan(&k, &n); err != nil {
					rows.Close()
					return err
				}
				parts[k] = n
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		q, args := `SELECT `+queueColumns+` FROM queue_items AS q LEFT JOIN runs AS r ON r.id = q.run_id
			WHERE q.queue = ? AND q.state = 0 AND (q.not_before IS NULL OR q.not_before <= ?)`, []any{c.Queue, now}
		if c.Workflows != nil {
			if len(c.Workflows) == 0 {
				return nil
			}
			q += ` AND q.workflow IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(c.Workflows)), ", ") + `)`
			for _, w := range c.Workflows {
				args = append(args, w)
			}
		}
		rows, err := tx.QueryContext(ctx, q+` ORDER BY q.priority, q.seq`, args...)
		if err != nil {
			return err
		}
		for rows.Next() && len(claimed) < budget {
			it, err := scanQueueItem(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if c.PartitionConcurrency > 0 {
				if parts[it.PartitionKey] >= c.PartitionConcurrency {
					continue
				}
				parts[it.PartitionKey]++
			}
			claimed = append(claimed, it)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for i := range claimed {
			it := &claimed[i]
			it.State, it.StartedAt, it.RunStatus = history.QueueStarted, c.Now.UTC(), 0
			if _, err := tx.ExecContext(ctx, `UPDATE queue_items SET state = 1, started_at = ? WHERE run_id = ?`, now, it.RunID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE id = ? AND status = ?`, it.RunID, int64(history.StatusQueued)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return claimed, next, nil
}

// QueueItems implements [history.QueueStore].
func (s *Store) QueueItems(ctx context.Context, f history.QueueFilter) ([]history.QueueItem, error) {
	if err := s.enter("read queue items", ""); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	q, args := `SELECT `+queueColumns+` FROM queue_items AS q LEFT JOIN runs AS r ON r.id = q.run_id WHERE 1`, []any{}
	if f.RunID != "" {
		q += ` AND q.run_id = ?`
		args = append(args, f.RunID)
	}
	if f.Queue != "" {
		q += ` AND q.queue = ?`
		args = append(args, f.Queue)
	}
	if len(f.States) > 0 {
		q += ` AND q.state IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(f.States)), ", ") + `)`
		for _, st := range f.States {
			args = append(args, int64(st))
		}
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY q.queue, q.state, q.priority, q.seq`, args...)
	if err != nil {
		return nil, mapErr(ctx, err, nil, "read queue items")
	}
	defer rows.Close()
	var out []history.QueueItem
	for rows.Next() {
		it, err := scanQueueItem(rows)
		if err != nil {
			return nil, mapErr(ctx, err, nil, "read queue items")
		}
		out = append(out, it)
	}
	return out, mapErr(ctx, rows.Err(), nil, "read queue items")
}

// CancelQueued implements [history.QueueStore].
func (s *Store) CancelQueued(ctx context.Context, runID string, st history.StatusUpdate, at time.Time) (bool, error) {
	if !st.Status.Ended() || !timeOK(at) {
		return false, fmt.Errorf("%scancel queued run %q: status %v is not an ended status, or the time is out of range", errPrefix, runID, st.Status)
	}
	done := false
	err := s.queueTx(ctx, fmt.Sprintf("cancel queued run %q", runID), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM queue_items WHERE run_id = ? AND state = 0`, runID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET status = ?, result = ?, failure = ?, outcome_sum = ?, updated_at = ? WHERE id = ? AND status = ?`,
			int64(st.Status), blob(st.Result), blob(st.Failure), outcomeSum(runID, st.Status, st.Result, st.Failure), encTime(at),
			runID, int64(history.StatusQueued))
		done = err == nil
		return err
	})
	return done, err
}
