package chorus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/history"
)

// ErrInvalidPurge: the options of a purge are malformed (no cutoff, a
// negative limit).
var ErrInvalidPurge = history.ErrInvalidPurge

// PurgeOptions select the runs [Engine.Purge] deletes.
type PurgeOptions struct {
	// FinishedBefore is the cutoff: only runs that ended strictly before
	// it are deleted. It is required.
	FinishedBefore time.Time
	// Workflow keeps only runs of this workflow name when non-empty.
	Workflow string
	// Limit caps how many runs the call deletes; 0 means no limit.
	Limit int
}

// PurgeBatchSize is how many runs one purge transaction deletes at most.
// Between transactions a purge pauses for [PurgePause], so the commits of
// live runs interleave with a long purge instead of waiting for its end.
const PurgeBatchSize = 500

// PurgePause is the pause between two purge transactions. It is real time,
// whatever the engine's Clock: it exists to let other commits through.
const PurgePause = 5 * time.Millisecond

// Purge deletes the runs that ended (completed, failed, canceled,
// terminated or timed out) before opts.FinishedBefore, with their whole
// history, and returns how many it deleted. It works in transactions of
// [PurgeBatchSize] runs with a pause between them, so the engine goes on
// answering meanwhile; when ctx ends it stops between two transactions and
// returns the count so far with ctx's error.
//
// Runs that have not ended (running or blocked) are never deleted, and
// neither is an ended run the engine still owes something to: a child
// whose parent has not recorded how it ended yet (it goes once the parent
// has), a run whose children's close policy is still being applied, or a
// run with a child that has not ended (it goes once the child has). A
// parent that is still running keeps its own history, which holds the
// outcome of each child it recorded, so purging such a child changes
// nothing for it.
//
// Afterwards [Engine.Describe] and [Engine.Result] of a deleted run give
// [ErrRunNotFound], and its ID can be started again as if it had never
// been used. Starting a run under the ID of an ended run while a purge
// deletes that very run may fail with [ErrRunNotFound]; trying again
// succeeds.
func (e *Engine) Purge(ctx context.Context, opts PurgeOptions) (int, error) {
	switch {
	case opts.FinishedBefore.IsZero():
		return 0, fmt.Errorf("chorus: purge: %w: FinishedBefore is required", ErrInvalidPurge)
	case opts.Limit < 0:
		return 0, fmt.Errorf("chorus: purge: %w: Limit is negative (%d)", ErrInvalidPurge, opts.Limit)
	}
	select {
	case <-e.core.Closed():
		return 0, ErrEngineClosed
	default:
	}
	n, err := purgeBatches(ctx, e.store, history.PurgeFilter{Before: opts.FinishedBefore, Workflow: opts.Workflow}, opts.Limit)
	return n, e.closedErr(err)
}

// purgeBatches purges in transactions of PurgeBatchSize runs, in the order
// of their IDs, until the store has looked at every run or limit (0: none)
// runs are gone.
func purgeBatches(ctx context.Context, st history.Store, f history.PurgeFilter, limit int) (int, error) {
	total := 0
	pause := time.NewTimer(0)
	defer pause.Stop()
	for limit == 0 || total < limit {
		f.Limit = PurgeBatchSize
		if limit > 0 {
			f.Limit = min(f.Limit, limit-total)
		}
		res, err := st.PurgeRuns(ctx, f)
		total += res.Deleted
		if err != nil {
			return total, fmt.Errorf("chorus: purge (%d runs deleted before this error): %w", total, err)
		}
		if res.Next == "" {
			break
		}
		f.AfterID = res.Next
		pause.Reset(PurgePause)
		select {
		case <-ctx.Done():
			return total, fmt.Errorf("chorus: purge (%d runs deleted): %w", total, ctx.Err())
		case <-pause.C:
		}
	}
	return total, nil
}

// retentionInterval is the longest time between two retention sweeps; a
// Retention shorter than it sweeps that often instead.
const retentionInterval = time.Hour

// retention deletes the runs that ended more than keep ago, at Open and
// then every retentionInterval of the engine's clock, until stopped.
type retention struct {
	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// startRetention starts the sweeps, which report to log.
func startRetention(st history.Store, clk clock.Clock, keep time.Duration, log *slog.Logger) *retention {
	ctx, cancel := context.WithCancel(context.Background())
	r := &retention{cancel: cancel, done: make(chan struct{})}
	every := min(keep, retentionInterval)
	tick := clk.Ticker(every)
	go func() {
		defer close(r.done)
		defer tick.Stop()
		for {
			n, err := purgeBatches(ctx, st, history.PurgeFilter{Before: clk.Now().Add(-keep)}, 0)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Warn("chorus: retention sweep failed; the next one tries again", "deleted", n, "err", err)
			case n > 0:
				log.Info("chorus: retention sweep deleted ended runs", "deleted", n, "retention", keep)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return r
}

// stop ends the sweeps, interrupting one under way between two
// transactions, and waits for them to stop. It is safe on a nil retention.
func (r *retention) stop() {
	if r == nil {
		return
	}
	r.stopOnce.Do(r.cancel)
	<-r.done
}
