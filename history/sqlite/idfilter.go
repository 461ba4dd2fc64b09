package sqlite

import (
	"context"
	"database/sql"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// idFilter is a Bloom filter over the ID of every run row of a file store,
// so that RunExists answers "no" for a new ID (what the engine asks before
// every Start) from memory. A reader connection that looks the ID up
// instead finds its page cache reset by every commit since its last read,
// and reads the runs index back from the log: about a tenth of the CPU of
// a Start under load.
//
// It never answers "no" for an ID the file has: the store is the file's
// only writer (it holds the file's lock), and every path that creates a
// run row (Commit's creates, EnqueueRun's queued rows) adds the ID under
// commitMu before the row is written, whether or not its transaction then
// commits. A "maybe" (a run that exists, a purged one, or a false positive,
// about 1 % of new IDs while the filter is within its capacity) is looked
// up in the file.
//
// The filter is built from the file by a goroutine that Open starts (and
// built again, larger, when it has taken more IDs than it was sized for);
// until it is ready RunExists reads the file. IDs created while it is being
// built are kept aside and added when it is installed.
type idFilter struct {
	seed maphash.Seed
	ctx  context.Context // ends when the store closes
	// cur is the filter in use, nil until the first build; a build
	// replaces it whole, and bits are only ever set, atomically.
	cur atomic.Pointer[idBits]
	// The writer's, under commitMu.
	added     int      // IDs added since the filter was sized
	capacity  int      // IDs it was sized for
	building  bool     // a build runs: new IDs also go to pending
	wantBuild bool     // start a build after the current transaction
	pending   []string // IDs created since the build began
	// builds counts the builds that installed a filter (tests).
	builds atomic.Int64
	// scanHook, when set (tests, under commitMu before a build starts),
	// is called by the build once its snapshot of the file is taken.
	scanHook func()
	wg       sync.WaitGroup
	cancel   context.CancelFunc
}

type idBits struct{ bits []atomic.Uint64 }

// bitsPerID and idHashes give a false-positive rate of about 1 %.
const (
	bitsPerID   = 10
	idHashes    = 7
	minIDFilter = 1 << 16 // IDs the smallest filter is sized for
)

func newIDFilter() *idFilter {
	ctx, cancel := context.WithCancel(context.Background())
	return &idFilter{seed: maphash.MakeSeed(), ctx: ctx, cancel: cancel}
}

// positions calls fn with the bit positions of id in a filter of m bits.
func (f *idFilter) positions(id string, m uint64, fn func(word, bit uint64) bool) bool {
	h := maphash.String(f.seed, id)
	h1, h2 := h&0xffffffff, h>>32|1
	for i := uint64(0); i < idHashes; i++ {
		p := (h1 + i*h2) % m
		if !fn(p/64, p%64) {
			return false
		}
	}
	return true
}

// mayHave reports whether the file may have a run with the ID; known is
// false while no filter is ready.
func (f *idFilter) mayHave(id string) (may, known bool) {
	cur := f.cur.Load()
	if cur == nil {
		return false, false
	}
	bits := cur.bits
	m := uint64(len(bits)) * 64
	return f.positions(id, m, func(w, b uint64) bool { return bits[w].Load()&(1<<b) != 0 }), true
}

// add records a run ID about to be written. The store's; under commitMu.
// It reports whether the filter is full and should be built again.
func (f *idFilter) add(id string) (rebuild bool) {
	if f.building {
		f.pending = append(f.pending, id)
	}
	cur := f.cur.Load()
	if cur == nil {
		return false
	}
	setBits(f, cur.bits, id)
	f.added++
	return f.added > f.capacity && !f.building
}

func setBits(f *idFilter, bits []atomic.Uint64, id string) {
	f.positions(id, uint64(len(bits))*64, func(w, b uint64) bool {
		bits[w].Or(1 << b)
		return true
	})
}

// addRunIDs records the run IDs a transaction may create, and asks for a
// build after it when the filter is full. Under commitMu.
func (s *Store) addRunIDs(ids ...string) {
	f := s.ids
	if f == nil {
		return
	}
	for _, id := range ids {
		if f.add(id) {
			// After the commit: the build's snapshot must hold this
			// transaction's rows, which were added before it began.
			f.wantBuild = true
		}
	}
}

// startIDFilter starts a build of the filter. Under commitMu, or before
// the store is shared.
func (s *Store) startIDFilter() {
	f := s.ids
	if f.building || f.ctx.Err() != nil {
		return
	}
	f.building, f.pending = true, nil
	hook := f.scanHook
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		s.buildIDFilter(hook)
	}()
}

// buildIDFilter reads every run ID from a snapshot taken after the build
// began, so that each ID is in the snapshot or in pending (or both), and
// installs the filter. On failure (the store closing, for one) it leaves
// RunExists reading the file.
func (s *Store) buildIDFilter(hook func()) {
	f := s.ids
	bits, capacity, err := s.scanIDs(hook)
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	defer func() { f.building, f.pending = false, nil }()
	if err != nil {
		return
	}
	for _, id := range f.pending {
		setBits(f, bits, id)
	}
	// Readers of the filter it replaces may go on: it stays valid.
	f.cur.Store(&idBits{bits: bits})
	f.capacity, f.added = capacity, len(f.pending)
	f.builds.Add(1)
}

// scanIDs reads the run IDs into a new filter sized for twice their number.
func (s *Store) scanIDs(hook func()) ([]atomic.Uint64, int, error) {
	ctx := s.ids.ctx
	if err := s.enter("build run ID filter", ""); err != nil {
		return nil, 0, err
	}
	defer s.mu.RUnlock()
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM runs`).Scan(&n); err != nil {
		return nil, 0, err
	}
	if hook != nil {
		hook()
	}
	capacity := max(2*n, minIDFilter)
	bits := make([]atomic.Uint64, (capacity*bitsPerID+63)/64)
	rows, err := tx.QueryContext(ctx, `SELECT id FROM runs`)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var id string
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return nil, 0, err
		}
		setBits(s.ids, bits, id)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	return bits, capacity, nil
}

// stopIDFilter ends a build in progress and waits for it; none starts
// afterwards. Before Close takes s.mu.
func (s *Store) stopIDFilter() {
	if s.ids == nil {
		return
	}
	s.commitMu.Lock()
	s.ids.cancel()
	s.commitMu.Unlock()
	s.ids.wg.Wait()
}
