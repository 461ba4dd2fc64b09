package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdev/chorus/history"
)

var _ history.QueueStore = (*Store)(nil)

// settleQueue marks done the started items of queue whose runs have ended.
func settleQueue(ctx context.Context, tx pgx.Tx, queue string) error {
	_, err := tx.Exec(ctx, `UPDATE chorus_queue_items SET state = 2 WHERE queue = $1 AND state = 1
		AND run_id IN (SELECT id FROM chorus_runs WHERE status IN `+endedStatuses+`)`, queue)
	return err
}

// lockQueue serializes, across processes, the transactions that change
// queue's items.
func lockQueue(ctx context.Context, tx pgx.Tx, queue string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('chorus_queue:' || $1))`, queue)
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
	if err := s.enter("enqueue", it.RunID); err != nil {
		return it, false, err
	}
	defer s.mu.RUnlock()
	it.State, it.StartedAt, it.RunStatus = history.QueueWaiting, time.Time{}, history.StatusQueued
	merged := false
	err := s.writeTx(ctx, fmt.Sprintf("enqueue %q", it.RunID), func(tx pgx.Tx) error {
		if err := lockQueue(ctx, tx, it.Queue); err != nil {
			return err
		}
		if it.DebounceKey != "" {
			var runID string
			err := tx.QueryRow(ctx, `SELECT run_id FROM chorus_queue_items WHERE queue = $1 AND debounce_key = $2 AND state = 0`,
				it.Queue, it.DebounceKey).Scan(&runID)
			switch {
			case err == nil:
				if _, err := tx.Exec(ctx, `UPDATE chorus_queue_items SET input = $1, options = $2, not_before = $3 WHERE run_id = $4`,
					blob(it.Input), blob(it.Options), encTime(it.NotBefore), runID); err != nil {
					return err
				}
				got, err := queueItem(ctx, tx, runID)
				if err != nil {
					return err
				}
				it, merged = got, true
				return nil
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		if err := settleQueue(ctx, tx, it.Queue); err != nil {
			return err
		}
		if it.DedupID != "" {
			var holder string
			err := tx.QueryRow(ctx, `SELECT run_id FROM chorus_queue_items WHERE queue = $1 AND dedup_id = $2 AND state < 2`,
				it.Queue, it.DedupID).Scan(&holder)
			if err == nil {
				return &history.QueueDedupError{Queue: it.Queue, DedupID: it.DedupID, RunID: holder}
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		now := encTime(it.EnqueuedAt)
		tag, err := tx.Exec(ctx, `INSERT INTO chorus_runs (id, workflow, status, created_at, updated_at, last_seq, first_seq, parent_step)
			VALUES ($1, $2, $3, $4, $4, 0, 1, 0) ON CONFLICT (id) DO NOTHING`,
			it.RunID, it.Workflow, int16(history.StatusQueued), now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%senqueue: run %q: %w", errPrefix, it.RunID, history.ErrRunExists)
		}
		// An item left from an earlier run under this ID (purged or
		// reused) only counted starts.
		if _, err := tx.Exec(ctx, `DELETE FROM chorus_queue_items WHERE run_id = $1`, it.RunID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO chorus_queue_items (run_id, queue, workflow, input, options, priority, dedup_id,
			partition_key, debounce_key, state, enqueued_at, not_before) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11)`,
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

func scanQueueItem(row pgx.Row) (history.QueueItem, error) {
	var it history.QueueItem
	var prio int64
	var state, status int16
	var enq, nb, started *int64
	var input, options []byte
	err := row.Scan(&it.RunID, &it.Queue, &it.Workflow, &input, &options, &prio, &it.DedupID, &it.PartitionKey,
		&it.DebounceKey, &state, &enq, &nb, &started, &status)
	if err != nil {
		return it, err
	}
	it.Input, it.Options = blob(input), blob(options)
	it.Priority, it.State, it.RunStatus = int(prio), history.QueueState(state), history.RunStatus(status)
	it.EnqueuedAt, it.NotBefore, it.StartedAt = decTime(enq), decTime(nb), decTime(started)
	return it, nil
}

func queueItem(ctx context.Context, tx pgx.Tx, runID string) (history.QueueItem, error) {
	return scanQueueItem(tx.QueryRow(ctx, `SELECT `+queueColumns+` FROM chorus_queue_items AS q LEFT JOIN chorus_runs AS r ON r.id = q.run_id
		WHERE q.run_id = $1`, runID))
}

// ClaimQueued implements [history.QueueStore]. Claims of one queue are
// serialized across processes by an advisory lock, so that the queue's
// limits hold over every process sharing the database.
func (s *Store) ClaimQueued(ctx context.Context, c history.QueueClaim) ([]history.QueueItem, time.Time, error) {
	if c.Queue == "" || c.Max <= 0 || c.Concurrency < 0 || c.PartitionConcurrency < 0 || c.RateLimit < 0 ||
		(c.RateLimit > 0 && c.RatePeriod <= 0) || !timeOK(c.Now) {
		return nil, time.Time{}, fmt.Errorf("%sclaim queue %q: malformed claim %+v", errPrefix, c.Queue, c)
	}
	if err := s.enter("claim queue", c.Queue); err != nil {
		return nil, time.Time{}, err
	}
	defer s.mu.RUnlock()
	var claimed []history.QueueItem
	var next time.Time
	later := func(t time.Time) {
		if !t.IsZero() && t.After(c.Now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	now := c.Now.UnixNano()
	err := s.writeTx(ctx, fmt.Sprintf("claim queue %q", c.Queue), func(tx pgx.Tx) error {
		claimed, next = nil, time.Time{}
		if err := lockQueue(ctx, tx, c.Queue); err != nil {
			return err
		}
		if err := settleQueue(ctx, tx, c.Queue); err != nil {
			return err
		}
		budget := c.Max
		if c.Concurrency > 0 {
			var active int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM chorus_queue_items WHERE queue = $1 AND state = 1`, c.Queue).Scan(&active); err != nil {
				return err
			}
			budget = min(budget, c.Concurrency-active)
		}
		if c.RateLimit > 0 {
			from := c.Now.Add(-c.RatePeriod).UnixNano()
			rows, err := tx.Query(ctx, `SELECT started_at FROM chorus_queue_items WHERE queue = $1 AND state > 0 AND started_at > $2
				ORDER BY started_at`, c.Queue, from)
			if err != nil {
				return err
			}
			starts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			left := c.RateLimit - len(starts)
			if left <= 0 {
				// Full: a slot frees when the oldest start leaves the window.
				later(time.Unix(0, starts[len(starts)-c.RateLimit]).UTC().Add(c.RatePeriod))
			}
			budget = min(budget, left)
			// Done items older than the window count for nothing more.
			if _, err := tx.Exec(ctx, `DELETE FROM chorus_queue_items WHERE queue = $1 AND state = 2 AND started_at <= $2`, c.Queue, from); err != nil {
				return err
			}
		} else if _, err := tx.Exec(ctx, `DELETE FROM chorus_queue_items WHERE queue = $1 AND state = 2`, c.Queue); err != nil {
			return err
		}
		var wait *int64
		if err := tx.QueryRow(ctx, `SELECT min(not_before) FROM chorus_queue_items WHERE queue = $1 AND state = 0 AND not_before > $2`,
			c.Queue, now).Scan(&wait); err != nil {
			return err
		}
		later(decTime(wait))
		if budget <= 0 {
			return nil
		}
		parts := map[string]int{}
		if c.PartitionConcurrency > 0 {
			rows, err := tx.Query(ctx, `SELECT partition_key, count(*) FROM chorus_queue_items WHERE queue = $1 AND state = 1 GROUP BY partition_key`, c.Queue)
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
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		p := params{}
		q := `SELECT ` + queueColumns + ` FROM chorus_queue_items AS q LEFT JOIN chorus_runs AS r ON r.id = q.run_id
			WHERE q.queue = ` + p.add(c.Queue) + ` AND q.state = 0 AND (q.not_before IS NULL OR q.not_before <= ` + p.add(now) + `)`
		if c.Workflows != nil {
			if len(c.Workflows) == 0 {
				return nil
			}
			q += ` AND q.workflow = ANY(` + p.add(c.Workflows) + `)`
		}
		rows, err := tx.Query(ctx, q+` ORDER BY q.priority, q.seq`, p...)
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
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range claimed {
			it := &claimed[i]
			it.State, it.StartedAt, it.RunStatus = history.QueueStarted, c.Now.UTC(), 0
			if _, err := tx.Exec(ctx, `UPDATE chorus_queue_items SET state = 1, started_at = $1 WHERE run_id = $2`, now, it.RunID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM chorus_runs WHERE id = $1 AND status = $2`, it.RunID, int16(history.StatusQueued)); err != nil {
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
	p := params{}
	var where []string
	if f.RunID != "" {
		where = append(where, `q.run_id = `+p.add(f.RunID))
	}
	if f.Queue != "" {
		where = append(where, `q.queue = `+p.add(f.Queue))
	}
	if len(f.States) > 0 {
		st := make([]int16, len(f.States))
		for i, s := range f.States {
			st[i] = int16(s)
		}
		where = append(where, `q.state = ANY(`+p.add(st)+`)`)
	}
	q := `SELECT ` + queueColumns + ` FROM chorus_queue_items AS q LEFT JOIN chorus_runs AS r ON r.id = q.run_id`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY q.queue COLLATE "C", q.state, q.priority, q.seq`, p...)
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
	if err := s.enter("cancel queued run", runID); err != nil {
		return false, err
	}
	defer s.mu.RUnlock()
	done := false
	err := s.writeTx(ctx, fmt.Sprintf("cancel queued run %q", runID), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM chorus_queue_items WHERE run_id = $1 AND state = 0`, runID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE chorus_runs SET status = $1, result = $2, failure = $3, updated_at = $4 WHERE id = $5 AND status = $6`,
			int16(st.Status), blob(st.Result), blob(st.Failure), encTime(at), runID, int16(history.StatusQueued))
		done = err == nil
		return err
	})
	return done, err
}
