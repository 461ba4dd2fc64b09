package history

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotOwner: the run belongs to another engine sharing the store (a
// store in shared mode, such as PostgreSQL with several engine processes),
// and only that engine writes to it. A batch refused for it wrote nothing.
// The error is a [*NotOwnerError] naming the owner.
var ErrNotOwner = errors.New("chorus: the run is owned by another engine")

// NotOwnerError is the error of a write to a run that another engine owns.
// It wraps [ErrNotOwner].
type NotOwnerError struct {
	// RunID is the run written to.
	RunID string
	// Owner names the engine that owns the run (the node name of its
	// store), or is empty when no engine owns it yet.
	Owner string
}

func (e *NotOwnerError) Error() string {
	if e.Owner == "" {
		return fmt.Sprintf("chorus: run %q is owned by no engine of this store yet", e.RunID)
	}
	return fmt.Sprintf("chorus: run %q is owned by engine %q (send the request to that process)", e.RunID, e.Owner)
}

// Unwrap returns ErrNotOwner.
func (e *NotOwnerError) Unwrap() error { return ErrNotOwner }

// RunAdopter is implemented by stores that several engines share, each
// owning some of the runs (see [ErrNotOwner]): when an engine dies, another
// one adopts its runs. [Store.Tasks] of such a store returns only the tasks
// of the runs this engine owns; the engine reads them at Open, and then
// calls Adopted once to learn of the runs it adopts later, whose pending
// work it starts as it did at Open.
type RunAdopter interface {
	// Adopted returns the channel on which the store sends the IDs of the
	// runs it moved to this engine, each run once. The store adopts no run
	// before the first call, so that a run is never both among the tasks
	// the engine read at Open and adopted. The channel is closed when the
	// store closes.
	Adopted() <-chan []string
	// OwnsRun reports whether this engine owns the run, so that the
	// engine leaves other engines' runs alone when it looks over every
	// run of the store (the blocked runs it resumes at Open, say). An
	// unknown run is owned by no one.
	OwnsRun(ctx context.Context, runID string) (bool, error)
}
