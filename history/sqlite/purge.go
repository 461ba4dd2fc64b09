package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/chorusdev/chorus/history"
)

// maxPurgeLimit caps PurgeFilter.Limit: one purge transaction holds the
// writer, so it must stay short, and the run IDs are bound as parameters.
const maxPurgeLimit = 10000

// endedStatuses is the SQL list of the statuses history.RunStatus.Ended
// reports as ended.
const endedStatuses = `(2, 3, 4, 6, 7)`

// purgeSelect picks the runs a purge may delete: ended before the cutoff,
// with no pending task (the engine still owes the run's parent a report,
// or the run's children their close policy) and no child that has not
// ended (it will report to the run). The optional workflow filter is
// appended by PurgeRuns.
const purgeSelect = `SELECT r.id FROM runs AS r
	WHERE r.status IN ` + endedStatuses + ` AND r.updated_at < ?
	AND NOT EXISTS (SELECT 1 FROM tasks AS t WHERE t.run_id = r.id)
	AND NOT EXISTS (SELECT 1 FROM runs AS c WHERE c.parent_run = r.id AND c.status NOT IN ` + endedStatuses + `)`

// PurgeRuns deletes up to f.Limit runs that ended before f.Before, with
// their events, in one transaction on the writer connection; see
// [history.Store.PurgeRuns]. It takes turns with Commit, so a purge made
// of small calls lets the engine's commits through between them.
func (s *Store) PurgeRuns(ctx context.Context, f history.PurgeFilter) (int, error) {
	switch {
	case f.Before.IsZero():
		return 0, fmt.Errorf("%spurge: %w: Before is required (the zero time would purge nothing)", errPrefix, history.ErrInvalidPurge)
	case !timeOK(f.Before):
		return 0, fmt.Errorf("%spurge: %w: Before %v is out of range", errPrefix, history.ErrInvalidPurge, f.Before)
	case f.Limit <= 0 || f.Limit > maxPurgeLimit:
		return 0, fmt.Errorf("%spurge: %w: Limit %d is not in 1..%d", errPrefix, history.ErrInvalidPurge, f.Limit, maxPurgeLimit)
	}
	if err := s.enter("purge", ""); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()

	what := fmt.Sprintf("purge %q", s.path)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, mapErr(ctx, err, nil, what+": begin")
	}
	defer func() { _ = tx.Rollback() }()

	q, args := purgeSelect, []any{encTime(f.Before)}
	if f.Workflow != "" {
		q += ` AND r.workflow = ?`
		args = append(args, f.Workflow)
	}
	q += ` LIMIT ?`
	args = append(args, f.Limit)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, mapErr(ctx, err, nil, what+": select")
	}
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return 0, mapErr(ctx, err, nil, what+": select")
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return 0, mapErr(ctx, err, nil, what+": select")
	}
	if err := rows.Err(); err != nil {
		return 0, mapErr(ctx, err, nil, what+": select")
	}
	if len(ids) == 0 {
		return 0, nil
	}
	in := `(` + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + `)`
	// Every table that holds rows of a run, children first. The selection
	// excludes runs with tasks, but a task written against the same
	// snapshot is impossible (the writer is held), so the tasks delete is
	// only a guard against an orphan.
	for _, table := range []string{"events", "tasks"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE run_id IN `+in, ids...); err != nil {
			return 0, mapErr(ctx, err, nil, what+": delete "+table)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE id IN `+in, ids...)
	if err != nil {
		return 0, mapErr(ctx, err, nil, what+": delete runs")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, mapErr(ctx, err, nil, what+": delete runs")
	}
	if err := tx.Commit(); err != nil {
		return 0, mapErr(ctx, err, nil, what+": commit (outcome unknown)")
	}
	return int(n), nil
}
