package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chorusdev/chorus/history"
)

// Commit applies the batches, in order, in one transaction (group commit)
// and returns one error per batch, nil for each batch that committed. It
// follows the SQLite store's rules batch for batch (see
// [github.com/chorusdev/chorus/history/sqlite.Store.Commit]): a batch that
// fails a precondition (ErrRunExists, ErrConflict, ErrRunNotFound, an
// invalid batch) writes nothing and does not stop the others.
//
// The transaction first checks the store's lease (see [Store.Lost]). The
// lease check and every statement of every batch go to the server in one
// round trip (a pipeline). When a batch does not hold its preconditions or
// fails to write, that transaction is rolled back and the batches are
// applied one by one, each run row first, so that a failed precondition
// writes nothing; and when one fails after part of it was written (an
// AddTasks entry for a task that exists, say), once more, each batch
// inside a savepoint that is rolled back if it fails, so that the others
// commit.
//
// The second result is non-nil only when the store could not commit at all
// or cannot tell whether it did: the store is closed or fenced
// (history.ErrStoreClosed, ErrFenced), the transaction could not start, or
// COMMIT failed. Then every entry of the slice holds an error too.
func (s *Store) Commit(ctx context.Context, batches []*history.Batch) ([]error, error) {
	verr := make([]error, len(batches))
	if err := s.enter("commit", ""); err != nil {
		return fill(verr, nil, err), err
	}
	defer s.mu.RUnlock()
	plans := make([]*plan, len(batches))
	valid := 0
	for i, b := range batches {
		if err := validateBatch(b); err != nil {
			verr[i] = err
			continue
		}
		plans[i] = planBatch(ctx, b, s.node())
		valid++
	}
	if valid == 0 {
		return verr, nil
	}
	errs, done, err := s.commitPipelined(ctx, plans, verr)
	if err == nil && !done {
		var poisoned bool
		errs, poisoned, err = s.commitTx(ctx, plans, verr, false)
		if err == nil && poisoned {
			errs, _, err = s.commitTx(ctx, plans, verr, true)
		}
	}
	if err != nil {
		return fill(verr, nil, err), err
	}
	return errs, nil
}

// commitPipelined is the fast path of Commit: the lease check and every
// statement of every batch in one round trip, for a group whose batches
// all hold their preconditions and write without error, which is the
// common case. It reports done false, having rolled back, when one batch
// did not: the caller then goes batch by batch.
func (s *Store) commitPipelined(ctx context.Context, plans []*plan, verr []error) (errs []error, done bool, err error) {
	if s.isLost() {
		return nil, false, fencedErr("commit")
	}
	var pb pgx.Batch
	pb.Queue(s.fenceSQL(), s.leaseKey())
	for _, p := range plans {
		if p == nil {
			continue
		}
		if p.err != nil {
			return nil, false, nil
		}
		pb.Queue(p.runRow.sql, p.runRow.args...)
		for _, st := range p.rest {
			pb.Queue(st.sql, st.args...)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, false, mapErr(ctx, err, nil, "commit: begin")
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	br := tx.SendBatch(ctx, &pb)
	var epoch int64
	if err := br.QueryRow().Scan(&epoch); err != nil || epoch != s.epoch {
		_ = br.Close()
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, false, mapErr(ctx, err, nil, "commit: check the lease")
		}
		s.markLost()
		return nil, false, fencedErr("commit")
	}
	failed := false
	for _, p := range plans {
		if p == nil {
			continue
		}
		tag, err := br.Exec()
		if err != nil || tag.RowsAffected() == 0 {
			failed = true
		}
		for _, st := range p.rest {
			tag, err := br.Exec()
			if failed {
				continue
			}
			failed = st.check(tag, err) != nil
		}
	}
	if err := br.Close(); err != nil || failed {
		return nil, false, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, s.commitFailed(ctx, err, "commit")
	}
	return slices.Clone(verr), true, nil
}

// fill returns errs with every entry that is nil (or, when from is not nil,
// every entry whose from entry is nil) set to err.
func fill(errs, from []error, err error) []error {
	for i := range errs {
		if from == nil && errs[i] == nil || from != nil && from[i] == nil {
			errs[i] = err
		}
	}
	return errs
}

// commitTx applies the valid batches in one transaction. Without
// savepoints it reports poisoned, having rolled back, when a batch failed
// after writing part of itself; with them, such a batch is rolled back to
// its savepoint and fails alone.
func (s *Store) commitTx(ctx context.Context, plans []*plan, verr []error, savepoints bool) (errs []error, poisoned bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, false, mapErr(ctx, err, nil, "commit: begin")
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if err := s.fence(ctx, tx, "commit"); err != nil {
		return nil, false, err
	}
	errs = slices.Clone(verr)
	for i, p := range plans {
		if p == nil {
			continue
		}
		if savepoints {
			if _, err := tx.Exec(ctx, `SAVEPOINT batch`); err != nil {
				return nil, false, mapErr(ctx, err, nil, "commit: savepoint")
			}
		}
		berr, partial := p.apply(ctx, tx)
		if partial != nil {
			if !savepoints {
				return nil, true, nil
			}
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT batch`); err != nil {
				return nil, false, mapErr(ctx, err, nil, "commit: roll back to savepoint")
			}
			errs[i] = partial
		} else {
			errs[i] = berr
		}
		if savepoints {
			if _, err := tx.Exec(ctx, `RELEASE SAVEPOINT batch`); err != nil {
				return nil, false, mapErr(ctx, err, nil, "commit: release savepoint")
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, s.commitFailed(ctx, err, "commit")
	}
	return errs, false, nil
}

// The statements that move a run's row.
const (
	sqlInsertRun = `INSERT INTO chorus_runs (id, workflow, status, created_at, updated_at, last_seq, first_seq, parent_run, parent_step, result, failure, owner_node)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`
	sqlAppendRun       = `UPDATE chorus_runs SET last_seq = $1, updated_at = $2 WHERE id = $3 AND last_seq = $4`
	sqlAppendRunStatus = `UPDATE chorus_runs SET last_seq = $1, updated_at = $2, status = $3, result = $4, failure = $5,
		first_seq = coalesce($6, first_seq) WHERE id = $7 AND last_seq = $8`
	sqlTouchRun       = `UPDATE chorus_runs SET updated_at = $1 WHERE id = $2`
	sqlTouchRunStatus = `UPDATE chorus_runs SET updated_at = $1, status = $2, result = $3, failure = $4 WHERE id = $5`
	sqlReuseRun       = `UPDATE chorus_runs SET workflow = $1, status = $2, created_at = $3, updated_at = $4, last_seq = $5, first_seq = $6,
		parent_run = $7, parent_step = $8, result = $9, failure = $10
		WHERE id = $11 AND last_seq = $12 AND ($13::boolean OR status IN ` + endedStatuses + `)`
	// In shared mode a run ended on another node may be reused here: the
	// new run is this node's.
	sqlReuseRunShared = `UPDATE chorus_runs SET workflow = $1, status = $2, created_at = $3, updated_at = $4, last_seq = $5, first_seq = $6,
		parent_run = $7, parent_step = $8, result = $9, failure = $10, owner_node = $14
		WHERE id = $11 AND last_seq = $12 AND ($13::boolean OR status IN ` + endedStatuses + `)
		AND (owner_node = $14 OR NOT $13::boolean AND status IN ` + endedStatuses + `)`
	sqlInsertEvent = `INSERT INTO chorus_events (run_id, seq, type, name, ref, payload, time) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	sqlInsertTask  = `INSERT INTO chorus_tasks (run_id, step, kind, name, input, options, attempt, not_before,
		pending, heartbeat, canceled, last_failure, first_failure_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	sqlUpdateTask = `UPDATE chorus_tasks SET attempt = $1, not_before = $2, pending = $3, heartbeat = $4, canceled = $5,
		last_failure = $6, first_failure_at = $7 WHERE run_id = $8 AND step = $9`
	sqlDeleteTask = `DELETE FROM chorus_tasks WHERE run_id = $1 AND step = $2`
	sqlDropTasks  = `DELETE FROM chorus_tasks WHERE run_id = $1`
	sqlUpsertAttr = `INSERT INTO chorus_run_attrs (run_id, name, kind, text_val, int_val) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (run_id, name) DO UPDATE SET kind = excluded.kind, text_val = excluded.text_val, int_val = excluded.int_val`
	sqlUpsertMemo = `INSERT INTO chorus_run_memo (run_id, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`
)

// endedStatuses is the SQL list of the statuses history.RunStatus.Ended
// reports as ended.
const endedStatuses = `(2, 3, 4, 6, 7)`

// stmt is one statement of a batch, with the check of its outcome.
type stmt struct {
	sql   string
	args  []any
	check func(pgconn.CommandTag, error) error
}

// plan is a validated batch turned into statements: the one that moves
// the run's row (whose outcome says whether the batch's preconditions
// hold: no row changed means they do not), and the rest.
type plan struct {
	b      *history.Batch
	runRow stmt
	rest   []stmt
	// err is a precondition that failed before any statement (an attribute
	// upsert that does not decode).
	err error
	// node is the node that must own the run (shared mode), or "".
	node string
}

// planBatch turns a validated batch into statements. node is the store's
// node in shared mode, to which the batch's run must belong (or "").
func planBatch(ctx context.Context, b *history.Batch, node string) *plan {
	p := &plan{b: b, node: node}
	id := b.RunID
	now := encTime(b.Time)
	var first, last int64
	if n := len(b.Events); n > 0 {
		first, last = b.Events[0].Seq, b.Events[n-1].Seq
	}
	fail := func(err error, onConstraint error, what string, args ...any) error {
		return mapErr(ctx, err, onConstraint, fmt.Sprintf("commit: run %q: ", id)+fmt.Sprintf(what, args...))
	}
	// Search attribute upserts are decoded before anything is written.
	upserts := make(map[int64]history.AttrUpsert)
	for i := range b.Events {
		if e := &b.Events[i]; e.Type == history.EventSearchAttributesUpserted {
			u, err := history.DecodeAttrUpsert(e.Payload)
			if err != nil {
				p.err = fmt.Errorf("%scommit: run %q: event %d: %w", errPrefix, id, e.Seq, err)
				return p
			}
			upserts[e.Seq] = u
		}
	}

	// 1. The run row: create it, or move it forward if it is where the
	// batch expects it.
	if c := b.Create; c != nil {
		status, result, failure, firstSeq := c.Status, c.Result, c.Failure, int64(1)
		if status == 0 {
			status = history.StatusRunning
		}
		if st := b.Status; st != nil {
			status, result, failure = st.Status, st.Result, st.Failure
			if st.FirstSeq != 0 {
				firstSeq = st.FirstSeq
			}
		}
		p.runRow = stmt{sql: sqlInsertRun, args: []any{id, c.Workflow, int16(status), now, now, last, firstSeq,
			text(c.Parent), c.ParentStep, blob(result), blob(failure), text(node)}}
	} else {
		st := b.Status
		switch {
		case b.Reuse != nil:
			endsInBatch := b.Reuse.FirstSeq > first
			firstSeq := b.Reuse.FirstSeq
			if st.FirstSeq != 0 {
				firstSeq = st.FirstSeq
			}
			p.runRow = stmt{sql: sqlReuseRun, args: []any{b.Reuse.Workflow, int16(st.Status), now, now, last, firstSeq,
				text(b.Reuse.Parent), b.Reuse.ParentStep, blob(st.Result), blob(st.Failure), id, first - 1, endsInBatch}}
			if node != "" {
				p.runRow.sql, p.runRow.args = sqlReuseRunShared, append(p.runRow.args, node)
			}
		case len(b.Events) > 0 && st != nil:
			p.runRow = stmt{sql: sqlAppendRunStatus, args: []any{last, now, int16(st.Status), blob(st.Result), blob(st.Failure),
				optSeq(st.FirstSeq), id, first - 1}}
		case len(b.Events) > 0:
			p.runRow = stmt{sql: sqlAppendRun, args: []any{last, now, id, first - 1}}
		case st != nil:
			p.runRow = stmt{sql: sqlTouchRunStatus, args: []any{now, int16(st.Status), blob(st.Result), blob(st.Failure), id}}
		default:
			p.runRow = stmt{sql: sqlTouchRun, args: []any{now, id}}
		}
		if node != "" && b.Reuse == nil {
			// Only the run's node writes to it.
			p.runRow.args = append(p.runRow.args, node)
			p.runRow.sql += fmt.Sprintf(" AND owner_node = $%d", len(p.runRow.args))
		}
	}
	p.runRow.check = func(_ pgconn.CommandTag, err error) error {
		if err != nil {
			return fail(err, nil, "update run")
		}
		return nil
	}

	// 2. The rest of the batch: the journal, the search attributes and the
	// task index.
	queue := func(check func(pgconn.CommandTag, error) error, sql string, args ...any) {
		p.rest = append(p.rest, stmt{sql: sql, args: args, check: check})
	}
	plain := func(onConstraint error, what string, args ...any) func(pgconn.CommandTag, error) error {
		return func(_ pgconn.CommandTag, err error) error {
			if err != nil {
				return fail(err, onConstraint, what, args...)
			}
			return nil
		}
	}
	for i := range b.Events {
		e := &b.Events[i]
		queue(plain(history.ErrConflict, "append event %d", e.Seq), sqlInsertEvent,
			id, e.Seq, int16(e.Type), e.Name, e.Ref, blob(e.Payload), encTime(e.Time))
		switch {
		case e.Type == history.EventRunStarted && b.Reuse != nil:
			// A new run under a reused ID starts without attributes;
			// continue-as-new keeps them.
			queue(plain(nil, "clear search attributes"), `DELETE FROM chorus_run_attrs WHERE run_id = $1`, id)
			queue(plain(nil, "clear memo"), `DELETE FROM chorus_run_memo WHERE run_id = $1`, id)
		case e.Type == history.EventSearchAttributesUpserted:
			u := upserts[e.Seq]
			for _, a := range u.Attrs {
				var tv, iv any
				if a.Kind == history.AttrKeyword {
					tv = a.Text
				} else {
					iv = a.Int
				}
				queue(plain(nil, "index search attribute %q", a.Name), sqlUpsertAttr, id, a.Name, int16(a.Kind), tv, iv)
			}
			for _, m := range u.Memo {
				queue(plain(nil, "write memo %q", m.Key), sqlUpsertMemo, id, m.Key, blob(m.Value))
			}
		}
	}
	if b.DropTasks {
		queue(plain(nil, "drop tasks"), sqlDropTasks, id)
	}
	for _, k := range b.AddTasks {
		kind := k.Kind
		if kind == 0 {
			kind = history.TaskActivity
		}
		queue(plain(history.ErrConflict, "add task %d", k.Step), sqlInsertTask, id, k.Step, int16(kind), k.Name,
			blob(k.Input), blob(k.Options), int64(k.Attempt), encTime(k.NotBefore),
			encTime(k.Pending), blob(k.Heartbeat), k.Canceled, blob(k.LastFailure), encTime(k.FirstFailureAt))
	}
	for _, k := range b.UpdateTasks {
		step := k.Step
		queue(func(tag pgconn.CommandTag, err error) error {
			if err != nil {
				return fail(err, history.ErrConflict, "update task %d", step)
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("%scommit: run %q: update task %d: %w: no such task", errPrefix, id, step, history.ErrConflict)
			}
			return nil
		}, sqlUpdateTask, int64(k.Attempt), encTime(k.NotBefore), encTime(k.Pending), blob(k.Heartbeat), k.Canceled,
			blob(k.LastFailure), encTime(k.FirstFailureAt), id, step)
	}
	for _, step := range b.DoneTasks {
		queue(plain(nil, "delete task %d", step), sqlDeleteTask, id, step)
	}
	return p
}

// preconditionErr says why the run row of p's batch did not move: the
// batch's preconditions do not hold. It reads the row in tx.
func (p *plan) preconditionErr(ctx context.Context, tx pgx.Tx) (batchErr, fatal error) {
	b, id := p.b, p.b.RunID
	if b.Create != nil {
		return fmt.Errorf("%scommit: run %q: %w", errPrefix, id, history.ErrRunExists), nil
	}
	var have int64
	var owner *string
	var status int16
	err := tx.QueryRow(ctx, `SELECT last_seq, owner_node, status FROM chorus_runs WHERE id = $1`, id).Scan(&have, &owner, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%scommit: run %q: %w", errPrefix, id, history.ErrRunNotFound), nil
	}
	if err != nil {
		return nil, mapErr(ctx, err, nil, fmt.Sprintf("commit: run %q: read last seq", id))
	}
	if p.node != "" && (owner == nil || *owner != p.node) && (b.Reuse == nil || !history.RunStatus(status).Ended()) {
		return fmt.Errorf("%scommit: %w", errPrefix, &history.NotOwnerError{RunID: id, Owner: deref(owner)}), nil
	}
	if len(b.Events) == 0 {
		return fmt.Errorf("%scommit: run %q: %w", errPrefix, id, history.ErrRunNotFound), nil
	}
	first := b.Events[0].Seq
	if b.Reuse != nil && have == first-1 {
		return fmt.Errorf("%scommit: run %q: %w: it has not ended, so its ID cannot be reused", errPrefix, id, history.ErrRunExists), nil
	}
	return fmt.Errorf("%scommit: run %q: %w: the journal ends at seq %d, the batch starts at seq %d",
		errPrefix, id, history.ErrConflict, have, first), nil
}

// apply writes one planned batch in two round trips: the run row, then
// the rest in a pipeline. batchErr is a failed precondition, detected
// before anything of the batch was written; the transaction goes on.
// partial is any other failure, after which part of the batch may be
// written: the caller rolls it back.
func (p *plan) apply(ctx context.Context, tx pgx.Tx) (batchErr, partial error) {
	if p.err != nil {
		return p.err, nil
	}
	tag, err := tx.Exec(ctx, p.runRow.sql, p.runRow.args...)
	if err := p.runRow.check(tag, err); err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		return p.preconditionErr(ctx, tx)
	}
	if len(p.rest) == 0 {
		return nil, nil
	}
	var pb pgx.Batch
	for _, st := range p.rest {
		pb.Queue(st.sql, st.args...)
	}
	return nil, runPipeline(tx.SendBatch(ctx, &pb), p.rest)
}

// runPipeline reads the results of stmts from br, in order, and closes
// it; it returns the first failed check.
func runPipeline(br pgx.BatchResults, stmts []stmt) error {
	var firstErr error
	for _, st := range stmts {
		tag, err := br.Exec()
		if firstErr != nil {
			continue // the transaction is aborted; drain the rest
		}
		firstErr = st.check(tag, err)
	}
	if err := br.Close(); err != nil && firstErr == nil {
		firstErr = fmt.Errorf("%scommit: %v", errPrefix, err)
	}
	return firstErr
}

// validateBatch checks what can be checked of b without the database.
func validateBatch(b *history.Batch) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("%scommit: %w", errPrefix, err)
	}
	return nil
}

// timeOK reports whether t can be stored (see history.StorableTime).
func timeOK(t time.Time) bool { return history.StorableTime(t) }

// encTime is how a time is stored: Unix nanoseconds, NULL for the zero time.
func encTime(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// decTime is the inverse of encTime.
func decTime(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return time.Unix(0, *v).UTC()
}

// text is how an optional name is stored: NULL when empty.
func text(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// optSeq is how an optional sequence number is bound: NULL when zero.
func optSeq(seq int64) *int64 {
	if seq == 0 {
		return nil
	}
	return &seq
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// blob is how a payload is stored: NULL when empty.
func blob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// commitFailed is the error of a COMMIT that failed, whose outcome this
// store cannot know. When the lease has moved on meanwhile (the server
// ended the transaction of a process paused past its lease, and a standby
// took over), the store is fenced: the error says so, so that the engine
// stops as for any takeover, instead of retrying as after a network error.
func (s *Store) commitFailed(ctx context.Context, err error, what string) error {
	mapped := mapErr(ctx, err, nil, what+": commit (outcome unknown)")
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.ttl)
	defer cancel()
	var epoch int64
	lerr := s.pool.QueryRow(cctx, s.epochSQL(), s.leaseKey()).Scan(&epoch)
	if lerr == nil && epoch != s.epoch || errors.Is(lerr, pgx.ErrNoRows) {
		s.markLost()
		return fmt.Errorf("%w (its commit failed: %v)", fencedErr(what), err)
	}
	return mapped
}
