package history

import (
	"context"
	"errors"
	"time"
)

// ErrInvalidPurge is wrapped by the error of a [Store.PurgeRuns] call whose
// [PurgeFilter] is malformed.
var ErrInvalidPurge = errors.New("chorus: invalid purge filter")

// Batch is everything one step of one run changes, committed all or nothing.
// A store commits many batches in one transaction (group commit), but each
// batch succeeds or fails on its own.
type Batch struct {
	// RunID is the run the batch changes.
	RunID string
	// Time is when the engine made the batch, from its clock. It becomes the
	// run row's UpdatedAt (and CreatedAt for Create).
	Time time.Time
	// Create, when set, inserts the run's index row from its Workflow,
	// Status (zero means StatusRunning), Result, Failure, Parent and
	// ParentStep; its other fields are ignored. If a run with that ID
	// exists already, the batch fails with [ErrRunExists] and changes
	// nothing.
	Create *RunInfo
	// Reuse, when set, starts a new run under the ID of a run that has
	// ended (an ID reuse policy allowed it). The row takes its Workflow,
	// Parent and ParentStep from Reuse, CreatedAt from Time, and FirstSeq
	// from Reuse.FirstSeq, which must be the Seq of a RunStarted event of
	// the batch (or from Status.FirstSeq when the new run continued as new
	// in the same batch); Reuse's other fields are ignored, and Status is
	// required. The events before Reuse.FirstSeq stay in the journal,
	// readable, as the history of the runs that had the ID before. The run
	// must have ended, before the batch or by the event of the batch right
	// before that RunStarted (a run terminated to be replaced); otherwise
	// the batch fails with [ErrRunExists] and changes nothing.
	Reuse *RunInfo
	// Events are appended to the run's journal. Their Seq values must follow
	// the journal's last one without a gap; a clash fails the batch with
	// [ErrConflict].
	Events []Event
	// Status, when set, updates the run's index row.
	Status *StatusUpdate
	// DropTasks deletes every task of RunID before AddTasks are inserted
	// (when the run is terminated or continues as new).
	DropTasks bool
	// AddTasks inserts pending tasks.
	AddTasks []Task
	// UpdateTasks replaces the Attempt, NotBefore, Pending, Heartbeat,
	// Canceled, LastFailure and FirstFailureAt of existing tasks.
	UpdateTasks []Task
	// DoneTasks deletes the tasks of these steps of RunID.
	DoneTasks []int64
}

// ListFilter selects runs for [Store.ListRuns].
type ListFilter struct {
	// Status keeps only runs with this status when non-zero.
	Status RunStatus
	// Workflow keeps only runs of this workflow name when non-empty.
	Workflow string
	// AfterID returns runs whose ID sorts after this one, for paging.
	AfterID string
	// Limit caps the number of runs returned; 0 means no limit.
	Limit int

	// The fields below are served by stores that implement [AttrStore];
	// others answer an error when one is set.

	// Attrs keeps only runs whose search attributes match every filter.
	Attrs []AttrFilter
	// Statuses keeps only runs with one of these statuses (in addition to
	// Status, when both are set).
	Statuses []RunStatus
	// CreatedFrom and CreatedTo keep runs created in [CreatedFrom,
	// CreatedTo); a zero bound is open.
	CreatedFrom, CreatedTo time.Time
	// ClosedFrom and ClosedTo keep runs that have ended with their last
	// change (UpdatedAt) in [ClosedFrom, ClosedTo); a zero bound is open.
	// Setting either keeps only ended runs.
	ClosedFrom, ClosedTo time.Time
}

// Extended reports whether f uses a field that only an [AttrStore] serves.
func (f ListFilter) Extended() bool {
	return len(f.Attrs) > 0 || len(f.Statuses) > 0 || !f.CreatedFrom.IsZero() || !f.CreatedTo.IsZero() ||
		!f.ClosedFrom.IsZero() || !f.ClosedTo.IsZero()
}

// PurgeFilter selects the runs [Store.PurgeRuns] deletes.
type PurgeFilter struct {
	// Before is the cutoff: only runs whose row last changed (UpdatedAt,
	// which for an ended run is when it ended) strictly before it are
	// deleted. It is required.
	Before time.Time
	// Workflow keeps only runs of this workflow name when non-empty.
	Workflow string
	// AfterID keeps only runs whose ID sorts after it: pass the Next of
	// the previous call's [PurgeResult] to go on where it stopped, so that
	// a purge passes over the runs it keeps once, not once per call.
	AfterID string
	// Limit caps the number of runs one call deletes, all in one
	// transaction; it must be positive. Keep it small (hundreds) so that
	// the engine's commits interleave with a long purge.
	Limit int
}

// PurgeResult is what one [Store.PurgeRuns] call did.
type PurgeResult struct {
	// Deleted is how many runs the call deleted.
	Deleted int
	// Next is the AfterID of the next call, or empty when the call looked
	// at every run up to the last: the purge is over.
	Next string
}

// Store is the journal's storage. The engine is its only writer, and calls
// Commit from one goroutine at a time; the read methods may be called
// concurrently with Commit and with each other.
//
// Stores translate driver errors to this package's sentinels (wrapped with
// context), so the engine never imports a driver.
type Store interface {
	// Commit applies the batches in one transaction when it can. The returned
	// slice has one entry per batch: nil when that batch committed, or the
	// reason it did not ([ErrRunExists], [ErrConflict], ...). A batch that
	// fails does not stop the others. The second result is non-nil only when
	// the store could not tell what happened (the transaction's fate is
	// unknown, or the store is closed); then every batch is to be treated as
	// failed.
	Commit(ctx context.Context, batches []*Batch) ([]error, error)

	// Run returns a run's index row, or [ErrRunNotFound]. A damaged row
	// gives an error wrapping [ErrCorrupt] that names the run.
	Run(ctx context.Context, runID string) (RunInfo, error)

	// ListRuns returns runs matching f, ordered by ID. A run whose row is
	// damaged is returned in its place with RunInfo.Damaged set rather
	// than failing the call: one bad row never hides the other runs. (An
	// error wrapping [ErrCorrupt] remains possible when the damage is such
	// that the store cannot read past it.)
	ListRuns(ctx context.Context, f ListFilter) ([]RunInfo, error)

	// Events returns the journal of a run from event afterSeq+1 to its end,
	// in order, or [ErrRunNotFound]. Replay reads from RunInfo.FirstSeq-1.
	// An event that does not read back as it was written (a stored
	// checksum that does not match, an unknown type, a gap in the Seqs)
	// gives an error wrapping [ErrCorrupt] that names the run and the
	// event's Seq, never an event with altered content: damage must not
	// pass for the workflow's data.
	Events(ctx context.Context, runID string, afterSeq int64) ([]Event, error)

	// Tasks returns every pending task, ordered by run and step. A task
	// whose row is damaged is returned in its place with Task.Damaged set
	// rather than failing the call: one bad row never hides the other
	// tasks. (An error wrapping [ErrCorrupt] remains possible when the
	// damage is such that the store cannot tell which run the row belongs
	// to.)
	Tasks(ctx context.Context) ([]Task, error)

	// PurgeRuns deletes, in one transaction, up to f.Limit runs that ended
	// (completed, failed, canceled, terminated or timed out) before
	// f.Before, with their whole journal, in the order of their IDs, and
	// says how many it deleted and where the next call goes on (see
	// [PurgeResult]); call it with f.AfterID set to the Next it returns
	// until Next is empty to delete every match. A run that has not ended
	// (running or blocked) is never deleted, and neither is an ended run
	// the engine still owes something to:
	//   - a run with a pending task (for example a child whose parent has
	//     not yet recorded how it ended, or a parent whose children's
	//     close policy is still being applied);
	//   - a run with a child that has not ended (the child will report to
	//     it).
	// Afterwards Run of a deleted run gives [ErrRunNotFound] and its ID
	// can be used again as if it had never been. Malformed f gives an error
	// wrapping [ErrInvalidPurge].
	PurgeRuns(ctx context.Context, f PurgeFilter) (PurgeResult, error)

	// Close releases the store's resources. It is safe to call twice.
	Close() error
}

// RunTaskStore is implemented by stores that read one run's pending tasks
// without reading every task (the SQLite store does). Describe and the
// inspection tools use it when the store has it.
type RunTaskStore interface {
	// RunTasks returns the run's pending tasks ordered by step, with
	// damaged rows flagged as [Store.Tasks] does; none for an unknown run.
	RunTasks(ctx context.Context, runID string) ([]Task, error)
}

// Clock is the slice of a clock a store needs; stores never read the wall
// clock themselves. [github.com/benbjohnson/clock.Clock] satisfies it.
type Clock interface {
	Now() time.Time
}
