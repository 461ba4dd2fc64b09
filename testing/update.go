package chorustest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// Update sends the update u with argument arg to the run runID under a new
// update ID and waits until its handler returned, skipping fake time
// whenever nothing is in flight (the handler may sleep and execute
// activities); see [UpdateWithID].
func Update[In, Out any](env *Env, runID string, u *workflow.Update[In, Out], arg In) (Out, error) {
	env.t.Helper()
	return UpdateWithID(env, runID, uuid.NewString(), u, arg)
}

// UpdateWithID sends the update u with argument arg to the run runID under
// updateID (see [chorus.UpdateWithID]) and waits until its handler
// returned, skipping fake time whenever nothing is in flight. It returns
// what chorus.UpdateWithID returns: the handler's result, a
// *chorus.UpdateRejectedError for an update the validator refused, an
// error wrapping chorus.ErrUnknownUpdate, a *chorus.UpdateError for a
// handler that failed, and so on. Like [Result], it returns an error
// wrapping [ErrStalled] if the handler can no longer return by itself.
// It must not be called inside an [Env.At] callback, which must not wait
// for time to pass; use [StartUpdate] there.
func UpdateWithID[In, Out any](env *Env, runID, updateID string, u *workflow.Update[In, Out], arg In) (Out, error) {
	env.t.Helper()
	h, err := StartUpdate(env, runID, updateID, u, arg)
	if err != nil {
		var zero Out
		return zero, err
	}
	return UpdateResult(env, h)
}

// StartUpdate sends the update u with argument arg to the run runID under
// updateID and returns once the run accepted or refused it (see
// [chorus.StartUpdate]); it does not move the clock, so it may be called
// inside an [Env.At] callback. [UpdateResult] waits for the outcome.
func StartUpdate[In, Out any](env *Env, runID, updateID string, u *workflow.Update[In, Out], arg In) (*chorus.UpdateHandle[Out], error) {
	var h *chorus.UpdateHandle[Out]
	err := env.call(func(ctx context.Context) (err error) {
		h, err = chorus.StartUpdate(ctx, env.eng, runID, updateID, u, arg)
		return err
	})
	return h, err
}

// UpdateResult waits until the handler of the accepted update h returned,
// skipping fake time whenever nothing is in flight, and returns what
// h.Result returns (or an error wrapping [ErrStalled] if the handler can no
// longer return by itself).
func UpdateResult[Out any](env *Env, h *chorus.UpdateHandle[Out]) (Out, error) {
	env.t.Helper()
	var out Out
	var err error
	var got atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		out, err = h.Result(ctx)
		got.Store(true)
		env.kick()
	}()
	what := fmt.Sprintf("update %q to finish", h.ID())
	werr := env.drive(waitSpec{what: what, done: got.Load, skip: true, confirmStall: true, failUnregistered: true})
	if werr != nil {
		cancel()
		<-finished
		if got.Load() && !errors.Is(err, context.Canceled) {
			return out, err // it finished as the wait gave up
		}
		var zero Out
		if errors.Is(werr, errNothingDue) {
			return zero, env.stalled(what)
		}
		return zero, werr
	}
	<-finished
	return out, err
}
