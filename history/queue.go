package history

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// QueueState says where a [QueueItem] stands. Values are persisted.
type QueueState uint8

// The queue item states.
const (
	// QueueWaiting: the item waits for its turn; its run has status
	// [StatusQueued].
	QueueWaiting QueueState = 0
	// QueueStarted: the item was claimed and its run started (or is being
	// started); it holds a slot of its queue until the run ends.
	QueueStarted QueueState = 1
	// QueueDone: the item's run has ended; the item is kept only to count
	// the starts of a rate-limit window.
	QueueDone QueueState = 2
)

// String returns the state's name: "queued", "started" or "done".
func (s QueueState) String() string {
	switch s {
	case QueueWaiting:
		return "queued"
	case QueueStarted:
		return "started"
	case QueueDone:
		return "done"
	}
	return fmt.Sprintf("QueueState(%d)", uint8(s))
}

// QueueItem is a run enqueued to a named queue.
type QueueItem struct {
	// RunID is the run the item starts.
	RunID string
	// Queue is the queue's name.
	Queue string
	// Workflow is the registered name of the run's workflow.
	Workflow string
	// Input is the run's encoded input.
	Input []byte
	// Options is the engine's encoding of the start's other options.
	Options []byte
	// Priority orders items: lower numbers start first, first in first
	// out within a priority.
	Priority int
	// DedupID, when not empty, is unique in the queue among the items not
	// done (see [QueueDedupError]).
	DedupID string
	// PartitionKey groups items whose runs a partitioned queue limits
	// together.
	PartitionKey string
	// DebounceKey, when not empty, gathers the enqueues that find a
	// waiting item of the queue with the same key into that item.
	DebounceKey string
	// State says where the item stands.
	State QueueState
	// EnqueuedAt is when the item was enqueued, NotBefore the earliest it
	// may start (the zero time: at once) and StartedAt when it was claimed.
	EnqueuedAt, NotBefore, StartedAt time.Time
	// RunStatus is the status of the item's run, filled in by
	// [QueueStore.QueueItems]; zero while a claimed run is not created yet.
	RunStatus RunStatus
}

// QueueClaim says which waiting items of one queue [QueueStore.ClaimQueued]
// may start, and how many.
type QueueClaim struct {
	// Queue is the queue's name.
	Queue string
	// Now is the time of the claim, from the engine's clock.
	Now time.Time
	// Max caps the items claimed by this call; it must be positive.
	Max int
	// Concurrency caps the items started and not ended in the queue,
	// counted over every process sharing the store; zero means no cap.
	Concurrency int
	// PartitionConcurrency caps them per partition key; zero means no cap.
	PartitionConcurrency int
	// RateLimit caps the items started in any window of RatePeriod; zero
	// means no cap.
	RateLimit  int
	RatePeriod time.Duration
	// Workflows, when not nil, keeps only items of these workflows (those
	// the claiming process has registered).
	Workflows []string
}

// QueueFilter selects items for [QueueStore.QueueItems].
type QueueFilter struct {
	// RunID keeps only the item of this run when not empty.
	RunID string
	// Queue keeps only the items of this queue when not empty.
	Queue string
	// States keeps only the items in one of these states when not empty.
	States []QueueState
}

// ErrQueueDuplicate is wrapped by a [*QueueDedupError].
var ErrQueueDuplicate = errors.New("chorus: deduplication ID in use in the queue")

// QueueDedupError is the error of an enqueue whose deduplication ID is held
// by an item of the queue that is not done: its run is waiting or running.
type QueueDedupError struct {
	// Queue and DedupID are those of the refused enqueue.
	Queue, DedupID string
	// RunID is the run that holds the deduplication ID.
	RunID string
}

func (e *QueueDedupError) Error() string {
	return fmt.Sprintf("chorus: queue %q: deduplication ID %q is held by run %q, which has not ended", e.Queue, e.DedupID, e.RunID)
}

// Unwrap returns [ErrQueueDuplicate].
func (e *QueueDedupError) Unwrap() error { return ErrQueueDuplicate }

// QueueStore is implemented by stores that keep named queues of runs
// waiting to start (the SQLite store does). An enqueued run is visible as a
// run with status [StatusQueued] and no events until it is claimed.
type QueueStore interface {
	// Enqueue adds item (its state, RunStatus and StartedAt are ignored)
	// and the run's index row, with status StatusQueued and CreatedAt
	// item.EnqueuedAt, in one transaction. It returns the item as stored
	// and whether it was gathered into an existing one:
	//   - an item with a DebounceKey that finds a waiting item of the queue
	//     with the same key replaces that item's Input, Options and
	//     NotBefore and returns it with true (its RunID, not item's);
	//   - a DedupID held by an item that is not done fails with a
	//     [*QueueDedupError] naming its run;
	//   - a RunID that is taken fails with [ErrRunExists].
	Enqueue(ctx context.Context, item QueueItem) (QueueItem, bool, error)

	// ClaimQueued marks done the started items whose runs have ended,
	// then claims, in one transaction, up to c.Max waiting items of
	// c.Queue whose NotBefore has passed, in order of priority then of
	// enqueue, within the limits of c: each claimed item is marked
	// started at c.Now and its run's index row is deleted, so that the
	// caller starts the run under the same ID. It also returns the
	// earliest time after c.Now when a waiting item could become
	// claimable by time alone (a NotBefore, the end of a rate-limit
	// window), or the zero time.
	ClaimQueued(ctx context.Context, c QueueClaim) ([]QueueItem, time.Time, error)

	// QueueItems returns the items matching f, by queue then order of
	// claim, with their runs' statuses.
	QueueItems(ctx context.Context, f QueueFilter) ([]QueueItem, error)

	// CancelQueued ends the run of a waiting item before it started: the
	// item is deleted and the run's index row takes st (an ended status
	// with its failure) at time at. It reports false, changing nothing,
	// when the run has no waiting item.
	CancelQueued(ctx context.Context, runID string, st StatusUpdate, at time.Time) (bool, error)
}
