package chorus

import (
	"context"
	"fmt"
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
	// StatusTimedOut: the run passed its StartOptions.ExecutionTimeout or
	// RunTimeout (see [StartOptions]).
	StatusTimedOut = history.StatusTimedOut
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
	// ([*BlockedError]); nil otherwise. In a list from [Engine.List], it
	// wraps [ErrCorrupt] for a run whose stored row is damaged; that run's
	// other fields must not be trusted.
	Err error
	// Unregistered lists what the run waits for that this engine has no
	// registration for: its own workflow, an activity it called, the
	// workflow of a child it started. Such work waits, without failing,
	// until the name is registered ([Engine.Register], or
	// [Options].Definitions at a later [Open]); the engine also logs a
	// warning. Empty for a run that has ended.
	Unregistered []Unregistered
	// SearchAttributes are the run's current search attributes, ordered by
	// name, as its code set them with workflow.UpsertSearchAttributes.
	// Filled by [Engine.Describe] only.
	SearchAttributes []SearchAttribute
	// Memo holds the run's memo entries (workflow.UpsertMemo), each
	// encoded by the engine's codec; decode one with [Engine.DecodeMemo].
	// Filled by [Engine.Describe] only.
	Memo map[string][]byte
}

// Unregistered is work of a run that waits for a workflow or activity name
// that is not registered; see [RunInfo].Unregistered.
type Unregistered struct {
	// Kind is "activity" or "workflow".
	Kind string
	// Name is the activity's or workflow's name.
	Name string
	// Step is the run's step that waits: the activity's, or the start of the
	// child. 0 when the run's own workflow is missing.
	Step int64
	// Child is the ID of the child run waiting to start, for a child whose
	// workflow is missing; "" otherwise.
	Child string
	// Attempt is the attempt of the activity that waits; 0 for a workflow.
	Attempt int
}

// String describes u, such as `activity "charge" (step 3, attempt 1) is not registered`.
func (u Unregistered) String() string {
	switch {
	case u.Kind == "activity":
		return fmt.Sprintf("activity %q (step %d, attempt %d) is not registered", u.Name, u.Step, u.Attempt)
	case u.Child != "":
		return fmt.Sprintf("workflow %q of child run %q (step %d) is not registered", u.Name, u.Child, u.Step)
	}
	return fmt.Sprintf("the run's workflow %q is not registered", u.Name)
}

func (e *Engine) runInfo(h history.RunInfo) RunInfo {
	err := h.Damaged
	if err == nil {
		err = e.runError(h)
	}
	return RunInfo{
		ID: h.ID, Workflow: h.Workflow, Status: h.Status, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt,
		Events: h.LastSeq - max(h.FirstSeq, 1) + 1, Err: err, Unregistered: e.unregistered(h),
	}
}

// unregistered lists the work of a run that waits for a registration.
func (e *Engine) unregistered(h history.RunInfo) []Unregistered {
	if h.Status.Ended() || h.Damaged != nil {
		return nil
	}
	var out []Unregistered
	if _, ok := e.core.Workflow(h.Workflow); !ok {
		out = append(out, Unregistered{Kind: "workflow", Name: h.Workflow})
	}
	for _, u := range e.core.Unregistered(h.ID) {
		out = append(out, Unregistered{Kind: u.Kind, Name: u.Name, Step: u.Step, Child: u.Child, Attempt: u.Attempt})
	}
	return out
}

// Describe returns a run's current state, or [ErrRunNotFound].
func (e *Engine) Describe(ctx context.Context, runID string) (RunInfo, error) {
	if err := checkRunID(runID); err != nil {
		return RunInfo{}, err
	}
	if err := e.core.WaitResume(ctx, runID); err != nil {
		return RunInfo{}, err
	}
	h, err := e.store.Run(ctx, runID)
	if err != nil {
		return RunInfo{}, e.closedErr(err)
	}
	info := e.runInfo(h)
	if as, ok := e.store.(history.AttrStore); ok && h.Damaged == nil {
		a, err := as.RunAttrs(ctx, runID)
		if err != nil {
			return RunInfo{}, e.closedErr(err)
		}
		info.SearchAttributes, info.Memo = a.Attrs, a.Memo
	}
	return info, nil
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

	// Attrs keeps only runs whose search attributes match every filter,
	// such as Customer.Is("acme") or Amount.Between(100, 500).
	Attrs []AttrFilter
	// Statuses keeps only runs with one of these statuses.
	Statuses []RunStatus
	// CreatedFrom and CreatedTo keep runs started in [CreatedFrom,
	// CreatedTo); a zero bound is open.
	CreatedFrom, CreatedTo time.Time
	// ClosedFrom and ClosedTo keep runs that ended in [ClosedFrom,
	// ClosedTo) (their last change, for an ended run); setting either keeps
	// only ended runs.
	ClosedFrom, ClosedTo time.Time
	// Cursor continues a listing where the page that returned it stopped
	// (see [Engine.ListPage]); it wins over AfterID. Runs are listed in ID
	// order, so paging never repeats or skips a run that existed when the
	// listing began, whatever is started meanwhile.
	Cursor string
}

// List returns runs ordered by ID. A run whose stored row is damaged is
// listed in its place with an Err wrapping [ErrCorrupt], so that one bad row
// never hides the other runs.
func (e *Engine) List(ctx context.Context, opts *ListOptions) ([]RunInfo, error) {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	f, err := o.filter()
	if err != nil {
		return nil, err
	}
	hs, err := e.store.ListRuns(ctx, f)
	if err != nil {
		return nil, e.closedErr(err)
	}
	out := make([]RunInfo, len(hs))
	for i, h := range hs {
		out[i] = e.runInfo(h)
	}
	return out, nil
}
