package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/chorusdev/chorus/history"
)

// maxPurgeLimit caps PurgeFilter.Limit: one purge transaction holds the
// writer, so it must stay short, and the run IDs are bound as parameters.
const maxPurgeLimit = 10000

// endedStatuses is the SQL list of the statuses history.RunStatus.Ended
// reports as ended.
const endedStatuses = `(2, 3, 4, 6, 7)`

// purgeWhere is what makes run r purgeable: ended before the cutoff (the
// first parameter), with no pending task (the engine still owes the run's
// parent a report, or the run's children their close policy) and no child
// that has not ended (it will report to the run).
//
// The unary plus keeps SQLite from searching by the status index, whose
// results it would have to sort by ID in full before the LIMIT: walking the
// primary key in ID order from the cursor stops at the limit instead, so a
// whole purge reads each run once.
const purgeWhere = `+r.status IN ` + endedStatuses + ` AND r.updated_at < ?
	AND NOT EXISTS (SELECT 1 FROM tasks AS t WHERE t.run_id = r.id)
	AND NOT EXISTS (SELECT 1 FROM runs AS c WHERE c.parent_run = r.id AND c.status NOT IN ` + endedStatuses + `)`

// PurgeRuns deletes up to f.Limit runs that ended before f.Before, with
// their events; see [history.Store.PurgeRuns]. The search for candidates,
// which may read many rows, runs on a reader connection, so it never holds
// up the engine's commits; the writer's transaction then checks each
// candidate again by its ID and deletes those still purgeable. It takes
// turns with Commit, so a purge made of small calls lets the engine's
// commits through between them.
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
	what := fmt.Sprintf("purge %q", s.path)

	q, args := `SELECT r.id FROM runs AS r WHERE r.id > ? AND `+purgeWhere, []any{f.AfterID, encTime(f.Before)}
	if f.Workflow != "" {
		q += ` AND r.workflow = ?`
		args = append(args, f.Workflow)
	}
	ids, err := s.purgeCandidates(ctx, q+` ORDER BY r.id LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return history.PurgeResult{}, mapErr(ctx, err, nil, what+": select")
	}
	var res history.PurgeResult
	if len(ids) == f.Limit {
		// Every run up to the last candidate was looked at; fewer
		// candidates than the limit means every run was.
		res.Next = ids[len(ids)-1].(string)
	}
	if len(ids) == 0 {
		return res, nil
	}

	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	defer s.afterCommit(ctx)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return history.PurgeResult{}, mapErr(ctx, err, nil, what+": begin")
	}
	defer func() { _ = tx.Rollback() }()
	in := `(` + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + `)`
	// The candidates still purgeable now that the writer is held (one may
	// have been reused, or have gained a task, since the read).
	rows, err := tx.QueryContext(ctx, `SELECT r.id FROM runs AS r WHERE r.id IN `+in+` AND `+purgeWhere,
		append(slices.Clone(ids), encTime(f.Before))...)
	if err != nil {
		return history.PurgeResult{}, mapErr(ctx, err, nil, what+": check")
	}
	ids, err = scanIDs(rows)
	if err != nil {
		return history.PurgeResult{}, mapErr(ctx, err, nil, what+": check")
	}
	if len(ids) == 0 {
		return res, nil
	}
	in = `(` + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + `)`
	// Every table that holds rows of a run: events, tasks (a purgeable
	// run has none; this guards against an orphan) and whatever table a
	// later migration adds, found by its run_id column, so that no row
	// outlives its run.
	tables, err := runTables(ctx, tx)
	if err != nil {
		return history.PurgeResult{}, mapErr(ctx, err, nil, what+": list tables")
	}
	for _, table := range tables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE run_id IN `+in, ids...); err != nil {
			return history.PurgeResult{}, mapErr(ctx, err, nil, what+": delete "+table)
		}
	}
	// The file chain keeps a purged run's place, ID and head, so that it
	// still verifies (see VerifyChains).
	if _, err := tx.ExecContext(ctx, `INSERT INTO chain_purged (pos, purged_run, last_seq, head)
		SELECT chain_pos, id, last_seq, chain_hash FROM runs WHERE id IN `+in+` AND chain_pos IS NOT NULL`, ids...); err != nil {
		return history.PurgeResult{}, mapErr(ctx, err, nil, what+": record purged chains")
	}
	del, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE id IN `+in, ids...)
	if err != nil {
		return history.PurgeResult{}, mapErr(ctx, err, nil, what+": delete runs")
	}
	n, err := del.RowsAffected()
	if err != nil {
		return history.PurgeResult{}, mapErr(ctx, err, nil, what+": delete runs")
	}
	for _, id := range ids {
		s.heads.forget(id.(string))
	}
	if err := tx.Commit(); err != nil {
		return history.PurgeResult{}, mapErr(ctx, err, nil, what+": commit (outcome unknown)")
	}
	res.Deleted = int(n)
	return res, nil
}

// purgeCandidates runs the candidate search on the reader pool.
func (s *Store) purgeCandidates(ctx context.Context, q string, args ...any) ([]any, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanIDs(rows)
}

// scanIDs reads a column of run IDs and closes rows.
func scanIDs(rows *sql.Rows) ([]any, error) {
	defer rows.Close()
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// runTables returns the tables, other than runs, that have a run_id
// column, in name order.
func runTables(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.name FROM sqlite_schema AS m, pragma_table_info(m.name) AS c
		WHERE m.type = 'table' AND c.name = 'run_id' AND m.name <> 'runs' ORDER BY m.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, `"`+strings.ReplaceAll(n, `"`, `""`)+`"`)
	}
	return names, rows.Err()
}
