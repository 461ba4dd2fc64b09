package chorus

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/internal/engine"
)

// ErrResetRefused is wrapped by every [*ResetError]: a reset (or retry)
// that cannot be made at the point asked for.
var ErrResetRefused = engine.ErrResetRefused

// ResetError says why [Engine.Reset] or [Engine.Retry] refused a run.
type ResetError struct {
	// RunID names the run.
	RunID string
	// Step is the reset point asked for or found, 0 when there is none.
	Step int64
	// Reason says what is wrong.
	Reason string
	// Forceable says that [ResetOptions].Force lets the reset through
	// (a point inside a saga's compensation, or before a step marked
	// unrepeatable).
	Forceable bool
}

func (e *ResetError) Error() string { return (*engine.ResetError)(e).Error() }

// Unwrap returns [ErrResetRefused].
func (e *ResetError) Unwrap() error { return ErrResetRefused }

// ResetSignals says what a reset does with the signals a run received
// after the reset point.
type ResetSignals uint8

// The ways of treating signals received after the reset point.
const (
	// ResetReapplySignals delivers them again to the reset generation,
	// in the order they arrived, once its code has caught up with the
	// steps kept (the default).
	ResetReapplySignals ResetSignals = iota
	// ResetDropSignals leaves them in the old generation only.
	ResetDropSignals
)

// ResetOptions configures [Engine.Reset]. Exactly one of ToStep,
// ToLastGoodStep and ToFirstFailure must be set.
//
// # Steps
//
// A step is the Seq of a command in the run's current generation: an
// event that the workflow code issued (ActivityScheduled, TimerScheduled,
// ChildStarted, SideEffect, VersionMarker, SignalSent, Marker,
// SearchAttributesUpserted, UpdateCompleted, and the RunCompleted,
// RunFailed or RunCanceled that ended it; and the RunTerminated of a
// terminated run, a point that lets it go on where it was stopped),
// numbered as [History] and
// `chorus history` number events. The signals delivered with the start and
// the propagated context recorded with it belong to the start: the first
// step is the first command after them.
//
// Resetting to step n keeps every event of the generation before n and the
// outcomes, recorded later, of the steps issued before n: those steps are
// answered from the journal and do not run again. Step n and everything
// the code does after it run again, with the code registered now.
type ResetOptions struct {
	// ToStep resets to that step. Defaults to 0: unset.
	ToStep int64
	// ToLastGoodStep resets to the first step issued after the last
	// successful outcome (an activity or child that completed, a timer
	// that fired, a signal delivered): what succeeded is kept, the rest
	// runs again. A terminated run that issued nothing after it goes on
	// where it was stopped. Defaults to false.
	ToLastGoodStep bool
	// ToFirstFailure resets to the step of the first activity or child of
	// the generation that failed, which runs again. Defaults to false.
	ToFirstFailure bool
	// Reason is journaled with the reset. Defaults to "".
	Reason string
	// Signals says what happens to the signals received after the reset
	// point. Defaults to [ResetReapplySignals].
	Signals ResetSignals
	// Force resets even to a point inside a saga's compensation, or before
	// a step marked with workflow.MarkUnrepeatable. Defaults to false.
	Force bool
	// BatchID makes the reset idempotent: it is journaled in the reset
	// note, and a run whose journal already holds a reset note with this
	// ID is not reset again ([ResetResult].AlreadyDone). Batch operations
	// set it. At most 256 bytes. Defaults to "": every call resets.
	BatchID string
}

func (o ResetOptions) request() (engine.ResetRequest, error) {
	req := engine.ResetRequest{Step: o.ToStep, Reason: o.Reason, Force: o.Force, Batch: o.BatchID}
	n := 0
	if o.ToStep != 0 {
		n++
		req.Target = engine.ResetToStep
	}
	if o.ToLastGoodStep {
		n++
		req.Target = engine.ResetToLastGoodStep
	}
	if o.ToFirstFailure {
		n++
		req.Target = engine.ResetToFirstFailure
	}
	switch {
	case n != 1:
		return req, fmt.Errorf("chorus: ResetOptions: set exactly one of ToStep, ToLastGoodStep and ToFirstFailure (%d set)", n)
	case o.ToStep < 0:
		return req, fmt.Errorf("chorus: ResetOptions.ToStep is %d, want a step (2 or more)", o.ToStep)
	case o.Signals > ResetDropSignals:
		return req, fmt.Errorf("chorus: ResetOptions.Signals has unknown value %d", o.Signals)
	}
	req.DropSignals = o.Signals == ResetDropSignals
	return req, nil
}

// ResetResult is what [Engine.Reset] or [Engine.Retry] did.
type ResetResult struct {
	// Step is the reset point: the Seq, in the generation that was reset,
	// of the first step that ran again.
	Step int64 `json:"step"`
	// From is the Seq of the RunStarted of the generation that was reset;
	// its events stay in the journal, readable.
	From int64 `json:"from"`
	// FirstSeq is the Seq of the reset generation's RunStarted (0 when
	// AlreadyDone).
	FirstSeq int64 `json:"first_seq"`
	// Kept is how many events of the old generation the reset generation
	// copies.
	Kept int `json:"kept"`
	// Reapplied and Dropped count the signals received after the point.
	Reapplied int `json:"reapplied"`
	Dropped   int `json:"dropped"`
	// Terminated says that the run had not ended: the reset terminated its
	// old generation first.
	Terminated bool `json:"terminated"`
	// AlreadyDone says that a reset with the same [ResetOptions].BatchID
	// had reset the run already: nothing changed.
	AlreadyDone bool `json:"already_done"`
}

// Reset starts a new generation of run runID whose journal is a copy of
// its current generation up to a step (see [ResetOptions] for what a step
// is and which point each option picks). The steps before the point are
// answered from the copy and do not run again; the rest runs with the code
// registered now, which must register the run's workflow and replay the
// steps kept (a fix usually changes what happens at or after the point).
// Signals received after the point are delivered again unless
// [ResetDropSignals]. The old generation is never changed: it stays in the
// journal before the new RunStarted, where [History] and `chorus history`
// show it.
//
// Any run may be reset, whatever its status. A run that has not ended
// (running or blocked) is terminated first, in the same commit, so its
// children follow their parent-close policies (the default terminates
// them) and its pending activities and timers are dropped. A run that has
// ended keeps the consequences of how it ended (its parent, if any, was
// told; its children were closed).
//
// What the reset generation inherits:
//   - outcomes recorded after the point for steps issued before it are
//     delivered as they arrived, once the code has caught up;
//   - a step before the point still waiting for its outcome (an activity
//     still running, a timer not yet fired, a signal not yet delivered)
//     is started again: the activity from its first attempt, the timer
//     for the time it was set to fire;
//   - children started at or after the point belonged to the old
//     generation (see above); the reset generation starts its own when its
//     code asks (a child with a default ID gets a new one);
//   - a child started before the point must have a recorded outcome, or
//     the reset is refused;
//   - a cancellation requested after the point is dropped, and so are
//     updates accepted after it;
//   - the run's row is that of a new run (created now) with the same ID,
//     workflow and parent; its timeouts start over when the run had not
//     ended, and are gone otherwise.
//
// The reset is journaled, as the last event of its commit, with an
// OperatorAction note ("reset") naming who asked ([WithIdentity]; "unidentified"
// otherwise), the reason, the point, the generation reset and the batch.
// The time the code sees (workflow.Now) while it goes on from the point is
// that of the last event before it, as it was then, until the next input.
//
// Reset refuses, with a [*ResetError] that says why, a point that is not a
// step of the current generation, a point inside a saga's compensation
// (unless Force), a point before a step marked unrepeatable (unless Force),
// and a point after a child that has no recorded outcome. It fails with
// [ErrNotRegistered] when the workflow is not registered, and with a
// [*ResetError] naming the divergence when the registered code does not
// replay the steps kept; the run is then unchanged.
func (e *Engine) Reset(ctx context.Context, runID string, opts ResetOptions) (ResetResult, error) {
	if err := checkRunID(runID); err != nil {
		return ResetResult{}, err
	}
	req, err := opts.request()
	if err != nil {
		return ResetResult{}, err
	}
	return e.reset(ctx, runID, req)
}

// RetryOptions configures [Engine.Retry]. A nil *RetryOptions means every
// default.
type RetryOptions struct {
	// Reason is journaled with the retry. Defaults to "".
	Reason string
	// Signals says what happens to the signals received after the failed
	// activity was scheduled. Defaults to [ResetReapplySignals].
	Signals ResetSignals
	// BatchID: see [ResetOptions].BatchID. Defaults to "".
	BatchID string
}

// Retry resumes a run that failed because an activity failed for good (its
// retries exhausted, or a non-retryable error): it resets the run to the
// step of the last activity that failed, which runs again (from its first
// attempt, with the activity code registered now) while the steps before
// it are answered from the journal. It is [Engine.Reset] to that step, and
// refuses with a [*ResetError] a run that is not failed or whose current
// generation has no failed activity.
func (e *Engine) Retry(ctx context.Context, runID string, opts *RetryOptions) (ResetResult, error) {
	var o RetryOptions
	if opts != nil {
		o = *opts
	}
	if err := checkRunID(runID); err != nil {
		return ResetResult{}, err
	}
	if o.Signals > ResetDropSignals {
		return ResetResult{}, fmt.Errorf("chorus: RetryOptions.Signals has unknown value %d", o.Signals)
	}
	return e.reset(ctx, runID, engine.ResetRequest{Target: engine.ResetRetryFailed, Reason: o.Reason,
		DropSignals: o.Signals == ResetDropSignals, Batch: o.BatchID})
}

// PlanReset reports what [Engine.Reset] would do, without changing
// anything: the point it would reset to and what it would keep, or the
// [*ResetError] it would refuse with.
func (e *Engine) PlanReset(ctx context.Context, runID string, opts ResetOptions) (ResetResult, error) {
	if err := checkRunID(runID); err != nil {
		return ResetResult{}, err
	}
	req, err := opts.request()
	if err != nil {
		return ResetResult{}, err
	}
	req.DryRun = true
	return e.reset(ctx, runID, req)
}

func (e *Engine) reset(ctx context.Context, runID string, req engine.ResetRequest) (ResetResult, error) {
	if err := e.core.WaitResume(ctx, runID); err != nil {
		return ResetResult{}, err
	}
	r, err := e.core.Reset(ctx, runID, req)
	var re *engine.ResetError
	if errors.As(err, &re) {
		err = (*ResetError)(re)
	}
	if err != nil {
		return ResetResult{}, publicErr(err)
	}
	return ResetResult{Step: r.Step, From: r.From, FirstSeq: r.FirstSeq, Kept: r.Kept, Reapplied: r.Reapplied,
		Dropped: r.Dropped, Terminated: r.Terminated, AlreadyDone: r.AlreadyDone}, nil
}
