package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chorusdev/chorus/history"
)

// The read statements, prepared once on the reader pool.
const (
	rsRun = iota
	rsEvents
	rsTasks
	rsRunTasks
	rsList // the four ListRuns variants follow, see listStmt
	rsListStatus
	rsListWorkflow
	rsListStatusWorkflow
	rsRunExists
	numReadStmts
)

// runColumns are the columns of a run row that scanRuns reads, in order.
const runColumns = `id, workflow, status, created_at, updated_at, last_seq, first_seq, parent_run, parent_step, result, failure, sum, outcome_sum`

// numRunColumns is the number of runColumns.
const numRunColumns = 13

// taskInput is a task's input: in its row, or, when input_in_event is 1,
// the payload of the run's event at its step (see migration 0010). A task
// whose event is missing then reads a NULL input, which its checksum
// reports.
const taskInput = `CASE WHEN t.input_in_event = 1 THEN e.payload ELSE t.input END`

var readSQL = [numReadStmts]string{
	rsRun: `SELECT ` + runColumns + ` FROM runs WHERE id = ?`,
	// One statement, so one snapshot: the run row (to tell an unknown run
	// from one without events) and its journal tail.
	rsEvents: `SELECT r.last_seq, e.seq, e.type, e.name, e.ref, e.payload, e.time, e.sum
		FROM runs AS r LEFT JOIN events AS e ON e.run_id = r.id AND e.seq > ?
		WHERE r.id = ? ORDER BY e.seq`,
	// The LEFT JOIN keeps a task even when the journal has no event at its
	// step; its ScheduledAt is then the zero time.
	rsTasks: `SELECT t.run_id, t.step, t.kind, t.name, ` + taskInput + `, t.options, t.attempt, t.not_before, r.workflow, e.time,
		t.sum, t.attempt_sum, t.pending, t.heartbeat, t.canceled, t.state_sum,
		t.last_failure, t.first_failure_at, t.failure_sum
		FROM tasks AS t JOIN runs AS r ON r.id = t.run_id LEFT JOIN events AS e ON e.run_id = t.run_id AND e.seq = abs(t.step)
		ORDER BY t.run_id, t.step`,
	rsRunTasks: `SELECT t.run_id, t.step, t.kind, t.name, ` + taskInput + `, t.options, t.attempt, t.not_before, r.workflow, e.time,
		t.sum, t.attempt_sum, t.pending, t.heartbeat, t.canceled, t.state_sum,
		t.last_failure, t.first_failure_at, t.failure_sum
		FROM tasks AS t JOIN runs AS r ON r.id = t.run_id LEFT JOIN events AS e ON e.run_id = t.run_id AND e.seq = abs(t.step)
		WHERE t.run_id = ? ORDER BY t.step`,
	rsList:               `SELECT ` + runColumns + ` FROM runs WHERE id > ? ORDER BY id LIMIT ?`,
	rsListStatus:         `SELECT ` + runColumns + ` FROM runs WHERE id > ? AND status = ? ORDER BY id LIMIT ?`,
	rsListWorkflow:       `SELECT ` + runColumns + ` FROM runs WHERE id > ? AND workflow = ? ORDER BY id LIMIT ?`,
	rsListStatusWorkflow: `SELECT ` + runColumns + ` FROM runs WHERE id > ? AND status = ? AND workflow = ? ORDER BY id LIMIT ?`,
	rsRunExists:          `SELECT 1 FROM runs WHERE id = ?`,
}

// RunExists reports whether the file has a run row with the ID, in any
// state, damaged or not: a cheaper question than Run's, which the engine
// asks before it starts a run under a new ID.
func (s *Store) RunExists(ctx context.Context, runID string) (bool, error) {
	if err := s.enter("read run", runID); err != nil {
		return false, err
	}
	defer s.mu.RUnlock()
	if err := ctx.Err(); err != nil {
		return false, mapErr(ctx, err, nil, fmt.Sprintf("read run %q", runID))
	}
	if s.ids != nil {
		if may, known := s.ids.mayHave(runID); known && !may {
			return false, nil
		}
	}
	var one int64
	switch err := s.rs[rsRunExists].QueryRowContext(context.WithoutCancel(ctx), runID).Scan(&one); { // see Run
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	default:
		return false, mapErr(ctx, err, nil, fmt.Sprintf("read run %q", runID))
	}
}

// Run returns the index row of the run, or an error wrapping
// history.ErrRunNotFound.
func (s *Store) Run(ctx context.Context, runID string) (history.RunInfo, error) {
	if err := s.enter("read run", runID); err != nil {
		return history.RunInfo{}, err
	}
	defer s.mu.RUnlock()
	if err := ctx.Err(); err != nil {
		return history.RunInfo{}, mapErr(ctx, err, nil, fmt.Sprintf("read run %q", runID))
	}
	// One row by its key takes microseconds: not worth the watcher
	// goroutine the driver starts for a statement whose context can end.
	ctx = context.WithoutCancel(ctx)
	rows, err := s.rs[rsRun].QueryContext(ctx, runID)
	if err != nil {
		return history.RunInfo{}, mapErr(ctx, err, nil, fmt.Sprintf("read run %q", runID))
	}
	runs, err := scanRuns(ctx, rows, fmt.Sprintf("read run %q", runID), false)
	if err != nil {
		return history.RunInfo{}, err
	}
	if len(runs) == 0 {
		return history.RunInfo{}, fmt.Errorf("%sread run %q: %w", errPrefix, runID, history.ErrRunNotFound)
	}
	return runs[0], nil
}

// ListRuns returns the runs that match f, ordered by ID. A Status that is
// not a known status, or a negative Limit, is an error. A run whose row is
// damaged (see Run) is listed in its place with RunInfo.Damaged set, and
// the other runs are listed as usual.
func (s *Store) ListRuns(ctx context.Context, f history.ListFilter) ([]history.RunInfo, error) {
	if f.Status != 0 && !f.Status.Valid() {
		return nil, fmt.Errorf("%slist runs: unknown status %v", errPrefix, f.Status)
	}
	if f.Limit < 0 {
		return nil, fmt.Errorf("%slist runs: negative limit %d", errPrefix, f.Limit)
	}
	if f.Extended() {
		return s.listExtended(ctx, f)
	}
	if err := s.enter("list runs", ""); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	i := rsList
	args := []any{f.AfterID}
	if f.Status != 0 {
		i += rsListStatus - rsList
		args = append(args, int64(f.Status))
	}
	if f.Workflow != "" {
		i += rsListWorkflow - rsList
		args = append(args, f.Workflow)
	}
	limit := int64(-1) // SQLite: no limit
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	args = append(args, limit)
	rows, err := s.rs[i].QueryContext(ctx, args...)
	if err != nil {
		return nil, mapErr(ctx, err, nil, "list runs")
	}
	return scanRuns(ctx, rows, "list runs", true)
}

// scanRuns reads and closes rows of runColumns. A row that does not decode
// fails the call, or with keepDamaged is returned as far as it decoded,
// with RunInfo.Damaged set.
func scanRuns(ctx context.Context, rows *sql.Rows, what string, keepDamaged bool) ([]history.RunInfo, error) {
	defer rows.Close()
	var runs []history.RunInfo
	var (
		v    [numRunColumns]any
		dest [numRunColumns]any
	)
	for i := range v {
		dest[i] = &v[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest[:]...); err != nil {
			return nil, mapErr(ctx, err, nil, what)
		}
		r, err := decodeRun(v)
		if err != nil {
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

// decodeRun converts one row of runColumns. A row whose first_seq is not
// between 1 and its last_seq (1 for a run without events), whose
// parent_run and parent_step disagree on whether the run has a parent, or
// whose checksums (when not NULL: rows written before migration 0003 have
// none) do not match, is corrupt. On error, r holds the columns decoded so
// far.
func decodeRun(v [numRunColumns]any) (history.RunInfo, error) {
	var r history.RunInfo
	id, ok := colString(v[0])
	if !ok {
		return r, corruptf("run with id %s: the id is not text", describe(v[0]))
	}
	r.ID = id
	bad := func(col string, val any) error {
		return corruptf("run %q: column %s holds %s", id, col, describe(val))
	}
	if r.Workflow, ok = colString(v[1]); !ok {
		return r, bad("workflow", v[1])
	}
	st, ok := colInt(v[2])
	if !ok || st < 0 || st > 255 || !history.RunStatus(st).Valid() {
		return r, bad("status", v[2])
	}
	r.Status = history.RunStatus(st)
	if r.CreatedAt, ok = colTime(v[3]); !ok {
		return r, bad("created_at", v[3])
	}
	if r.UpdatedAt, ok = colTime(v[4]); !ok {
		return r, bad("updated_at", v[4])
	}
	if r.LastSeq, ok = colInt(v[5]); !ok || r.LastSeq < 0 {
		return r, bad("last_seq", v[5])
	}
	if r.FirstSeq, ok = colInt(v[6]); !ok || r.FirstSeq < 1 || r.FirstSeq > max(r.LastSeq, 1) {
		return r, bad("first_seq", v[6])
	}
	if v[7] != nil {
		if r.Parent, ok = colString(v[7]); !ok || r.Parent == "" {
			return r, bad("parent_run", v[7])
		}
	}
	if r.ParentStep, ok = colInt(v[8]); !ok || r.ParentStep < 0 || (r.Parent == "") != (r.ParentStep == 0) {
		return r, bad("parent_step", v[8])
	}
	if r.Result, ok = colBlob(v[9]); !ok {
		return r, bad("result", v[9])
	}
	if r.Failure, ok = colBlob(v[10]); !ok {
		return r, bad("failure", v[10])
	}
	sum, present, ok := colSum(v[11])
	if !ok {
		return r, bad("sum", v[11])
	}
	if want := runSum(r.ID, r.Workflow, r.CreatedAt, r.Parent, r.ParentStep); present && sum != want {
		return r, corruptf("run %q: the row's checksum does not match its workflow, created_at, parent_run and parent_step (stored %d, computed %d): the row was damaged or changed outside Chorus",
			id, sum, want)
	}
	if sum, present, ok = colSum(v[12]); !ok {
		return r, bad("outcome_sum", v[12])
	}
	if want := outcomeSum(r.ID, r.Status, r.Result, r.Failure); present && sum != want {
		return r, corruptf("run %q: the row's checksum does not match its status, result and failure (stored %d, computed %d): the row was damaged or changed outside Chorus",
			id, sum, want)
	}
	return r, nil
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
	rows, err := s.rs[rsEvents].QueryContext(ctx, afterSeq, runID)
	if err != nil {
		return nil, mapErr(ctx, err, nil, what)
	}
	defer rows.Close()
	var (
		events  []history.Event
		found   bool
		lastSeq int64
		v       [8]any
	)
	for rows.Next() {
		if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]); err != nil {
			return nil, mapErr(ctx, err, nil, what)
		}
		if !found {
			found = true
			var ok bool
			if lastSeq, ok = colInt(v[0]); !ok || lastSeq < 0 {
				return nil, corruptf("run %q: column last_seq holds %s", runID, describe(v[0]))
			}
		}
		if v[1] == nil { // the run has no events after afterSeq
			continue
		}
		e, err := decodeEvent(runID, v[1:])
		if err != nil {
			return nil, err
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

// decodeEvent converts seq, type, name, ref, payload, time and checks sum
// when it is not NULL (rows written before migration 0003 have none).
func decodeEvent(runID string, v []any) (history.Event, error) {
	var e history.Event
	seq, ok := colInt(v[0])
	if !ok {
		return e, corruptf("run %q: event with seq %s", runID, describe(v[0]))
	}
	e.Seq = seq
	bad := func(col string, val any) error {
		return corruptf("run %q, event %d: column %s holds %s", runID, seq, col, describe(val))
	}
	typ, ok := colInt(v[1])
	if !ok || typ < 0 || typ > 255 || !history.EventType(typ).Valid() {
		return e, bad("type", v[1])
	}
	e.Type = history.EventType(typ)
	if e.Name, ok = colString(v[2]); !ok {
		return e, bad("name", v[2])
	}
	if e.Ref, ok = colInt(v[3]); !ok {
		return e, bad("ref", v[3])
	}
	if e.Payload, ok = colBlob(v[4]); !ok {
		return e, bad("payload", v[4])
	}
	if e.Time, ok = colTime(v[5]); !ok {
		return e, bad("time", v[5])
	}
	sum, present, ok := colSum(v[6])
	if !ok {
		return e, bad("sum", v[6])
	}
	if want := eventSum(runID, &e); present && sum != want {
		return e, corruptf("run %q, event %d: the row's checksum does not match its content (stored %d, computed %d): the row was damaged or changed outside Chorus",
			runID, seq, sum, want)
	}
	return e, nil
}

// Tasks returns every pending task, ordered by run ID and step, with the
// Workflow of its run and, as ScheduledAt, the Time of the journal event at
// its Step (the zero time when the journal has no such event). Every task
// reads back with a known, non-zero Kind. A task whose row is damaged (a
// stored kind this code does not know, a column holding a value it cannot
// hold, a checksum that does not match) is returned in its place with
// Task.Damaged set, and the other tasks as usual.
func (s *Store) Tasks(ctx context.Context) ([]history.Task, error) {
	if err := s.enter("read tasks", ""); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	rows, err := s.rs[rsTasks].QueryContext(ctx)
	if err != nil {
		return nil, mapErr(ctx, err, nil, "read tasks")
	}
	return scanTasks(ctx, rows)
}

// RunTasks returns the pending tasks of one run, ordered by step, with
// damaged rows flagged as Tasks does (history.RunTaskStore). An unknown
// run has none.
func (s *Store) RunTasks(ctx context.Context, runID string) ([]history.Task, error) {
	if err := s.enter("read tasks", runID); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	rows, err := s.rs[rsRunTasks].QueryContext(ctx, runID)
	if err != nil {
		return nil, mapErr(ctx, err, nil, fmt.Sprintf("read tasks of run %q", runID))
	}
	return scanTasks(ctx, rows)
}

// scanTasks reads the rows of a task query and closes them.
func scanTasks(ctx context.Context, rows *sql.Rows) ([]history.Task, error) {
	defer rows.Close()
	var (
		tasks []history.Task
		v     [numTaskColumns]any
		dest  [numTaskColumns]any
	)
	for i := range v {
		dest[i] = &v[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest[:]...); err != nil {
			return nil, mapErr(ctx, err, nil, "read tasks")
		}
		k, err := decodeTask(v)
		if err != nil {
			if k.RunID == "" {
				return nil, err // no run to charge the damage to
			}
			k.Damaged = err
		}
		tasks = append(tasks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(ctx, err, nil, "read tasks")
	}
	return tasks, nil
}

// numTaskColumns is the number of columns of the task query.
const numTaskColumns = 19

// decodeTask converts run_id, step, kind, name, input, options, attempt,
// not_before, the run's workflow, the time of the step's event, pending,
// heartbeat, canceled, last_failure and first_failure_at, and checks sum,
// attempt_sum, state_sum and failure_sum when they are not NULL (rows
// written before migrations 0004, 0005 and 0007 have none). On error, k holds the columns decoded so far.
func decodeTask(v [numTaskColumns]any) (history.Task, error) {
	var k history.Task
	var ok bool
	if k.RunID, ok = colString(v[0]); !ok {
		return k, corruptf("task of run %s: the run id is not text", describe(v[0]))
	}
	if k.Step, ok = colInt(v[1]); !ok {
		return k, corruptf("run %q: task with step %s", k.RunID, describe(v[1]))
	}
	bad := func(col string, val any) error {
		return corruptf("run %q, task %d: column %s holds %s", k.RunID, k.Step, col, describe(val))
	}
	kind, ok := colInt(v[2])
	if !ok || kind < 0 || kind > 255 || !history.TaskKind(kind).Valid() {
		return k, bad("kind", v[2])
	}
	k.Kind = history.TaskKind(kind)
	if k.Name, ok = colString(v[3]); !ok {
		return k, bad("name", v[3])
	}
	if k.Input, ok = colBlob(v[4]); !ok {
		return k, bad("input", v[4])
	}
	if k.Options, ok = colBlob(v[5]); !ok {
		return k, bad("options", v[5])
	}
	attempt, ok := colInt(v[6])
	if !ok || attempt < 0 || attempt > int64(maxInt) {
		return k, bad("attempt", v[6])
	}
	k.Attempt = int(attempt)
	if k.NotBefore, ok = colTime(v[7]); !ok {
		return k, bad("not_before", v[7])
	}
	if k.Workflow, ok = colString(v[8]); !ok {
		return k, bad("workflow of the run", v[8])
	}
	if k.ScheduledAt, ok = colTime(v[9]); !ok {
		return k, bad("time of the step's event", v[9])
	}
	sum, present, ok := colSum(v[10])
	if !ok {
		return k, bad("sum", v[10])
	}
	if want := taskSum(k.RunID, k.Step, k.Kind, k.Name, k.Input, k.Options); present && sum != want {
		return k, corruptf("run %q, task %d: the row's checksum does not match its kind, name, input and options (stored %d, computed %d): the row was damaged or changed outside Chorus",
			k.RunID, k.Step, sum, want)
	}
	if sum, present, ok = colSum(v[11]); !ok {
		return k, bad("attempt_sum", v[11])
	}
	if want := attemptSum(k.RunID, k.Step, k.Attempt, k.NotBefore); present && sum != want {
		return k, corruptf("run %q, task %d: the row's checksum does not match its attempt and not_before (stored %d, computed %d): the row was damaged or changed outside Chorus",
			k.RunID, k.Step, sum, want)
	}
	if k.Pending, ok = colTime(v[12]); !ok {
		return k, bad("pending", v[12])
	}
	if k.Heartbeat, ok = colBlob(v[13]); !ok {
		return k, bad("heartbeat", v[13])
	}
	switch c, ok := colInt(v[14]); {
	case v[14] == nil:
	case ok && c == 1:
		k.Canceled = true
	default:
		return k, bad("canceled", v[14])
	}
	if sum, present, ok = colSum(v[15]); !ok {
		return k, bad("state_sum", v[15])
	}
	if want := stateSum(k.RunID, k.Step, k.Pending, k.Heartbeat, k.Canceled); present && sum != want {
		return k, corruptf("run %q, task %d: the row's checksum does not match its pending state, heartbeat details and cancellation (stored %d, computed %d): the row was damaged or changed outside Chorus",
			k.RunID, k.Step, sum, want)
	}
	if k.LastFailure, ok = colBlob(v[16]); !ok {
		return k, bad("last_failure", v[16])
	}
	if k.FirstFailureAt, ok = colTime(v[17]); !ok {
		return k, bad("first_failure_at", v[17])
	}
	if sum, present, ok = colSum(v[18]); !ok {
		return k, bad("failure_sum", v[18])
	}
	if want := failureSum(k.RunID, k.Step, k.LastFailure, k.FirstFailureAt); present && sum != want {
		return k, corruptf("run %q, task %d: the row's checksum does not match its last failure and the time of its first (stored %d, computed %d): the row was damaged or changed outside Chorus",
			k.RunID, k.Step, sum, want)
	}
	return k, nil
}

const maxInt = int(^uint(0) >> 1)

// colString accepts TEXT (and a BLOB, which SQLite may return for text
// stored by another program).
func colString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// colInt accepts INTEGER only.
func colInt(v any) (int64, bool) {
	x, ok := v.(int64)
	return x, ok
}

// colBlob accepts a BLOB or NULL; an empty BLOB reads as nil.
func colBlob(v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case []byte:
		if len(x) == 0 {
			return nil, true
		}
		return x, true
	}
	return nil, false
}

// colSum accepts a checksum, which is a 32-bit integer, or NULL (not
// present) for a row written without one.
func colSum(v any) (sum int64, present, ok bool) {
	switch x := v.(type) {
	case nil:
		return 0, false, true
	case int64:
		return x, true, x == int64(int32(x))
	}
	return 0, false, false
}

// colTime accepts Unix nanoseconds, or NULL for the zero time.
func colTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, true
	case int64:
		return time.Unix(0, x).UTC(), true
	}
	return time.Time{}, false
}

// describe renders a column value for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		if len(x) > 32 {
			return fmt.Sprintf("a %d-byte BLOB", len(x))
		}
		return fmt.Sprintf("BLOB %x", x)
	case string:
		if len(x) > 32 {
			x = x[:32] + "..."
		}
		return fmt.Sprintf("TEXT %q", x)
	default:
		return fmt.Sprintf("%T %v", v, v)
	}
}
