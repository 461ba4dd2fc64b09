package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdev/chorus/history"
)

// maxPurgeLimit caps PurgeFilter.Limit, so that one purge transaction
// stays short.
const maxPurgeLimit = 10000

// purgeWhere is what makes run r purgeable: ended before the cutoff ($1),
// with no pending task and no child that has not ended.
const purgeWhere = `r.status IN ` + endedStatuses + ` AND r.updated_at < $1
	AND NOT EXISTS (SELECT 1 FROM chorus_tasks AS t WHERE t.run_id = r.id)
	AND NOT EXISTS (SELECT 1 FROM chorus_runs AS c WHERE c.parent_run = r.id AND c.status NOT IN ` + endedStatuses + `)`

// PurgeRuns deletes up to f.Limit runs that ended before f.Before, with
// their journal, task, attribute and memo rows; see
// [history.Store.PurgeRuns]. The candidates are locked (FOR UPDATE) in the
// purge's transaction, which checks the lease like a commit.
func (s *Store) PurgeRuns(ctx context.Context, f history.PurgeFilter) (history.PurgeResult, error) {
	switch {
	case f.Before.IsZero():
		return history.PurgeResult{}, fmt.Errorf("%spurge: %w: Before is required (the zero time would purge nothing)", errPrefix, history.ErrInvalidPurge)
	case !timeOK(f.Before):
		return history.PurgeResult{}, fmt.Errorf("%spurge: %w: Before %v is out of range", errPrefix, history.ErrInvalidPurge, f.Before)
	case f.Limit <= 0 || f.Limit > maxPurgeLimit:
		return history.PurgeResult{}, fmt.Errorf("%spurge: %w: Limit %d is not in 1..%d", errPrefix, history.ErrInvalidPurge, f.Limit, maxPurgeLimit)
	}
	if err := s.enter("purge", ""); err != nil {
		return history.PurgeResult{}, err
	}
	defer s.mu.RUnlock()
	var res history.PurgeResult
	err := s.writeTx(ctx, "purge", func(tx pgx.Tx) error {
		p := params{encTime(f.Before)}
		q := `SELECT r.id FROM chorus_runs AS r WHERE r.id > ` + p.add(f.AfterID) + ` AND ` + purgeWhere
		if f.Workflow != "" {
			q += ` AND r.workflow = ` + p.add(f.Workflow)
		}
		q += ` ORDER BY r.id LIMIT ` + p.add(int64(f.Limit)) + ` FOR UPDATE OF r`
		rows, err := tx.Query(ctx, q, p...)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(ids) == f.Limit {
			res.Next = ids[len(ids)-1]
		}
		if len(ids) == 0 {
			return nil
		}
		for _, table := range []string{"chorus_events", "chorus_tasks", "chorus_run_attrs", "chorus_run_memo"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE run_id = ANY($1)`, ids); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM chorus_runs WHERE id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		res.Deleted = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return history.PurgeResult{}, err
	}
	return res, nil
}

// writeTx runs fn in a transaction that checks the lease first, and
// commits it. An error of fn that already names this package is returned
// as it is; any other is mapped with what.
func (s *Store) writeTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return mapErr(ctx, err, nil, what+": begin")
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if err := s.fence(ctx, tx, what); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		var de *history.QueueDedupError
		if errors.As(err, &de) || strings.HasPrefix(err.Error(), errPrefix) {
			return err
		}
		return mapErr(ctx, err, nil, what)
	}
	if err := tx.Commit(ctx); err != nil {
		return s.commitFailed(ctx, err, what)
	}
	return nil
}
