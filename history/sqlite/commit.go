package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chorusdev/chorus/history"
)

// Commit applies the batches, in order, in one BEGIN IMMEDIATE transaction
// (group commit) and returns one error per batch, nil for each batch that
// committed.
//
// Each batch is checked before anything of it is written, so a batch that
// fails leaves nothing behind and does not stop the others:
//   - a batch that does not hold what the Batch documentation asks for
//     (events whose Seqs do not increase one by one, an unknown event type,
//     status or task kind, a Create for another ID, a Status.FirstSeq that is
//     not the Seq of a RunStarted event of the batch, ...) fails with a
//     descriptive error;
//   - a Create for an ID that exists already fails with history.ErrRunExists,
//     even when the run was created by an earlier batch of the same call;
//   - events that do not start right after the run's last Seq fail with
//     history.ErrConflict, and a batch for a run that does not exist fails
//     with history.ErrRunNotFound.
//
// A created row takes its CreatedAt and UpdatedAt from Batch.Time, its
// LastSeq from the batch's last event (0 without events), its FirstSeq from
// the batch's Status.FirstSeq when set and 1 otherwise, its Status from
// Create.Status (StatusRunning when zero), its Parent and ParentStep from
// Create, and its Result and Failure from Create, unless the batch also has a
// Status, which then wins; the other fields of Create are ignored. A Create
// with a Parent must have a ParentStep of 1 or more, and one without a Parent
// a ParentStep of 0; a run cannot be its own parent. The parent run is not
// required to exist.
//
// A batch with Reuse (a new run under the ID of an ended one) sets the row's
// Workflow, Parent and ParentStep from Reuse, its CreatedAt and UpdatedAt
// from Batch.Time, its FirstSeq from Reuse.FirstSeq (or Status.FirstSeq
// when set), and its Status, Result and Failure from Status; it fails with
// history.ErrRunExists, changing nothing, when the run has not ended and the
// batch does not end it right before the new RunStarted.
//
// Every batch without Create sets the run's UpdatedAt to Batch.Time, and a
// Status replaces the row's Status, Result and Failure together, and its
// FirstSeq when Status.FirstSeq is not zero (a run that continues as new
// appends its RunContinuedAsNew event and the RunStarted event of its next
// generation in one batch, and FirstSeq names the latter). A FirstSeq
// requires events, since it must name one of the batch's.
//
// The task index changes in this order: DropTasks deletes every task of the
// run, then AddTasks are inserted, UpdateTasks applied and DoneTasks
// deleted; so AddTasks survive a DropTasks of the same batch, and may reuse
// the steps of the tasks it dropped. The RunID of a task may be left empty.
// A task's Kind zero is stored as history.TaskActivity; an activity task
// needs a Name, other kinds may leave it empty. Attempt must not be
// negative. UpdateTasks change only Attempt, NotBefore, Pending, Heartbeat
// and Canceled, so their Kind, Name, Input and Options are ignored. Tasks of DoneTasks that do not exist are ignored; an
// UpdateTasks entry for a task that does not exist, or an AddTasks entry for
// one that does, fails the batch with history.ErrConflict.
//
// If a statement fails for another reason, the whole transaction is rolled
// back and each batch is retried in a transaction of its own, so that one
// poison batch fails alone.
//
// The second result is non-nil only when the store could not commit at all or
// cannot tell whether it did: the store is closed (history.ErrStoreClosed),
// the transaction could not start (for example the lock stayed busy, or ctx
// ended), or COMMIT itself failed. Then every entry of the slice holds an
// error too, and every batch is to be treated as failed. The slice always
// has one entry per batch.
func (s *Store) Commit(ctx context.Context, batches []*history.Batch) ([]error, error) {
	verr := make([]error, len(batches))
	if err := s.enter("commit", ""); err != nil {
		return fill(verr, nil, err), err
	}
	defer s.mu.RUnlock()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	defer s.afterCommit(ctx)

	valid := 0
	for i, b := range batches {
		if err := validateBatch(b); err != nil {
			verr[i] = err
			continue
		}
		valid++
		if b.Create != nil {
			s.addRunIDs(b.RunID) // before the row exists, whatever becomes of it
		}
	}
	if valid == 0 {
		return verr, nil
	}

	errs, poisoned, err := s.commitGroup(ctx, batches, verr)
	if err != nil {
		return fill(verr, nil, err), err
	}
	if !poisoned {
		return errs, nil
	}
	if err := ctx.Err(); err != nil {
		ge := fmt.Errorf("%scommit %q: %w", errPrefix, s.path, err)
		return fill(verr, nil, ge), ge
	}
	return s.commitEach(ctx, batches, verr)
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

// commitGroup applies all valid batches in one transaction. It reports
// poisoned, having rolled back, when a batch failed in a way that may have
// left part of it written; the caller then retries batch by batch. err is a
// failure of the transaction as a whole.
func (s *Store) commitGroup(ctx context.Context, batches []*history.Batch, verr []error) (errs []error, poisoned bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, mapErr(ctx, err, nil, fmt.Sprintf("commit %q: begin", s.path))
	}
	t := &txStmts{ctx: ctx, tx: tx, s: s}
	errs = append([]error(nil), verr...)
	for i, b := range batches {
		if verr[i] != nil {
			continue
		}
		berr, fatal := t.apply(b)
		if fatal != nil {
			_ = tx.Rollback()
			return nil, true, nil
		}
		errs[i] = berr
	}
	if err := t.flushHead(); err != nil {
		_ = tx.Rollback()
		return nil, true, nil
	}
	if err := tx.Commit(); err != nil {
		s.heads.forgetTx(&t.chain)
		return nil, false, mapErr(ctx, err, nil, fmt.Sprintf("commit %q: commit (outcome unknown)", s.path))
	}
	s.heads.settle(&t.chain)
	return errs, false, nil
}

// commitEach applies each valid batch in a transaction of its own.
func (s *Store) commitEach(ctx context.Context, batches []*history.Batch, verr []error) ([]error, error) {
	errs := append([]error(nil), verr...)
	for i, b := range batches {
		if verr[i] != nil {
			continue
		}
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			// Batches before i committed; none from i on did.
			err = mapErr(ctx, err, nil, fmt.Sprintf("commit %q: begin", s.path))
			for j := i; j < len(errs); j++ {
				if verr[j] == nil {
					errs[j] = err
				}
			}
			return errs, nil
		}
		t := &txStmts{ctx: ctx, tx: tx, s: s}
		berr, fatal := t.apply(b)
		if fatal == nil && berr == nil {
			fatal = t.flushHead()
		}
		if fatal != nil || berr != nil {
			_ = tx.Rollback()
			errs[i] = errors.Join(berr, fatal)
			continue
		}
		if err := tx.Commit(); err != nil {
			s.heads.forgetTx(&t.chain)
			ge := mapErr(ctx, err, nil, fmt.Sprintf("commit %q: commit (outcome unknown)", s.path))
			return fill(errs, verr, ge), ge
		}
		s.heads.settle(&t.chain)
	}
	return errs, nil
}

// txStmts binds the prepared write statements to one transaction, lazily.
type txStmts struct {
	ctx context.Context
	tx  *sql.Tx
	s   *Store
	st  [numWriteStmts]*sql.Stmt

	chain chainTx
}

func (t *txStmts) stmt(i int) *sql.Stmt {
	if t.st[i] == nil {
		t.st[i] = t.tx.StmtContext(t.ctx, t.s.ws[i])
	}
	return t.st[i]
}

// exec runs write statement i and returns the number of rows it changed.
func (t *txStmts) exec(i int, args ...any) (int64, error) {
	res, err := t.stmt(i).ExecContext(t.ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// apply writes one validated batch. batchErr is a failed precondition,
// detected before anything of the batch was written; the transaction may
// go on. fatal is any other failure, after which part of the batch may be
// written and the transaction must be rolled back.
func (t *txStmts) apply(b *history.Batch) (batchErr, fatal error) {
	ctx := t.ctx
	id := b.RunID
	now := encTime(b.Time)
	var first, last int64
	if n := len(b.Events); n > 0 {
		first, last = b.Events[0].Seq, b.Events[n-1].Seq
	}
	fail := func(err error, onConstraint error, what string, args ...any) error {
		return mapErr(ctx, err, onConstraint, fmt.Sprintf("commit: run %q: ", id)+fmt.Sprintf(what, args...))
	}

	// 0. The hash chain: the batch's events link to the run's head (none
	// for a new run).
	var prev, head history.Hash
	var headArg any
	if chainOn && len(b.Events) > 0 {
		if b.Create == nil {
			var err error
			if prev, err = t.runChain(id); err != nil {
				return nil, fail(err, nil, "read chain head")
			}
		}
		head = t.hashEvents(prev, b)
		headArg = t.s.heads.args.arg(0, &head)
	}

	// 1. The run row: create it, or move it forward if it is where the
	// batch expects it.
	if c := b.Create; c != nil {
		var pos int64
		var posArg any
		if chainOn {
			if err := t.loadHead(); err != nil {
				return nil, fail(err, nil, "read file chain head")
			}
			pos = t.chain.head.Runs + 1
			posArg = pos
		}
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
		n, err := t.exec(stInsertRun, id, c.Workflow, int64(status), now, now, last, firstSeq,
			text(c.Parent), c.ParentStep, blob(result), blob(failure),
			runSum(id, c.Workflow, b.Time, c.Parent, c.ParentStep), outcomeSum(id, status, result, failure), headArg, posArg)
		if err != nil {
			return nil, fail(err, nil, "create")
		}
		if n == 0 {
			return fmt.Errorf("%scommit: run %q: %w", errPrefix, id, history.ErrRunExists), nil
		}
		if chainOn {
			t.chain.head.Runs, t.chain.head.Hash = pos, t.s.hasher.Run(t.chain.head.Hash, pos, id)
			t.chain.dirty = true
		}
	} else {
		var n int64
		var err error
		st := b.Status
		switch {
		case b.Reuse != nil:
			endsInBatch := b.Reuse.FirstSeq > first
			firstSeq := b.Reuse.FirstSeq
			if st.FirstSeq != 0 {
				firstSeq = st.FirstSeq
			}
			n, err = t.exec(stReuseRun, b.Reuse.Workflow, int64(st.Status), now, now, last, firstSeq,
				text(b.Reuse.Parent), b.Reuse.ParentStep, blob(st.Result), blob(st.Failure),
				runSum(id, b.Reuse.Workflow, b.Time, b.Reuse.Parent, b.Reuse.ParentStep), outcomeSum(id, st.Status, st.Result, st.Failure),
				headArg, id, first-1, endsInBatch)
		case len(b.Events) > 0 && st != nil:
			n, err = t.exec(stAppendRunStatus, last, now, int64(st.Status), blob(st.Result), blob(st.Failure),
				outcomeSum(id, st.Status, st.Result, st.Failure), optSeq(st.FirstSeq), headArg, id, first-1)
		case len(b.Events) > 0:
			n, err = t.exec(stAppendRun, last, now, headArg, id, first-1)
		case st != nil:
			n, err = t.exec(stTouchRunStatus, now, int64(st.Status), blob(st.Result), blob(st.Failure),
				outcomeSum(id, st.Status, st.Result, st.Failure), id)
		default:
			n, err = t.exec(stTouchRun, now, id)
		}
		if err != nil {
			return nil, fail(err, nil, "update run")
		}
		if n == 0 {
			if len(b.Events) == 0 {
				return fmt.Errorf("%scommit: run %q: %w", errPrefix, id, history.ErrRunNotFound), nil
			}
			var have int64
			err := t.stmt(stRunLastSeq).QueryRowContext(ctx, id).Scan(&have)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%scommit: run %q: %w", errPrefix, id, history.ErrRunNotFound), nil
			}
			if err != nil {
				return nil, fail(err, nil, "read last seq")
			}
			if b.Reuse != nil && have == first-1 {
				return fmt.Errorf("%scommit: run %q: %w: it has not ended, so its ID cannot be reused", errPrefix, id, history.ErrRunExists), nil
			}
			return fmt.Errorf("%scommit: run %q: %w: the journal ends at seq %d, the batch starts at seq %d",
				errPrefix, id, history.ErrConflict, have, first), nil
		}
	}

	// 2. The journal.
	for i := range b.Events {
		e := &b.Events[i]
		if _, err := t.exec(stInsertEvent, id, e.Seq, int64(e.Type), e.Name, e.Ref, blob(e.Payload), encTime(e.Time),
			eventSum(id, e), t.eventHash(i)); err != nil {
			return nil, fail(err, history.ErrConflict, "append event %d", e.Seq)
		}
	}

	// The search attribute index, from the events.
	if err := t.applyAttrs(b); err != nil {
		return nil, fail(err, nil, "index search attributes")
	}

	// 3. The task index.
	if b.DropTasks {
		if _, err := t.exec(stDropTasks, id); err != nil {
			return nil, fail(err, nil, "drop tasks")
		}
	}
	for _, k := range b.AddTasks {
		kind := k.Kind
		if kind == 0 {
			kind = history.TaskActivity
		}
		input, inEvent := blob(k.Input), any(nil)
		if inputInEvent(b, k) {
			input, inEvent = nil, int64(1)
		}
		if _, err := t.exec(stInsertTask, id, k.Step, int64(kind), k.Name, input, blob(k.Options),
			int64(k.Attempt), encTime(k.NotBefore),
			taskSum(id, k.Step, kind, k.Name, k.Input, k.Options), attemptSum(id, k.Step, k.Attempt, k.NotBefore),
			encTime(k.Pending), blob(k.Heartbeat), flag(k.Canceled), stateSum(id, k.Step, k.Pending, k.Heartbeat, k.Canceled),
			blob(k.LastFailure), encTime(k.FirstFailureAt), failureSum(id, k.Step, k.LastFailure, k.FirstFailureAt), inEvent); err != nil {
			return nil, fail(err, history.ErrConflict, "add task %d", k.Step)
		}
	}
	for _, k := range b.UpdateTasks {
		n, err := t.exec(stUpdateTask, int64(k.Attempt), encTime(k.NotBefore), attemptSum(id, k.Step, k.Attempt, k.NotBefore),
			encTime(k.Pending), blob(k.Heartbeat), flag(k.Canceled), stateSum(id, k.Step, k.Pending, k.Heartbeat, k.Canceled),
			blob(k.LastFailure), encTime(k.FirstFailureAt), failureSum(id, k.Step, k.LastFailure, k.FirstFailureAt), id, k.Step)
		if err != nil {
			return nil, fail(err, history.ErrConflict, "update task %d", k.Step)
		}
		if n == 0 {
			return nil, fmt.Errorf("%scommit: run %q: update task %d: %w: no such task", errPrefix, id, k.Step, history.ErrConflict)
		}
	}
	for _, step := range b.DoneTasks {
		if _, err := t.exec(stDeleteTask, id, step); err != nil {
			return nil, fail(err, nil, "delete task %d", step)
		}
	}
	if chainOn && len(b.Events) > 0 {
		t.moveHead(id, head, b.Status != nil && b.Status.Status.Ended())
	}
	return nil, nil
}

// minSharedInput is the size from which a task's input that its event of
// the same batch holds too is stored only in the event.
const minSharedInput = 256

// inputInEvent reports whether task k's input is stored only as the
// payload of b's event at k's step (tasks.input_in_event): the input is
// large, and that event, written in the same batch, holds the same bytes.
func inputInEvent(b *history.Batch, k history.Task) bool {
	if len(k.Input) < minSharedInput || len(b.Events) == 0 {
		return false
	}
	i := k.Step - b.Events[0].Seq
	if i < 0 || i >= int64(len(b.Events)) || b.Events[i].Seq != k.Step {
		return false
	}
	return bytes.Equal(b.Events[i].Payload, k.Input)
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
func encTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// text is how an optional name is stored: NULL when empty.
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// optSeq is how an optional sequence number is bound: NULL when zero.
func optSeq(seq int64) any {
	if seq == 0 {
		return nil
	}
	return seq
}

// flag is how an optional flag is stored: NULL when false.
func flag(b bool) any {
	if !b {
		return nil
	}
	return int64(1)
}

// blob is how a payload is stored: NULL when empty.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
