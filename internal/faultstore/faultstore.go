// Package faultstore wraps a [history.Store] and injects faults into its
// calls, by seeded probability, for Chorus's reliability tests:
//
//   - a Commit that fails before writing anything (every batch gets an
//     error: the store knows nothing was written);
//   - a batch of a Commit that fails alone, before writing, while the other
//     batches of the same Commit land (what the Store contract allows);
//   - a Commit that writes everything and then reports that its outcome is
//     unknown (its second result): "the commit succeeded but an error was
//     reported", as a lost acknowledgement from a database would;
//   - a Commit that writes nothing and reports that its outcome is
//     unknown (a transaction that was rolled back, but the store could not
//     tell);
//   - a Commit that writes everything and then panics;
//   - reads (Run, Events, Tasks, ListRuns) that fail.
//
// Each decision is drawn from a hash of the seed, the kind of fault, what
// the call is about (the run, the batch's first Seq and shape, the read's
// arguments) and how many times that same call was made before, not from a
// shared random stream. So a seed injects the same faults into the same
// calls whatever order concurrent goroutines make them in, and a call that
// is retried draws afresh rather than failing forever. (Which batches the
// engine groups into one Commit still depends on timing, so a whole-Commit
// fault may hit different neighbours from one replay to the next.)
//
// Every injected error wraps [ErrInjected]; the unknown-outcome one also
// wraps [ErrUnknownOutcome].
package faultstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/chorusdev/chorus/history"
)

// ErrInjected is wrapped by every error the wrapper makes up.
var ErrInjected = errors.New("faultstore: injected fault")

// ErrUnknownOutcome is wrapped by the error of a Commit that wrote its
// batches and then reported a failure.
var ErrUnknownOutcome = errors.New("faultstore: the commit succeeded but an error was reported")

// Rates says how likely each fault is, per call (or per batch for
// BatchError), from 0 (never) to 1 (always).
type Rates struct {
	// CommitError fails a whole Commit before anything is written; every
	// batch gets an error wrapping ErrInjected.
	CommitError float64
	// BatchError fails one batch of a Commit before it is written; the
	// other batches are committed.
	BatchError float64
	// CommitUnknown commits every batch, then returns a second result
	// wrapping ErrInjected and ErrUnknownOutcome: the caller cannot tell
	// that the batches landed.
	CommitUnknown float64
	// CommitLost writes nothing and returns a second result wrapping
	// ErrInjected and ErrUnknownOutcome, like CommitUnknown: the caller
	// cannot tell that nothing landed.
	CommitLost float64
	// CommitPanic commits every batch, then panics.
	CommitPanic float64
	// Read fails Run, Events, Tasks and ListRuns calls.
	Read float64

	// Only, when set, limits faults to the runs it accepts: a batch or a
	// Run or Events read of another run is never failed, a whole-Commit
	// fault needs at least one accepted batch in the Commit, and Tasks and
	// ListRuns (which concern every run) are never failed.
	Only func(runID string) bool
	// MaxFaults stops injecting after that many faults; 0 means no limit.
	MaxFaults int
	// Wrap, when set, is wrapped by every injected error too: for example
	// history.ErrCorrupt, to play a store that finds its file damaged.
	Wrap error
	// OnFault, when set, is called with every fault injected, before the
	// call it hits returns (with the store's lock held: it must not call
	// the store).
	OnFault func(Fault)
}

// Op names a kind of injected fault.
type Op string

// The kinds of fault.
const (
	OpCommitError   Op = "commit-error"
	OpBatchError    Op = "batch-error"
	OpCommitUnknown Op = "commit-unknown"
	OpCommitLost    Op = "commit-lost"
	OpCommitPanic   Op = "commit-panic"
	OpRunRead       Op = "read-run"
	OpEventsRead    Op = "read-events"
	OpTasksRead     Op = "read-tasks"
	OpListRead      Op = "read-list"
)

// Fault is one injected fault.
type Fault struct {
	Op Op
	// Runs are the runs of the batches concerned (one for a batch fault or
	// a Run or Events read, none for Tasks and ListRuns).
	Runs []string
	// Detail says what exactly was hit, for example "r-1 seq 3+2".
	Detail string
}

func (f Fault) String() string {
	return fmt.Sprintf("%s %s", f.Op, f.Detail)
}

// Stats counts calls and faults.
type Stats struct {
	Commits, Batches, Reads int
	Faults                  map[Op]int
}

// Total returns the number of injected faults.
func (s Stats) Total() int {
	n := 0
	for _, v := range s.Faults {
		n += v
	}
	return n
}

func (s Stats) String() string {
	ops := make([]string, 0, len(s.Faults))
	for op, n := range s.Faults {
		ops = append(ops, fmt.Sprintf("%s=%d", op, n))
	}
	slices.Sort(ops)
	return fmt.Sprintf("%d commits (%d batches), %d reads, %d faults [%s]", s.Commits, s.Batches, s.Reads, s.Total(), strings.Join(ops, " "))
}

// Store is a history.Store that injects faults into the one it wraps. It
// is safe for concurrent use, as the wrapped store must be.
type Store struct {
	inner history.Store
	seed  int64

	mu       sync.Mutex
	rates    Rates
	calls    map[string]int // per decision key: how many draws were made
	faults   []Fault
	stats    Stats
	disabled bool
}

var _ history.Store = (*Store)(nil)

// Wrap returns a store that passes every call to inner, injecting faults
// as rates says, drawn from seed.
func Wrap(inner history.Store, seed int64, rates Rates) *Store {
	return &Store{inner: inner, seed: seed, rates: rates, calls: map[string]int{}, stats: Stats{Faults: map[Op]int{}}}
}

// Inner returns the wrapped store, to read the journal without faults.
func (s *Store) Inner() history.Store { return s.inner }

// Seed returns the seed the store draws from.
func (s *Store) Seed() int64 { return s.seed }

// SetRates replaces the rates from now on.
func (s *Store) SetRates(r Rates) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rates = r
}

// Disable stops every fault from now on; Enable starts them again.
func (s *Store) Disable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled = true
}

// Enable undoes Disable.
func (s *Store) Enable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled = false
}

// Faults returns every fault injected so far, in order.
func (s *Store) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.faults)
}

// Stats returns the counts so far.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.stats
	c.Faults = make(map[Op]int, len(s.stats.Faults))
	for k, v := range s.stats.Faults {
		c.Faults[k] = v
	}
	return c
}

// draw decides, under s.mu, whether a fault of kind op hits the call
// described by key, with probability rate.
func (s *Store) draw(op Op, key string, rate float64) bool {
	if s.disabled || rate <= 0 || (s.rates.MaxFaults > 0 && len(s.faults) >= s.rates.MaxFaults) {
		return false
	}
	k := string(op) + "\x00" + key
	n := s.calls[k]
	s.calls[k] = n + 1
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(s.seed))
	binary.LittleEndian.PutUint64(b[8:], uint64(n))
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(k))
	// Finalize (splitmix64) so that nearby inputs spread over [0, 1).
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11)/float64(1<<53) < math.Min(rate, 1)
}

func (s *Store) record(f Fault) error {
	s.faults = append(s.faults, f)
	s.stats.Faults[f.Op]++
	if s.rates.OnFault != nil {
		s.rates.OnFault(f)
	}
	if s.rates.Wrap != nil {
		return fmt.Errorf("%w: %s (seed %d, fault #%d): %w", ErrInjected, f, s.seed, len(s.faults), s.rates.Wrap)
	}
	return fmt.Errorf("%w: %s (seed %d, fault #%d)", ErrInjected, f, s.seed, len(s.faults))
}

func (s *Store) accepts(runID string) bool {
	return s.rates.Only == nil || s.rates.Only(runID)
}

// batchKey describes a batch by what the engine puts in it, leaving out
// times, so that the same step draws the same way in every replay.
func batchKey(b *history.Batch) string {
	var sb strings.Builder
	sb.WriteString(b.RunID)
	if b.Create != nil {
		sb.WriteString(" create")
	}
	if len(b.Events) > 0 {
		fmt.Fprintf(&sb, " seq %d+%d", b.Events[0].Seq, len(b.Events))
		for _, e := range b.Events {
			sb.WriteString(" " + strconv.Itoa(int(e.Type)))
		}
	}
	if b.Status != nil {
		fmt.Fprintf(&sb, " status %d", b.Status.Status)
	}
	for _, t := range b.AddTasks {
		fmt.Fprintf(&sb, " +%d", t.Step)
	}
	for _, t := range b.UpdateTasks {
		fmt.Fprintf(&sb, " ~%d/%d", t.Step, t.Attempt)
	}
	for _, st := range b.DoneTasks {
		fmt.Fprintf(&sb, " -%d", st)
	}
	if b.DropTasks {
		sb.WriteString(" drop")
	}
	return sb.String()
}

// Commit passes the batches to the wrapped store, with faults.
func (s *Store) Commit(ctx context.Context, batches []*history.Batch) ([]error, error) {
	s.mu.Lock()
	s.stats.Commits++
	s.stats.Batches += len(batches)
	keys := make([]string, len(batches))
	var runs []string
	for i, b := range batches {
		if b == nil {
			continue // the wrapped store reports it
		}
		keys[i] = batchKey(b)
		if s.accepts(b.RunID) {
			runs = append(runs, b.RunID)
		}
	}
	group := strings.Join(keys, " | ")
	whole := func(op Op, rate float64) error {
		if len(runs) == 0 || !s.draw(op, group, rate) {
			return nil
		}
		return s.record(Fault{Op: op, Runs: slices.Clone(runs), Detail: group})
	}
	if err := whole(OpCommitLost, s.rates.CommitLost); err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w (%w)", err, ErrUnknownOutcome)
	}
	if err := whole(OpCommitError, s.rates.CommitError); err != nil {
		s.mu.Unlock()
		errs := make([]error, len(batches))
		for i := range errs {
			errs[i] = err
		}
		return errs, nil
	}
	errs := make([]error, len(batches))
	pass := make([]*history.Batch, 0, len(batches))
	idx := make([]int, 0, len(batches))
	for i, b := range batches {
		if b != nil && s.accepts(b.RunID) && s.draw(OpBatchError, keys[i], s.rates.BatchError) {
			errs[i] = s.record(Fault{Op: OpBatchError, Runs: []string{b.RunID}, Detail: keys[i]})
			continue
		}
		pass = append(pass, b)
		idx = append(idx, i)
	}
	unknown := whole(OpCommitUnknown, s.rates.CommitUnknown)
	var panicErr error
	if unknown == nil {
		panicErr = whole(OpCommitPanic, s.rates.CommitPanic)
	}
	s.mu.Unlock()

	if len(pass) > 0 {
		inner, err := s.inner.Commit(ctx, pass)
		for j, i := range idx {
			switch {
			case err != nil:
				errs[i] = err
			case j < len(inner):
				errs[i] = inner[j]
			}
		}
		if err != nil {
			return errs, err
		}
	}
	switch {
	case unknown != nil:
		return nil, fmt.Errorf("%w (%w)", unknown, ErrUnknownOutcome)
	case panicErr != nil:
		panic(panicErr.Error())
	}
	return errs, nil
}

// read decides a read fault.
func (s *Store) read(op Op, runID, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Reads++
	if runID == "" && s.rates.Only != nil {
		return nil
	}
	if runID != "" && !s.accepts(runID) {
		return nil
	}
	if !s.draw(op, key, s.rates.Read) {
		return nil
	}
	var runs []string
	if runID != "" {
		runs = []string{runID}
	}
	return s.record(Fault{Op: op, Runs: runs, Detail: key})
}

// Run reads a run's index row, with faults.
func (s *Store) Run(ctx context.Context, runID string) (history.RunInfo, error) {
	if err := s.read(OpRunRead, runID, runID); err != nil {
		return history.RunInfo{}, err
	}
	return s.inner.Run(ctx, runID)
}

// ListRuns lists runs, with faults.
func (s *Store) ListRuns(ctx context.Context, f history.ListFilter) ([]history.RunInfo, error) {
	key := fmt.Sprintf("%d %q %q %d", f.Status, f.Workflow, f.AfterID, f.Limit)
	if err := s.read(OpListRead, "", key); err != nil {
		return nil, err
	}
	return s.inner.ListRuns(ctx, f)
}

// Events reads a run's journal, with faults.
func (s *Store) Events(ctx context.Context, runID string, afterSeq int64) ([]history.Event, error) {
	if err := s.read(OpEventsRead, runID, runID+" after "+strconv.FormatInt(afterSeq, 10)); err != nil {
		return nil, err
	}
	return s.inner.Events(ctx, runID, afterSeq)
}

// Tasks reads the pending tasks, with faults.
func (s *Store) Tasks(ctx context.Context) ([]history.Task, error) {
	if err := s.read(OpTasksRead, "", "tasks"); err != nil {
		return nil, err
	}
	return s.inner.Tasks(ctx)
}

// PurgeRuns passes through to the wrapped store; it never fails by
// injection.
func (s *Store) PurgeRuns(ctx context.Context, f history.PurgeFilter) (history.PurgeResult, error) {
	return s.inner.PurgeRuns(ctx, f)
}

// Close closes the wrapped store; it never fails by injection.
func (s *Store) Close() error { return s.inner.Close() }
