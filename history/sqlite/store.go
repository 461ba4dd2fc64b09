package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/chorusdev/chorus/history"
)

// Store is a [history.Store] kept in one SQLite database file (or in
// memory). It has one writer connection, whose transactions start with
// BEGIN IMMEDIATE, and a pool of reader connections; in WAL mode readers see
// the last committed state and never wait for the writer. A Store is safe
// for concurrent use; Commit calls are serialized.
type Store struct {
	path string
	w    *sql.DB // exactly one connection
	r    *sql.DB // the reader pool; == w for an in-memory store

	ws [numWriteStmts]*sql.Stmt // prepared on w
	rs [numReadStmts]*sql.Stmt  // prepared on r

	// mu is held shared by every operation and exclusively by Close, so
	// that Close waits for operations in flight and later ones see closed.
	mu     sync.RWMutex
	closed bool
	// commitMu serializes Commit calls (the engine makes one at a time;
	// this keeps a second caller from waiting on the pool instead).
	commitMu sync.Mutex
	// hasher computes the hash chain; used under commitMu.
	hasher *history.Hasher
	// heads caches the chain heads of live runs; used under commitMu.
	heads headCache
	// lock holds the file's exclusive flock until Close (nil in memory).
	lock *os.File
	// ckpt runs the WAL checkpoints off the commit path (nil in memory);
	// see checkpoint.go.
	ckpt *checkpointer
	// ids answers RunExists for a new ID from memory (nil in memory);
	// see idfilter.go.
	ids *idFilter
}

var _ history.Store = (*Store)(nil)

// The write statements, prepared once on the writer connection and bound
// to each transaction with Tx.StmtContext.
const (
	stInsertRun = iota
	stAppendRun
	stAppendRunStatus
	stTouchRun
	stTouchRunStatus
	stRunLastSeq
	stInsertEvent
	stInsertTask
	stUpdateTask
	stDeleteTask
	stDropTasks
	stReuseRun
	stRunChain
	stReadHead
	stWriteHead
	numWriteStmts
)

var writeSQL = [numWriteStmts]string{
	stInsertRun: `INSERT INTO runs (id, workflow, status, created_at, updated_at, last_seq, first_seq, parent_run, parent_step, result, failure, sum, outcome_sum,
		chain_hash, chain_pos)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
	stAppendRun: `UPDATE runs SET last_seq = ?, updated_at = ?, chain_hash = ? WHERE id = ? AND last_seq = ?`,
	// A NULL first_seq (StatusUpdate.FirstSeq zero) keeps the generation.
	stAppendRunStatus: `UPDATE runs SET last_seq = ?, updated_at = ?, status = ?, result = ?, failure = ?, outcome_sum = ?,
		first_seq = coalesce(?, first_seq), chain_hash = ? WHERE id = ? AND last_seq = ?`,
	stTouchRun: `UPDATE runs SET updated_at = ? WHERE id = ?`,
	// The last parameter is true when the batch itself ends the run the
	// new one replaces; otherwise that run must have ended (completed,
	// failed, canceled, terminated or timed out).
	stReuseRun: `UPDATE runs SET workflow = ?, status = ?, created_at = ?, updated_at = ?, last_seq = ?, first_seq = ?,
		parent_run = ?, parent_step = ?, result = ?, failure = ?, sum = ?, outcome_sum = ?, chain_hash = ?
		WHERE id = ? AND last_seq = ? AND (? OR status IN (2, 3, 4, 6, 7))`,
	// No first_seq: a StatusUpdate.FirstSeq must name an event of its batch,
	// so a batch without events has none (see validateBatch).
	stTouchRunStatus: `UPDATE runs SET updated_at = ?, status = ?, result = ?, failure = ?, outcome_sum = ? WHERE id = ?`,
	stRunLastSeq:     `SELECT last_seq FROM runs WHERE id = ?`,
	stInsertEvent:    `INSERT INTO events (run_id, seq, type, name, ref, payload, time, sum, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	// The head of the run's chain, which the batch's first event links to,
	// when the head cache does not hold it.
	stRunChain: `SELECT chain_hash FROM runs WHERE id = ?`,
	// The file chain's head, read on the first run a transaction creates
	// when the head cache does not hold it, and written back before COMMIT.
	stReadHead:  `SELECT runs, hash FROM chain_head WHERE id = 1`,
	stWriteHead: `UPDATE chain_head SET runs = ?, hash = ? WHERE id = 1`,
	stInsertTask: `INSERT INTO tasks (run_id, step, kind, name, input, options, attempt, not_before, sum, attempt_sum,
		pending, heartbeat, canceled, state_sum, last_failure, first_failure_at, failure_sum, input_in_event)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	stUpdateTask: `UPDATE tasks SET attempt = ?, not_before = ?, attempt_sum = ?, pending = ?, heartbeat = ?, canceled = ?,
		state_sum = ?, last_failure = ?, first_failure_at = ?, failure_sum = ? WHERE run_id = ? AND step = ?`,
	stDeleteTask: `DELETE FROM tasks WHERE run_id = ? AND step = ?`,
	stDropTasks:  `DELETE FROM tasks WHERE run_id = ?`,
}

// newStore prepares the statements and returns the store; on error it
// closes both pools.
func newStore(ctx context.Context, path string, w, r *sql.DB) (*Store, error) {
	s := &Store{path: path, w: w, r: r, hasher: history.NewHasher()}
	for i, q := range writeSQL {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			_ = s.closePools()
			return nil, mapErr(ctx, err, nil, fmt.Sprintf("open %q: prepare", path))
		}
		s.ws[i] = st
	}
	for i, q := range readSQL {
		st, err := r.PrepareContext(ctx, q)
		if err != nil {
			_ = s.closePools()
			return nil, mapErr(ctx, err, nil, fmt.Sprintf("open %q: prepare", path))
		}
		s.rs[i] = st
	}
	return s, nil
}

// Path returns the path the store was opened with (":memory:" for an
// in-memory store).
func (s *Store) Path() string { return s.path }

// Close closes the store's connections. It waits for operations in flight;
// afterwards every method returns an error wrapping history.ErrStoreClosed.
// Closing a closed store does nothing and returns nil.
func (s *Store) Close() error {
	s.stopIDFilter()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.closePools()
	if s.lock != nil {
		_ = s.lock.Close() // after SQLite's connections: see lockFile
	}
	if err != nil {
		return fmt.Errorf("%sclose %q: %v", errPrefix, s.path, err)
	}
	return nil
}

// closePools stops the checkpointer and closes the prepared statements and
// both pools, readers first, so that the writer, closing last, checkpoints
// the WAL and removes it.
func (s *Store) closePools() error {
	var errs []error
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.close())
	}
	for _, st := range s.rs {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, st := range s.ws {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// enter takes the shared lock for one operation, or reports that the store
// is closed, naming the operation and the run it is for (runID, "" for
// none). The caller must call s.mu.RUnlock when enter returns nil.
func (s *Store) enter(what, runID string) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		if runID != "" {
			return fmt.Errorf("%s%s %q: %w", errPrefix, what, runID, history.ErrStoreClosed)
		}
		return fmt.Errorf("%s%s: %w", errPrefix, what, history.ErrStoreClosed)
	}
	return nil
}

// IntegrityCheck runs SQLite's PRAGMA integrity_check over the whole
// database, which reads every page, and returns nil when it reports no
// problem, or an error wrapping history.ErrCorrupt that lists the problems.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if err := s.enter("integrity check", ""); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	rows, err := s.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return mapErr(ctx, err, nil, fmt.Sprintf("integrity check %q", s.path))
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return mapErr(ctx, err, nil, fmt.Sprintf("integrity check %q", s.path))
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return mapErr(ctx, err, nil, fmt.Sprintf("integrity check %q", s.path))
	}
	if n := len(problems); n > 0 {
		const show = 10
		more := ""
		if n > show {
			problems, more = problems[:show], fmt.Sprintf("; and %d more", n-show)
		}
		return corruptf("integrity check %q: %s%s", s.path, strings.Join(problems, "; "), more)
	}
	return nil
}
