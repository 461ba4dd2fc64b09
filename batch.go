package chorus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// BatchAction is what a batch operation does to each run it selects.
type BatchAction string

// The batch actions.
const (
	BatchCancel    BatchAction = "cancel"
	BatchTerminate BatchAction = "terminate"
	BatchSignal    BatchAction = "signal"
	BatchReset     BatchAction = "reset"
)

// DefaultBatchRPS is how many runs per second a batch acts on by default.
const DefaultBatchRPS = 50

// BatchOptions configures [Engine.Batch].
type BatchOptions struct {
	// ID identifies the batch. It is journaled in the note of every action
	// the batch takes, so that running a batch again with the same ID (after
	// a crash, say) passes over the runs it already acted on. At most 256
	// bytes. Defaults to a random UUID (a batch that cannot be resumed).
	ID string
	// Action is what to do to each run. Required.
	Action BatchAction
	// Filter selects the runs, as [Engine.List] does (Limit, AfterID and
	// Cursor are ignored: the batch pages through every match). The runs
	// are listed once, when the batch starts.
	Filter ListOptions
	// Reset is the reset to make, for [BatchReset]; its BatchID is set to
	// ID.
	Reset ResetOptions
	// Signal and SignalValue are the signal to send, for [BatchSignal];
	// SignalValue is encoded with the engine's codec (nil is sent as the
	// codec encodes nil).
	Signal      string
	SignalValue any
	// Reason is the reason journaled with a termination. Defaults to
	// "terminated by batch ID".
	Reason string
	// DryRun lists the runs the batch would act on, and what it would do
	// to each (for a reset, the point or the refusal), changing nothing.
	// Defaults to false.
	DryRun bool
	// RPS caps how many runs per second the batch acts on, so that the
	// engine keeps serving its other work; a dry run is not limited. It
	// must not be negative. Defaults to [DefaultBatchRPS].
	RPS float64
	// Progress, when set, is called after each run with what was done to
	// it, from the goroutine that called Batch.
	Progress func(BatchProgress)
}

// BatchItem is what a batch did, or in a dry run would do, to one run.
type BatchItem struct {
	// RunID and Workflow name the run; Status is its status when listed.
	RunID    string
	Workflow string
	Status   RunStatus
	// Outcome is one of "done", "skipped" (the batch had acted on it
	// already, or it had ended and there is nothing left to cancel or
	// terminate), "failed" (Err says why) or, in a dry run, "would".
	Outcome string
	// Err is why the action failed or, in a dry run, would fail.
	Err error
	// Reset is the reset made (or planned), for [BatchReset].
	Reset *ResetResult
}

// The outcomes of a [BatchItem].
const (
	BatchDone    = "done"
	BatchSkipped = "skipped"
	BatchFailed  = "failed"
	BatchWould   = "would"
)

// BatchProgress is reported after each run.
type BatchProgress struct {
	// Done is how many runs the batch has handled, Total how many it
	// selected.
	Done, Total int
	// Item is what happened to the last one.
	Item BatchItem
}

// BatchResult sums up a batch.
type BatchResult struct {
	// ID is the batch's ID (generated when BatchOptions.ID was empty).
	ID string `json:"id"`
	// Items has one entry per run selected, in ID order.
	Items []BatchItem `json:"items"`
	// Done, Skipped, Failed and Would count the items by outcome.
	Done    int `json:"done"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
	Would   int `json:"would"`
}

// Batch cancels, terminates, signals or resets every run the filter
// selects, at most RPS runs per second, journaling on each run it acts on
// an OperatorAction note with the caller's identity ([WithIdentity];
// "unidentified" otherwise) and the batch's ID. A run the batch fails to
// act on does not stop it: the item says why. Batch stops early only when
// ctx ends or the engine closes, returning what it did so far with the
// error.
//
// A batch is resumable: each run is acted on in one commit, so a crash in
// the middle leaves each run either untouched or acted on, and running the
// batch again with the same ID passes over the runs whose journal holds
// its note (for a reset, those it reset; for a signal, those it
// signaled). Cancels and terminations of runs that have ended are skipped.
func (e *Engine) Batch(ctx context.Context, opts BatchOptions) (BatchResult, error) {
	o := opts
	if o.ID == "" {
		o.ID = uuid.NewString()
	}
	if len(o.ID) > history.MaxIdentity {
		return BatchResult{ID: o.ID}, fmt.Errorf("chorus: BatchOptions.ID is %d bytes, longer than %d", len(o.ID), history.MaxIdentity)
	}
	if o.RPS < 0 {
		return BatchResult{ID: o.ID}, fmt.Errorf("chorus: BatchOptions.RPS is %v, want 0 (the default, %d) or more", o.RPS, DefaultBatchRPS)
	}
	if o.RPS == 0 {
		o.RPS = DefaultBatchRPS
	}
	var signal []byte
	switch o.Action {
	case BatchCancel, BatchTerminate:
	case BatchSignal:
		if err := engine.CheckSignalName(o.Signal); err != nil {
			return BatchResult{ID: o.ID}, fmt.Errorf("chorus: BatchOptions.Signal: %w", err)
		}
		var err error
		if signal, err = e.codec.Marshal(o.SignalValue); err != nil {
			return BatchResult{ID: o.ID}, &PayloadError{What: fmt.Sprintf("encode signal %q", o.Signal), Err: err}
		}
	case BatchReset:
		o.Reset.BatchID = o.ID
		if _, err := o.Reset.request(); err != nil {
			return BatchResult{ID: o.ID}, fmt.Errorf("chorus: BatchOptions.Reset: %w", err)
		}
	default:
		return BatchResult{ID: o.ID}, fmt.Errorf("chorus: BatchOptions.Action is %q, want cancel, terminate, signal or reset", o.Action)
	}
	if o.Reason == "" {
		o.Reason = "terminated by batch " + o.ID
	}
	runs, err := e.batchRuns(ctx, o.Filter)
	res := BatchResult{ID: o.ID}
	if err != nil {
		return res, err
	}
	ctx = engine.WithBatch(ctx, o.ID)
	clk := e.core.Clock()
	interval := time.Duration(float64(time.Second) / o.RPS)
	var next time.Time
	for i, info := range runs {
		item := BatchItem{RunID: info.ID, Workflow: info.Workflow, Status: info.Status}
		if o.DryRun {
			e.batchPlan(ctx, o, &item)
		} else {
			if now := clk.Now(); next.After(now) {
				t := clk.Timer(next.Sub(now))
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return res, ctx.Err()
				}
			}
			next = clk.Now().Add(interval)
			if err := e.batchAct(ctx, o, signal, &item); err != nil {
				return res, err
			}
		}
		res.Items = append(res.Items, item)
		switch item.Outcome {
		case BatchDone:
			res.Done++
		case BatchSkipped:
			res.Skipped++
		case BatchFailed:
			res.Failed++
		case BatchWould:
			res.Would++
		}
		if o.Progress != nil {
			o.Progress(BatchProgress{Done: i + 1, Total: len(runs), Item: item})
		}
	}
	return res, nil
}

// batchRuns lists every run f selects.
func (e *Engine) batchRuns(ctx context.Context, f ListOptions) ([]RunInfo, error) {
	f.Limit, f.AfterID, f.Cursor = 500, "", ""
	var out []RunInfo
	for {
		page, err := e.List(ctx, &f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out, nil
		}
		f.AfterID = page[len(page)-1].ID
	}
}

// batchPlan fills in what the batch would do to item's run.
func (e *Engine) batchPlan(ctx context.Context, o BatchOptions, item *BatchItem) {
	item.Outcome = BatchWould
	switch o.Action {
	case BatchReset:
		r, err := e.PlanReset(ctx, item.RunID, o.Reset)
		if err == nil {
			if done, _ := e.core.ActedBy(ctx, item.RunID, history.ActionReset, o.ID); done {
				r.AlreadyDone = true
				item.Outcome = BatchSkipped
			}
		}
		item.Reset, item.Err = &r, err
	case BatchSignal:
		if done, _ := e.core.ActedBy(ctx, item.RunID, history.ActionSignal, o.ID); done {
			item.Outcome = BatchSkipped
		} else if item.Status.Ended() {
			item.Err = fmt.Errorf("%w: run %q", ErrRunEnded, item.RunID)
		}
	default:
		if item.Status.Ended() {
			item.Outcome = BatchSkipped
		}
	}
	if item.Err != nil {
		item.Outcome = BatchFailed
	}
}

// batchAct acts on item's run. It returns an error only when the batch
// must stop.
func (e *Engine) batchAct(ctx context.Context, o BatchOptions, signal []byte, item *BatchItem) error {
	var err error
	switch o.Action {
	case BatchCancel:
		err = e.Cancel(ctx, item.RunID)
	case BatchTerminate:
		err = e.Terminate(ctx, item.RunID, o.Reason)
	case BatchSignal:
		var done bool
		if done, err = e.core.ActedBy(ctx, item.RunID, history.ActionSignal, o.ID); err == nil {
			if done {
				item.Outcome = BatchSkipped
				return nil
			}
			err = publicErr(e.core.Signal(ctx, item.RunID, o.Signal, signal))
		}
	case BatchReset:
		var r ResetResult
		r, err = e.Reset(ctx, item.RunID, o.Reset)
		if err == nil {
			item.Reset = &r
			if r.AlreadyDone {
				item.Outcome = BatchSkipped
				return nil
			}
		}
	}
	switch {
	case err == nil:
		item.Outcome = BatchDone
	case errors.Is(err, ErrEngineClosed) || ctx.Err() != nil:
		item.Outcome, item.Err = BatchFailed, err
		return err
	case errors.Is(err, ErrRunEnded) && (o.Action == BatchCancel || o.Action == BatchTerminate):
		item.Outcome = BatchSkipped
	default:
		item.Outcome, item.Err = BatchFailed, err
	}
	return nil
}

// MarshalJSON encodes the item with its error as text, for tools.
func (it BatchItem) MarshalJSON() ([]byte, error) {
	v := struct {
		RunID    string       `json:"run_id"`
		Workflow string       `json:"workflow"`
		Status   string       `json:"status"`
		Outcome  string       `json:"outcome"`
		Error    string       `json:"error,omitempty"`
		Reset    *ResetResult `json:"reset,omitempty"`
	}{it.RunID, it.Workflow, it.Status.String(), it.Outcome, "", it.Reset}
	if it.Err != nil {
		v.Error = it.Err.Error()
	}
	return json.Marshal(v)
}
