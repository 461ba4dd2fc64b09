package chorus

import (
	"context"
	"time"

	"github.com/chorusdev/chorus/history"
)

// RunStatus is where a run stands.
type RunStatus = history.RunStatus

// The run statuses.
const (
	StatusRunning    = history.StatusRunning
	StatusCompleted  = history.StatusCompleted
	StatusFailed     = history.StatusFailed
	StatusCanceled   = history.StatusCanceled
	StatusBlocked    = history.StatusBlocked
	StatusTerminated = history.StatusTerminated
)

// RunInfo describes a run.
type RunInfo struct {
	// ID is the run's ID.
	ID string
	// Workflow is the registered name of its workflow.
	Workflow string
	// Status is where it stands.
	Status RunStatus
	// CreatedAt is when it started; UpdatedAt when it last changed.
	CreatedAt time.Time
	UpdatedAt time.Time
	// Events is the length of its journal, from the start of its current
	// generation (a run that continued as new starts over).
	Events int64
	// Err is why it failed, was canceled ([*WorkflowError]) or is blocked
	// ([*BlockedError]); nil otherwise.
	Err error
}

func (e *Engine) runInfo(h history.RunInfo) RunInfo {
	return RunInfo{
		ID: h.ID, Workflow: h.Workflow, Status: h.Status, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt,
		Events: h.LastSeq - max(h.FirstSeq, 1) + 1, Err: e.runError(h),
	}
}

// Describe returns a run's current state, or [ErrRunNotFound].
func (e *Engine) Describe(ctx context.Context, runID string) (RunInfo, error) {
	if err := checkRunID(runID); err != nil {
		return RunInfo{}, err
	}
	h, err := e.store.Run(ctx, runID)
	if err != nil {
		return RunInfo{}, e.closedErr(err)
	}
	return e.runInfo(h), nil
}

// ListOptions selects runs for [Engine.List]. A nil *ListOptions lists
// every run.
type ListOptions struct {
	// Status keeps only runs with this status. Defaults to any.
	Status RunStatus
	// Workflow keeps only runs of this workflow name. Defaults to any.
	Workflow string
	// AfterID starts the list after this ID, for paging. Defaults to the
	// start.
	AfterID string
	// Limit caps how many runs are returned. Defaults to 0: no limit.
	Limit int
}

// List returns runs ordered by ID.
func (e *Engine) List(ctx context.Context, opts *ListOptions) ([]RunInfo, error) {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	hs, err := e.store.ListRuns(ctx, history.ListFilter{Status: o.Status, Workflow: o.Workflow, AfterID: o.AfterID, Limit: o.Limit})
	if err != nil {
		return nil, e.closedErr(err)
	}
	out := make([]RunInfo, len(hs))
	for i, h := range hs {
		out[i] = e.runInfo(h)
	}
	return out, nil
}
