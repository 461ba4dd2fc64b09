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
	// StatusQueued: the run waits in a queue for its turn to start (see
	// [Queue]); it has no history yet.
	StatusQueued = history.StatusQueued
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
	// PendingActivities are the activities the run waits for, ordered by
	// step: their attempt, why the last one failed, when the next one may
	// start. Filled by [Engine.Describe] only.
	PendingActivities []PendingActivity
}

// PendingActivity is an activity a run waits for; see
// [RunInfo].PendingActivities.
type PendingActivity struct {
	// Step is the run's step that scheduled it; Name its registered name.
	Step int64
	Name string
	// ScheduledAt is when the run scheduled it.
	ScheduledAt time.Time
	// Attempt is the number of the attempt running, or next to run.
	Attempt int
	// NextAttemptAt is the earliest time the next attempt may start after
	// a retry backoff; the zero time when it may start at once (or runs).
	NextAttemptAt time.Time
	// LastFailure is how the latest failed attempt failed, nil when none
	// has; FirstFailureAt is when the first one failed.
	LastFailure    *history.Failure
	FirstFailureAt time.Time
	// HeartbeatDetails are the details of the last heartbeat recorded,
	// encoded by the engine's codec (and PayloadCodec); decode them with
	// [Engine.DecodePayload]. Nil for none.
	HeartbeatDetails []byte
	// AwaitingCompletionSince, when not the zero time, says that the
	// attempt that started then returned activity.ErrResultPending: the
	// activity is completed from outside ([CompleteActivity]).
	AwaitingCompletionSince time.Time
	// CancelRequested says the workflow canceled it and waits for the
	// running attempt to return.
	CancelRequested bool
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
	h, err := e.runRow(ctx, runID)
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
	if !h.Status.Ended() && h.Damaged == nil {
		if info.PendingActivities, err = e.pendingActivities(ctx, runID); err != nil {
			return RunInfo{}, e.closedErr(err)
		}
	}
	return info, nil
}

// pendingActivities reads the run's activity tasks. A task whose row is
// damaged is left out: the run is blocked with that damage as its reason.
func (e *Engine) pendingActivities(ctx context.Context, runID string) ([]PendingActivity, error) {
	var tasks []history.Task
	var err error
	if rs, ok := e.store.(history.RunTaskStore); ok {
		tasks, err = rs.RunTasks(ctx, runID)
	} else {
		tasks, err = e.store.Tasks(ctx)
	}
	if err != nil {
		return nil, err
	}
	var out []PendingActivity
	for _, t := range tasks {
		if t.RunID != runID || t.Damaged != nil || t.Kind != history.TaskActivity && t.Kind != 0 {
			continue
		}
		p := PendingActivity{Step: t.Step, Name: t.Name, ScheduledAt: t.ScheduledAt, Attempt: t.Attempt, NextAttemptAt: t.NotBefore,
			FirstFailureAt: t.FirstFailureAt, HeartbeatDetails: t.Heartbeat, AwaitingCompletionSince: t.Pending, CancelRequested: t.Canceled}
		if len(t.LastFailure) > 0 {
			if fl, err := e.core.DecodeFailure(t.LastFailure); err == nil {
				p.LastFailure = fl
			} else {
				p.LastFailure = &history.Failure{Message: fmt.Sprintf("(the recorded failure does not decode: %v)", err)}
			}
		}
		out = append(out, p)
	}
	return out, nil
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
