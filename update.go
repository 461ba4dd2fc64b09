package chorus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/workflow"
)

// ErrUnknownUpdate is wrapped by the error for an update the run has no
// handler for (workflow.SetUpdateHandler); the error names the update and
// the updates the run handles. Nothing is written.
var ErrUnknownUpdate = engine.ErrUnknownUpdate

// ErrUpdateUnfinished is wrapped by the error an update's caller gets when
// the run ended, or continued as new, while the update's handler was still
// running: the update was accepted (it is in the journal) but its handler
// never returned.
var ErrUpdateUnfinished = engine.ErrUpdateUnfinished

// ErrUpdateIDReused is wrapped by the error for an update whose ID the run
// already used for an update of another name.
var ErrUpdateIDReused = engine.ErrUpdateIDReused

// UpdateRejectedError is returned when the update's validator refused it
// (or its argument does not decode into the handler's type). Nothing was
// written to the journal. It unwraps to what the validator returned.
type UpdateRejectedError = engine.UpdateRejectedError

// ErrInvalidUpdateID is wrapped by the error for an update ID that is
// empty, longer than [MaxUpdateIDLength], or not UTF-8 text without NUL.
var ErrInvalidUpdateID = errors.New("chorus: invalid update ID")

// MaxUpdateIDLength is the longest update ID, in bytes.
const MaxUpdateIDLength = 256

// UpdateError is the error [Update] returns when the update's handler
// returned an error. It unwraps to an [*activity.Error] with the recorded
// type and message, like [WorkflowError].
type UpdateError struct {
	// RunID, Update and ID name the run, the update and the update ID.
	RunID  string
	Update string
	ID     string
	// Type and Message are the recorded error's type and text.
	Type    string
	Message string
	failure *history.Failure
}

func (e *UpdateError) Error() string {
	return fmt.Sprintf("chorus: update %q (ID %q) of run %q failed: %s", e.Update, e.ID, e.RunID, e.Message)
}

// Unwrap returns an [*activity.Error] with the recorded type and message.
func (e *UpdateError) Unwrap() error { return &activity.Error{Type: e.Type, Message: e.Message} }

// Is reports whether the error the handler returned, as rebuilt from the
// journal, matches target.
func (e *UpdateError) Is(target error) bool { return engine.FailureCauseIs(e.failure, target) }

// As finds target in the error the handler returned, as rebuilt from the
// journal.
func (e *UpdateError) As(target any) bool { return engine.FailureCauseAs(e.failure, target) }

// Update sends the update u with argument arg to the run runID and waits
// until the run's handler for it returned, then returns its result. It is
// [UpdateWithID] with a new random update ID.
func Update[In, Out any](ctx context.Context, e *Engine, runID string, u *workflow.Update[In, Out], arg In) (Out, error) {
	return UpdateWithID(ctx, e, runID, uuid.NewString(), u, arg)
}

// UpdateWithID sends the update u with argument arg to the run runID under
// the update ID updateID, and waits until the run's handler for it
// returned; see [StartUpdate] for how the update is accepted.
//
// The ID makes the update idempotent within the run's current generation:
// an update ID the run already accepted is not handled again, and the call
// returns the journaled outcome (waiting for it if the handler still runs).
// A caller that lost its connection, or whose engine was closed and
// reopened, calls again with the same ID to get the outcome.
//
// The handler's error is returned as an [*UpdateError]. If the run ends or
// continues as new before the handler returns, the error wraps
// [ErrUpdateUnfinished]; if it is blocked, it is a [*BlockedError] (call
// again, with the same ID, once it resumed).
func UpdateWithID[In, Out any](ctx context.Context, e *Engine, runID, updateID string, u *workflow.Update[In, Out], arg In) (Out, error) {
	var out Out
	h, err := StartUpdate(ctx, e, runID, updateID, u, arg)
	if err != nil {
		return out, err
	}
	return h.Result(ctx)
}

// UpdateHandle is an update that the run accepted; [UpdateHandle.Result]
// waits for its outcome.
type UpdateHandle[Out any] struct {
	e               *Engine
	runID, name, id string
	arg             []byte
	wait            func(context.Context) (engine.UpdateOutcome, error) // nil: ask the run again
	done            bool
	out             Out
	err             error
}

// ID returns the update ID.
func (h *UpdateHandle[Out]) ID() string { return h.id }

// Result waits until the update's handler returned and returns its result,
// or the error [UpdateWithID] describes. Once it returned, it returns the
// same again; if ctx ended first, a later call asks the run again under the
// same update ID. A handle is not safe for concurrent use.
func (h *UpdateHandle[Out]) Result(ctx context.Context) (Out, error) {
	if h.done {
		return h.out, h.err
	}
	if h.wait == nil {
		wait, err := h.e.core.Update(ctx, h.runID, h.name, h.id, h.arg)
		if err != nil {
			var zero Out
			return zero, publicErr(err)
		}
		h.wait = wait
	}
	o, err := h.wait(ctx)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			h.wait = nil // it stopped waiting
			return h.out, publicErr(err)
		}
		h.err = publicErr(err)
	case o.Failure != nil:
		h.err = &UpdateError{RunID: h.runID, Update: h.name, ID: h.id, Type: o.Failure.Type, Message: o.Failure.Message, failure: o.Failure}
	default:
		if uerr := h.e.codec.Unmarshal(o.Result, &h.out); uerr != nil {
			h.err = &PayloadError{What: fmt.Sprintf("decode result of update %q into %T", h.name, h.out), Err: uerr}
		}
	}
	h.done = true
	return h.out, h.err
}

// StartUpdate sends the update u with argument arg to the run runID under
// the update ID updateID and returns once the run accepted it (its
// argument is journaled and its handler started) or refused it; use the
// handle's Result to wait for the handler's outcome.
//
// The run refuses, writing nothing: an update whose validator returns an
// error ([*UpdateRejectedError]), one it has no handler for
// ([ErrUnknownUpdate]), a run that has ended ([ErrRunEnded]) or is blocked
// ([*BlockedError]), an unknown run ([ErrRunNotFound]), an argument over
// Options.Limits.MaxPayloadBytes ([*LimitError]). The update ID must be 1
// to [MaxUpdateIDLength] bytes of UTF-8 text without NUL.
func StartUpdate[In, Out any](ctx context.Context, e *Engine, runID, updateID string, u *workflow.Update[In, Out], arg In) (*UpdateHandle[Out], error) {
	if err := checkRunID(runID); err != nil {
		return nil, err
	}
	if err := checkUpdateID(updateID); err != nil {
		return nil, err
	}
	b, err := e.codec.Marshal(arg)
	if err != nil {
		return nil, &PayloadError{What: fmt.Sprintf("encode argument of update %q", u.Name()), Err: err}
	}
	wait, err := e.core.Update(ctx, runID, u.Name(), updateID, b)
	if err != nil {
		return nil, publicErr(err)
	}
	return &UpdateHandle[Out]{e: e, runID: runID, name: u.Name(), id: updateID, arg: b, wait: wait}, nil
}

func checkUpdateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrInvalidUpdateID)
	case len(id) > MaxUpdateIDLength:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidUpdateID, len(id), MaxUpdateIDLength)
	case !utf8.ValidString(id) || strings.ContainsRune(id, 0):
		return fmt.Errorf("%w: %q is not UTF-8 text without NUL", ErrInvalidUpdateID, id)
	}
	return nil
}
