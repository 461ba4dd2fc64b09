package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/history"
)

// ErrInvalidIdentity is wrapped by the error of a cancel, terminate or
// signal whose context carries an identity that cannot be journaled.
var ErrInvalidIdentity = errors.New("chorus: invalid identity")

type identityKey struct{}

// WithIdentity returns a context that names who acts through it: a cancel,
// terminate, signal or accepted update made with it is journaled with that
// identity.
func WithIdentity(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, identityKey{}, who)
}

// IdentityOf returns the identity ctx carries, or "".
func IdentityOf(ctx context.Context) string {
	who, _ := ctx.Value(identityKey{}).(string)
	return who
}

// identityFor returns the identity an input of kind made with ctx is
// journaled with, or why it cannot be.
func identityFor(ctx context.Context, kind inputKind) (string, error) {
	who, ok := ctx.Value(identityKey{}).(string)
	if !ok || kind != inCancel && kind != inSignal && kind != inTerminate && kind != inUpdate {
		return "", nil
	}
	if err := history.CheckIdentity(who); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidIdentity, err)
	}
	return who, nil
}

// appendNote journals a note (history.EventType.IsNote) in the current
// round: nothing for the code, so nothing is applied.
func (r *Run) appendNote(typ history.EventType, name string, ref int64, payload []byte) {
	r.lastSeq++
	r.histBytes += int64(len(payload)) + eventOverhead
	r.round.events = append(r.round.events, history.Event{Seq: r.lastSeq, Type: typ, Name: name, Ref: ref, Payload: payload, Time: r.liveNow})
}

// noteAction journals who made input in, when its caller said.
func (r *Run) noteAction(in input, a history.OperatorAction) {
	if in.identity == "" {
		return
	}
	a.Identity, a.Batch = in.identity, in.batch
	b, err := history.EncodeOperatorAction(a)
	if err != nil {
		// The identity was checked when the input was made.
		r.eng.log.Error("chorus: operator action not journaled", "run", r.id, "err", err)
		return
	}
	r.appendNote(history.EventOperatorAction, a.Action, 0, b)
}

// noteRetried journals the attempts the activity of step took before its
// outcome.
func (r *Run) noteRetried(name string, step int64, a *history.ActivityRetried) {
	b, err := history.EncodeActivityRetried(*a)
	if err != nil {
		r.eng.log.Error("chorus: activity attempts not journaled", "run", r.id, "step", step, "err", err)
		return
	}
	r.appendNote(history.EventActivityRetried, name, step, b)
}

// retriedOf returns what the attempts of t before the current one left,
// for the note journaled with its outcome; nil after a first attempt.
func (e *Engine) retriedOf(t *actTask) *history.ActivityRetried {
	if t.Attempt < 2 {
		return nil
	}
	a := &history.ActivityRetried{Attempts: t.Attempt, FirstFailureAt: t.FirstFailureAt}
	if len(t.LastFailure) > 0 {
		if fl, err := e.decodeFailure(t.LastFailure); err == nil {
			a.LastFailure = fl
		}
	}
	return a
}
