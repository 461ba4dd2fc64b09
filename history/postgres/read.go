package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdev/chorus/history"
)

// runColumns are the columns of a run row that scanRun reads, in order.
const runColumns = `id, workflow, status, created_at, updated_at, last_seq, first_seq, parent_run, parent_step, result, failure`

// Run returns the index row of the run, or an error wrapping
// history.ErrRunNotFound.
func (s *Store) Run(ctx context.Context, runID string) (history.RunInfo, error) {
	if err := s.enter("read run", runID); err != nil {
		return history.RunInfo{}, err
	}
	defer s.mu.RUnlock()
	what := fmt.Sprintf("read run %q", runID)
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM chorus_runs WHERE id = $1`, runID)
	if err != nil {
		return history.RunInfo{}, mapErr(ctx, err, nil, what)
	}
	runs, err := scanRuns(ctx, rows, what, false)
	if err != nil {
		return history.RunInfo{}, err
	}
	if len(runs) == 0 {
		return history.RunInfo{}, fmt.Errorf("%s%s: %w", errPrefix, what, history.ErrRunNotFound)
	}
	return runs[0], nil
}

// ListRuns returns the runs that match f, ordered by ID (byte order). A
// Status that is not a known status, or a negative Limit, is an error. A
// run whose row holds values a run cannot have is listed with
// RunInfo.Damaged set.
func (s *Store) ListRuns(ctx context.Context, f history.ListFilter) ([]history.RunInfo, error) {
	if f.Status != 0 && !f.Status.Valid() {
		return nil, fmt.Errorf("%slist runs: unknown status %v", errPrefix, f.Status)
	}
	if f.Limit < 0 {
		return nil, fmt.Errorf("%slist runs: negative limit %d", errPrefix, f.Limit)
	}
	q, args, err := listQuery(f, runColumns)
	if err != nil {
		return nil, fmt.Errorf("%slist runs: %w", errPrefix, err)
	}
	if err := s.enter("list runs", ""); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(ctx, err, nil, "list runs")
	}
	return scanRuns(ctx, rows, "list runs", true)
}

// scanRuns reads and closes rows of runColumns. A row that does not decode
// fails the call, or with keepDamaged is returned with RunInfo.Damaged set.
func scanRuns(ctx context.Context, rows pgx.Rows, what string, keepDamaged bool) ([]history.RunInfo, error) {
	defer rows.Close()
	var runs []history.RunInfo
	for rows.Next() {
		var (
			r                  history.RunInfo
			status             int16
			created, updated   *int64
			parent             *string
			result, failureCol []byte
		)
		if err := rows.Scan(&r.ID, &r.Workflow, &status, &created, &updated, &r.LastSeq, &r.FirstSeq, &parent,
			&r.ParentStep, &result, &failureCol); err != nil {
			return nil, mapErr(ctx, err, nil, what)
		}
		r.Status, r.CreatedAt, r.UpdatedAt = history.RunStatus(status), decTime(created), decTime(updated)
		if parent != nil {
			r.Parent = *parent
		}
		r.Result, r.Failure = blob(result), blob(failureCol)
		if err := checkRun(&r, status); err != nil {
			if !keepDamaged {
				return nil, err
			}
			r.Damaged = err
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(ctx, err, nil, what)
	}
	return runs, nil
}

// checkRun reports a row that holds what no run can: an unknown status, a
// first_seq outside 1..last_seq, a parent without a step or the reverse.
func checkRun(r *history.RunInfo, status int16) error {
	switch {
	case status < 0 || status > 255 || !r.Status.Valid():
		return corruptf("run %q: column status holds %d", r.ID, status)
	case r.LastSeq < 0:
		return corruptf("run %q: column last_seq holds %d", r.ID, r.LastSeq)
	case r.FirstSeq < 1 || r.FirstSeq > max(r.LastSeq, 1):
		return corruptf("run %q: column first_seq holds %d (last_seq %d)", r.ID, r.FirstSeq, r.LastSeq)
	case r.ParentStep < 0 || (r.Parent == "") != (r.ParentStep == 0):
		return corruptf("run %q: parent_run %q and parent_step %d disagree", r.ID, r.Parent, r.ParentStep)
	}
	return nil
}

// Events returns the run's journal after event afterSeq, in order, or an
// error wrapping history.ErrRunNotFound. A journal that does not run without
// a gap from afterSeq+1 to the run's LastSeq is reported as corrupt.
func (s *Store) Events(ctx context.Context, runID string, afterSeq int64) ([]history.Event, error) {
	if err := s.enter("read events of run", runID); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	what := fmt.Sprintf("read events of run %q", runID)
	afterSeq = max(afterSeq, 0)
	// One statement, so one snapshot: the run row (to tell an unknown run
	// from one without events) and its journal tail.
	rows, err := s.pool.Query(ctx, `SELECT r.last_seq, e.seq, e.type, e.name, e.ref, e.payload, e.time
		FROM chorus_runs AS r LEFT JOIN chorus_events AS e ON e.run_id = r.id AND e.seq > $1
		WHERE r.id = $2 ORDER BY e.seq`, afterSeq, runID)
	if err != nil {
		return nil, mapErr(ctx, err, nil, what)
	}
	defer rows.Close()
	var (
		events  []history.Event
		found   bool
		lastSeq int64
	)
	for rows.Next() {
		var (
			seq, ref, tm *int64
			typ          *int16
			name         *string
			payload      []byte
		)
		if err := rows.Scan(&lastSeq, &seq, &typ, &name, &ref, &payload, &tm); err != nil {
			return nil, mapErr(ctx, err, nil, what)
		}
		found = true
		if seq == nil { // the run has no events after afterSeq
			continue
		}
		e := history.Event{Seq: *seq, Type: history.EventType(*typ), Name: *name, Ref: *ref, Payload: blob(payload), Time: decTime(tm)}
		if *typ < 0 || *typ > 255 || !e.Type.Valid() {
			return nil, corruptf("run %q, event %d: column type holds %d", runID, e.Seq, *typ)
		}
		if want := afterSeq + int64(len(events)) + 1; e.Seq != want || e.Seq > lastSeq {
			return nil, corruptf("run %q: journal holds event %d where event %d was expected (last seq %d)",
				runID, e.Seq, want, lastSeq)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(ctx, err, nil, what)
	}
	if !found {
		return nil, fmt.Errorf("%s%s: %w", errPrefix, what, history.ErrRunNotFound)
	}
	if n := afterSeq + int64(len(events)); n < lastSeq {
		return nil, corruptf("run %q: journal ends at event %d but the run's last seq is %d", runID, n, lastSeq)
	}
	return events, nil
}

// taskQuery reads tasks with their run's workflow and the time of the
// event at their step. The LEFT JOIN keeps a task even when the journal
// has no event at its step; its ScheduledAt is then the zero time.
const taskQuery = `SELECT t.run_id, t.step, t.kind, t.name, t.input, t.options, t.attempt, t.not_before, r.workflow, e.time,
	t.pending, t.heartbeat, t.canceled, t.last_failure, t.first_failure_at
	FROM chorus_tasks AS t JOIN chorus_runs AS r ON r.id = t.run_id
	LEFT JOIN chorus_events AS e ON e.run_id = t.run_id AND e.seq = abs(t.step)`

// Tasks returns every pending task, ordered by run ID and step, with the
// Workflow of its run and, as ScheduledAt, the Time of the journal event at
// its Step. A task of a kind this code does not know is returned with
// Task.Damaged set. In shared mode only the tasks of this node's runs are
// returned (see Options.Shared).
func (s *Store) Tasks(ctx context.Context) ([]history.Task, error) {
	if err := s.enter("read tasks", ""); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	q, args := taskQuery+` ORDER BY t.run_id, t.step`, []any(nil)
	if s.shared {
		q, args = taskQuery+` WHERE r.owner_node = $1 ORDER BY t.run_id, t.step`, []any{s.owner}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(ctx, err, nil, "read tasks")
	}
	return scanTasks(ctx, rows)
}

// RunTasks returns the pending tasks of one run, ordered by step
// (history.RunTaskStore). An unknown run has none.
func (s *Store) RunTasks(ctx context.Context, runID string) ([]history.Task, error) {
	if err := s.enter("read tasks", runID); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	rows, err := s.pool.Query(ctx, taskQuery+` WHERE t.run_id = $1 ORDER BY t.step`, runID)
	if err != nil {
		return nil, mapErr(ctx, err, nil, fmt.Sprintf("read tasks of run %q", runID))
	}
	return scanTasks(ctx, rows)
}

var _ history.RunTaskStore = (*Store)(nil)

// scanTasks reads the rows of a task query and closes them.
func scanTasks(ctx context.Context, rows pgx.Rows) ([]history.Task, error) {
	defer rows.Close()
	var tasks []history.Task
	for rows.Next() {
		var (
			k                                 history.Task
			kind                              int16
			attempt                           int64
			notBefore, scheduled, pending, ff *int64
			input, options, hb, lf            []byte
		)
		if err := rows.Scan(&k.RunID, &k.Step, &kind, &k.Name, &input, &options, &attempt, &notBefore, &k.Workflow, &scheduled,
			&pending, &hb, &k.Canceled, &lf, &ff); err != nil {
			return nil, mapErr(ctx, err, nil, "read tasks")
		}
		k.Kind, k.Input, k.Options, k.Attempt = history.TaskKind(kind), blob(input), blob(options), int(attempt)
		k.NotBefore, k.ScheduledAt, k.Pending, k.FirstFailureAt = decTime(notBefore), decTime(scheduled), decTime(pending), decTime(ff)
		k.Heartbeat, k.LastFailure = blob(hb), blob(lf)
		switch {
		case kind < 0 || kind > 255 || !k.Kind.Valid():
			k.Damaged = corruptf("run %q, task %d: column kind holds %d", k.RunID, k.Step, kind)
		case attempt < 0 || attempt > int64(maxInt):
			k.Damaged = corruptf("run %q, task %d: column attempt holds %d", k.RunID, k.Step, attempt)
		}
		tasks = append(tasks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(ctx, err, nil, "read tasks")
	}
	return tasks, nil
}

const maxInt = int(^uint(0) >> 1)
