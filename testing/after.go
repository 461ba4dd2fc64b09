package chorustest

import (
	"context"
	"slices"
	"time"

	"github.com/chorusdev/chorus/internal/engine"
)

// removeAt drops the callback with sequence number seq, if it has not run.
func (e *Env) removeAt(seq int) {
	e.mu.Lock()
	e.ats = slices.DeleteFunc(e.ats, func(a atCallback) bool { return a.seq == seq })
	e.mu.Unlock()
	e.kick()
}

// takeFakeTime makes the activity attempt whose context is ctx last d of
// fake time: the attempt stops counting as work in flight, so the env may
// skip time, and goes on once the clock has moved d further and the engine
// has settled there (as an env.At callback would). If the attempt's
// context ends first (its start-to-close timeout passed on the fake clock,
// the run canceled it), takeFakeTime returns the context's error.
func (e *Env) takeFakeTime(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	resume, ok := engine.SuspendAttempt(ctx)
	if !ok {
		resume = func() {}
	}
	wake := e.mock.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(wake) {
		// The timeout ends the attempt first: wake it there, once the
		// timeout has fired, so it never stops counting while it winds down.
		wake = dl
	}
	woke := make(chan struct{})
	seq := e.addAt(atCallback{at: wake, internal: true, fn: func() {
		resume()
		close(woke)
	}})
	select {
	case <-woke:
		return ctx.Err()
	case <-ctx.Done():
		e.removeAt(seq)
		resume()
		return ctx.Err()
	}
}
