package chorus

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/history"
)

// History returns the journal of run runID, every generation of it, with
// its index row, as a [history.Export]: write it with its Encode method to
// get a chorus-history document (the format is specified in package
// github.com/chorusdev/chorus/replay), and replay it against new code with
// replay.Run. It works on any run, ended or not, and changes nothing. The
// index row and the events are one consistent point of the run's history
// even while it advances. A run whose journal exceeds
// [history.MaxExportEvents] is refused with an error wrapping
// [history.ErrExportTooLarge].
func History(ctx context.Context, e *Engine, runID string) (*history.Export, error) {
	if err := checkRunID(runID); err != nil {
		return nil, err
	}
	info, err := e.store.Run(ctx, runID)
	if err != nil {
		return nil, e.closedErr(err)
	}
	if info.LastSeq > history.MaxExportEvents {
		return nil, fmt.Errorf("chorus: export run %q: %w: %d events, the limit is %d",
			runID, history.ErrExportTooLarge, info.LastSeq, history.MaxExportEvents)
	}
	events, err := e.store.Events(ctx, runID, 0)
	if err != nil {
		return nil, e.closedErr(err)
	}
	// The run may have advanced since its row was read: keep the journal
	// the row describes.
	for len(events) > 0 && events[len(events)-1].Seq > info.LastSeq {
		events = events[:len(events)-1]
	}
	info.FirstSeq = max(info.FirstSeq, 1)
	x := &history.Export{Run: info, Events: events}
	if err := x.Validate(); err != nil {
		return nil, fmt.Errorf("chorus: export run %q: the stored journal is not consistent: %w", runID, err)
	}
	return x, nil
}

// ImportHistory writes the run that h holds, its index row and its whole
// journal, into store, as a new run with the same ID; a run with that ID
// must not exist ([ErrRunExists]). It checks h first ([history.Export.Validate],
// and the run ID rules of [Start]); a defect is a [*history.FormatError].
//
// ImportHistory writes no tasks. It is meant for a store that no engine has
// open yet, to replay, query or inspect the run (replay.Run uses it on an
// in-memory store), not to move live runs between databases: an imported
// run that has not ended does not resume its activities, timers or
// children, and one imported as blocked is retried (replayed) by the next
// engine that opens the store.
func ImportHistory(ctx context.Context, store history.Store, h *history.Export) error {
	if store == nil {
		return errors.New("chorus: ImportHistory: nil store")
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if err := validateRunID(h.Run.ID); err != nil {
		return &history.FormatError{Field: "run.id", Event: -1, Reason: err.Error(), Kind: history.ErrCorrupt}
	}
	if h.Run.Parent != "" {
		if err := validateRunID(h.Run.Parent); err != nil {
			return &history.FormatError{Field: "run.parent", Event: -1, Reason: err.Error(), Kind: history.ErrCorrupt}
		}
	}
	r := h.Run
	create := &history.Batch{
		RunID: r.ID, Time: r.CreatedAt, Events: h.Events,
		Create: &history.RunInfo{Workflow: r.Workflow, Status: r.Status, Result: r.Result, Failure: r.Failure,
			Parent: r.Parent, ParentStep: r.ParentStep},
		Status: &history.StatusUpdate{Status: r.Status, Result: r.Result, Failure: r.Failure, FirstSeq: r.FirstSeq},
	}
	if err := commitOne(ctx, store, create); err != nil {
		return fmt.Errorf("chorus: import run %q: %w", r.ID, err)
	}
	if !r.UpdatedAt.Equal(r.CreatedAt) {
		// A second batch, so that the row's UpdatedAt is the recorded one;
		// the first set both times to CreatedAt.
		if err := commitOne(ctx, store, &history.Batch{RunID: r.ID, Time: r.UpdatedAt}); err != nil {
			return fmt.Errorf("chorus: import run %q: set its update time: %w", r.ID, err)
		}
	}
	return nil
}

func commitOne(ctx context.Context, store history.Store, b *history.Batch) error {
	errs, err := store.Commit(ctx, []*history.Batch{b})
	if err != nil {
		return err
	}
	if len(errs) != 1 {
		return fmt.Errorf("store returned %d results for one batch", len(errs))
	}
	return errs[0]
}
