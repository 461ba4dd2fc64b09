package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/chorusdev/chorus/history"
)

// The hash chain (migration 0009): each event's hash links to the previous
// event of its run, each run row holds its head and its position in the
// file chain, and chain_head the file chain's head. Commit writes all of
// them in the transaction that appends the events; see history.Hasher for
// the encoding.

// queuedStatus is history.StatusQueued as stored: a run only queued has no
// journal and no place in the file chain yet.
const queuedStatus = int64(history.StatusQueued)

// chainTx is the chain state inside one write transaction: the file
// chain's head, read on the first run the transaction creates and written
// back before COMMIT, and the run heads the transaction moved, which join
// the store's head cache once COMMIT succeeds.
type chainTx struct {
	loaded bool
	dirty  bool
	head   history.ChainHead
	hashes []history.Hash // the hashes of the batch being applied
	moved  map[string]history.Hash
	ended  map[string]bool // runs the transaction ended: their heads leave the cache
}

// maxCachedHeads bounds the head cache: about 100 bytes a run.
const maxCachedHeads = 1 << 16

// headCache holds the chain heads of the runs the store wrote last, so
// that appending to a run does not read its head back first: the store is
// the file's only writer (it holds the file's lock), so what it wrote is
// what the file holds. A run that ends leaves the cache; a miss reads the
// runs row. Only Commit and Purge use it, under commitMu.
type headCache struct {
	m map[string]history.Hash
	// file is the file chain's head, when fileOK.
	file   history.ChainHead
	fileOK bool
	args   hashArgs // slot 0 the run's head, 1 on the batch's events
}

func (c *headCache) get(id string) (history.Hash, bool) {
	h, ok := c.m[id]
	return h, ok
}

// settle records what a committed transaction moved.
func (c *headCache) settle(t *chainTx) {
	if t.loaded {
		c.file, c.fileOK = t.head, true
	}
	if c.m == nil {
		c.m = make(map[string]history.Hash)
	}
	for id, h := range t.moved {
		if t.ended[id] {
			delete(c.m, id)
			continue
		}
		if _, ok := c.m[id]; !ok && len(c.m) >= maxCachedHeads {
			for k := range c.m { // evict one, any
				delete(c.m, k)
				break
			}
		}
		c.m[id] = h
	}
}

// forget drops the runs a transaction may have moved, when its outcome is
// unknown (a failed COMMIT), or runs that were deleted.
func (c *headCache) forget(ids ...string) {
	for _, id := range ids {
		delete(c.m, id)
	}
}

// forgetTx drops the runs t moved.
func (c *headCache) forgetTx(t *chainTx) {
	if t.loaded {
		c.fileOK = false
	}
	for id := range t.moved {
		delete(c.m, id)
	}
}

// moveHead records that the transaction set run id's head to h; ended
// when the batch ended the run.
func (t *txStmts) moveHead(id string, h history.Hash, ended bool) {
	if t.chain.moved == nil {
		t.chain.moved = make(map[string]history.Hash)
	}
	t.chain.moved[id] = h
	if ended {
		if t.chain.ended == nil {
			t.chain.ended = make(map[string]bool)
		}
		t.chain.ended[id] = true
	} else if t.chain.ended != nil {
		delete(t.chain.ended, id)
	}
}

// loadHead reads the file chain's head in t's transaction.
func (t *txStmts) loadHead() error {
	if t.chain.loaded {
		return nil
	}
	if t.s.heads.fileOK {
		t.chain.head, t.chain.loaded = t.s.heads.file, true
		return nil
	}
	var h history.ChainHead
	var b []byte
	if err := t.stmt(stReadHead).QueryRowContext(t.ctx).Scan(&h.Runs, &b); err != nil {
		return err
	}
	h.Hash, _ = history.HashFromBytes(b)
	t.chain.head, t.chain.loaded = h, true
	return nil
}

// flushHead writes the file chain's head back if the transaction moved it.
func (t *txStmts) flushHead() error {
	if !t.chain.dirty {
		return nil
	}
	_, err := t.exec(stWriteHead, t.chain.head.Runs, t.s.heads.args.arg(0, &t.chain.head.Hash))
	if err != nil {
		return mapErr(t.ctx, err, nil, "commit: write the chain head")
	}
	t.chain.dirty = false
	return nil
}

// hashEvents computes the chain hashes of b's events into t.chain.hashes,
// the first linking to prev, and returns the new head.
func (t *txStmts) hashEvents(prev history.Hash, b *history.Batch) history.Hash {
	t.chain.hashes = t.chain.hashes[:0]
	for i := range b.Events {
		prev = t.s.hasher.Event(prev, b.RunID, &b.Events[i])
		t.chain.hashes = append(t.chain.hashes, prev)
	}
	return prev
}

// eventHash is the chain hash of the batch's event i, as bound.
func (t *txStmts) eventHash(i int) any {
	if !chainOn {
		return nil
	}
	return t.s.heads.args.arg(i+1, &t.chain.hashes[i])
}

// hashArgs binds hashes to statements without allocating per event: each
// slot is a 32-byte buffer boxed once in an interface, refilled for each
// statement (the driver copies what it binds).
type hashArgs struct {
	bufs  [][]byte
	boxed []any
}

// arg returns slot i holding h.
func (a *hashArgs) arg(i int, h *history.Hash) any {
	for len(a.bufs) <= i {
		b := make([]byte, len(h))
		a.bufs, a.boxed = append(a.bufs, b), append(a.boxed, b)
	}
	copy(a.bufs[i], h[:])
	return a.boxed[i]
}

// runChain returns the head of run id's chain: as this transaction or the
// head cache has it, or else as stored (zero for a run without a journal,
// or without a row: the update that follows fails then).
func (t *txStmts) runChain(id string) (history.Hash, error) {
	if h, ok := t.chain.moved[id]; ok {
		return h, nil
	}
	if h, ok := t.s.heads.get(id); ok {
		return h, nil
	}
	var b []byte
	err := t.stmt(stRunChain).QueryRowContext(t.ctx, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return history.Hash{}, nil
	}
	if err != nil {
		return history.Hash{}, err
	}
	h, _ := history.HashFromBytes(b)
	return h, nil
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readHead reads the file chain's head.
func readHead(ctx context.Context, q queryer) (history.ChainHead, error) {
	var h history.ChainHead
	var b []byte
	if err := q.QueryRowContext(ctx, `SELECT runs, hash FROM chain_head WHERE id = 1`).Scan(&h.Runs, &b); err != nil {
		return h, err
	}
	h.Hash, _ = history.HashFromBytes(b)
	return h, nil
}

// computeChains is the Go step of migration 0009: it gives every run a
// place in the file chain, in the order the runs were created, and every
// event its hash.
func computeChains(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM runs WHERE status <> ? ORDER BY created_at, id`, queuedStatus)
	if err != nil {
		return err
	}
	ids, err := scanIDs(rows)
	if err != nil {
		return err
	}
	x := history.NewHasher()
	var head history.ChainHead
	for _, v := range ids {
		id := v.(string)
		head.Runs++
		head.Hash = x.Run(head.Hash, head.Runs, id)
		events, err := readRawEvents(ctx, tx, id)
		if err != nil {
			return err
		}
		var prev history.Hash
		for i := range events {
			prev = x.Event(prev, id, &events[i].Event)
			if _, err := tx.ExecContext(ctx, `UPDATE events SET hash = ? WHERE run_id = ? AND seq = ?`,
				prev[:], id, events[i].Seq); err != nil {
				return err
			}
		}
		var runHead any
		if len(events) > 0 {
			runHead = prev[:]
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET chain_pos = ?, chain_hash = ? WHERE id = ?`, head.Runs, runHead, id); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE chain_head SET runs = ?, hash = ? WHERE id = 1`, head.Runs, head.Hash[:])
	return err
}

// readRawEvents reads a run's journal as stored, without any check.
func readRawEvents(ctx context.Context, q queryer, runID string) ([]history.ChainEvent, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, type, name, ref, payload, time, hash FROM events WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []history.ChainEvent
	for rows.Next() {
		e, err := scanRawEvent(rows, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanRawEvent scans seq, type, name, ref, payload, time and hash, after
// the columns of dest.
func scanRawEvent(rows *sql.Rows, dest []any) (history.ChainEvent, error) {
	var e history.ChainEvent
	var typ int64
	var name sql.NullString
	var t sql.NullInt64
	if err := rows.Scan(append(dest, &e.Seq, &typ, &name, &e.Ref, &e.Payload, &t, &e.Hash)...); err != nil {
		return e, err
	}
	e.Type, e.Name, e.Time = history.EventType(typ), name.String, nullTime(t)
	return e, nil
}

// ChainHead returns the file chain's head as recorded.
func (s *Store) ChainHead(ctx context.Context) (history.ChainHead, error) {
	if err := s.enter("read chain head", ""); err != nil {
		return history.ChainHead{}, err
	}
	defer s.mu.RUnlock()
	h, err := readHead(ctx, s.r)
	if err != nil {
		return h, mapErr(ctx, err, nil, fmt.Sprintf("read chain head of %q", s.path))
	}
	return h, nil
}

// ReadChain returns run runID's journal as stored, with its chain hashes,
// its head and its place in the file chain, without checking anything
// (see VerifyChains for that). An unknown run gives an error wrapping
// history.ErrRunNotFound.
func (s *Store) ReadChain(ctx context.Context, runID string) (history.ChainRun, error) {
	if err := s.enter("read chain", runID); err != nil {
		return history.ChainRun{}, err
	}
	defer s.mu.RUnlock()
	what := fmt.Sprintf("read chain of run %q", runID)
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return history.ChainRun{}, mapErr(ctx, err, nil, what)
	}
	defer func() { _ = tx.Rollback() }()
	r := history.ChainRun{RunID: runID}
	var pos sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT chain_pos, last_seq, chain_hash FROM runs WHERE id = ?`, runID).Scan(&pos, &r.LastSeq, &r.Head)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		r.NoRow = true
	case err != nil:
		return r, mapErr(ctx, err, nil, what)
	}
	r.Pos = pos.Int64
	if r.Events, err = readRawEvents(ctx, tx, runID); err != nil {
		return r, mapErr(ctx, err, nil, what)
	}
	if r.NoRow && len(r.Events) == 0 {
		return r, fmt.Errorf("%s%s: %w", errPrefix, what, history.ErrRunNotFound)
	}
	return r, nil
}

// VerifyChains re-computes every run's chain and the file chain, from one
// snapshot of the file, and reports the first break of each run (an event
// edited, inserted, deleted or moved) and any break of the file chain (a
// whole run deleted). Runs that retention purged count by their recorded
// heads. It reads on the reader pool and never holds up commits. The
// error is for a failure to read, not for damage, which the report holds.
func (s *Store) VerifyChains(ctx context.Context) (history.VerifyReport, error) {
	if err := s.enter("verify chains", ""); err != nil {
		return history.VerifyReport{}, err
	}
	defer s.mu.RUnlock()
	what := fmt.Sprintf("verify chains of %q", s.path)
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return history.VerifyReport{}, mapErr(ctx, err, nil, what)
	}
	defer func() { _ = tx.Rollback() }()
	rep, err := verifyChains(ctx, tx, nil)
	if err != nil {
		return rep, mapErr(ctx, err, nil, what)
	}
	return rep, nil
}

// VerifyChainsThrough is VerifyChains that also checks that the file
// chain passes through past, a head recorded earlier (see
// history.ChainVerifier.Through): a signed head proves then that no run
// created up to it was deleted or changed since.
func (s *Store) VerifyChainsThrough(ctx context.Context, past history.ChainHead) (history.VerifyReport, error) {
	if err := s.enter("verify chains", ""); err != nil {
		return history.VerifyReport{}, err
	}
	defer s.mu.RUnlock()
	what := fmt.Sprintf("verify chains of %q", s.path)
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return history.VerifyReport{}, mapErr(ctx, err, nil, what)
	}
	defer func() { _ = tx.Rollback() }()
	rep, err := verifyChains(ctx, tx, &past)
	if err != nil {
		return rep, mapErr(ctx, err, nil, what)
	}
	return rep, nil
}

func verifyChains(ctx context.Context, tx *sql.Tx, past *history.ChainHead) (history.VerifyReport, error) {
	head, err := readHead(ctx, tx)
	if err != nil {
		return history.VerifyReport{}, err
	}
	v := history.NewChainVerifier()
	if past != nil {
		v.Through(*past)
	}

	// The run rows, then the journal in run order, merged by ID.
	type runRow struct {
		pos     sql.NullInt64
		lastSeq int64
		head    []byte
		seen    bool
	}
	runs := map[string]*runRow{}
	rows, err := tx.QueryContext(ctx, `SELECT id, chain_pos, last_seq, chain_hash FROM runs WHERE status <> ? OR last_seq <> 0`, queuedStatus)
	if err != nil {
		return history.VerifyReport{}, err
	}
	for rows.Next() {
		var id string
		r := &runRow{}
		if err := rows.Scan(&id, &r.pos, &r.lastSeq, &r.head); err != nil {
			rows.Close()
			return history.VerifyReport{}, err
		}
		runs[id] = r
	}
	if err := rows.Close(); err != nil {
		return history.VerifyReport{}, err
	}
	if err := rows.Err(); err != nil {
		return history.VerifyReport{}, err
	}

	feed := func(cr *history.ChainRun) {
		if r, ok := runs[cr.RunID]; ok {
			r.seen = true
			cr.Pos, cr.LastSeq, cr.Head = r.pos.Int64, r.lastSeq, r.head
		} else {
			cr.NoRow = true
		}
		v.Run(cr)
	}
	rows, err = tx.QueryContext(ctx, `SELECT run_id, seq, type, name, ref, payload, time, hash FROM events ORDER BY run_id, seq`)
	if err != nil {
		return history.VerifyReport{}, err
	}
	var cur *history.ChainRun
	for rows.Next() {
		var id string
		e, err := scanRawEvent(rows, []any{&id})
		if err != nil {
			rows.Close()
			return history.VerifyReport{}, err
		}
		if cur == nil || cur.RunID != id {
			if cur != nil {
				feed(cur)
			}
			cur = &history.ChainRun{RunID: id}
		}
		cur.Events = append(cur.Events, e)
	}
	if err := rows.Close(); err != nil {
		return history.VerifyReport{}, err
	}
	if err := rows.Err(); err != nil {
		return history.VerifyReport{}, err
	}
	if cur != nil {
		feed(cur)
	}
	var unseen []string
	for id, r := range runs {
		if !r.seen {
			unseen = append(unseen, id)
		}
	}
	slices.Sort(unseen)
	for _, id := range unseen {
		r := runs[id]
		v.Run(&history.ChainRun{RunID: id, Pos: r.pos.Int64, LastSeq: r.lastSeq, Head: r.head})
	}

	rows, err = tx.QueryContext(ctx, `SELECT pos, purged_run, last_seq, head FROM chain_purged`)
	if err != nil {
		return history.VerifyReport{}, err
	}
	for rows.Next() {
		cr := history.ChainRun{Purged: true}
		if err := rows.Scan(&cr.Pos, &cr.RunID, &cr.LastSeq, &cr.Head); err != nil {
			rows.Close()
			return history.VerifyReport{}, err
		}
		v.Run(&cr)
	}
	if err := rows.Close(); err != nil {
		return history.VerifyReport{}, err
	}
	if err := rows.Err(); err != nil {
		return history.VerifyReport{}, err
	}
	return v.Finish(head), nil
}
