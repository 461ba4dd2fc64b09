package engine

import (
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/history"
)

// SignalInterceptor is offered each signal a workflow sends to another run
// (workflow.SignalExternal) before it is delivered, with the sender, the
// target, the signal's name and its encoded value. When it reports
// handled, the signal is not delivered: the sender learns err as the
// outcome (nil: delivered; an error wrapping history.ErrRunNotFound or
// ErrRunEnded is recorded with that failure type). A test environment uses
// it to mock signals.
type SignalInterceptor func(from, target, name string, value []byte) (handled bool, err error)

// SetSignalInterceptor installs (or, with nil, removes) the interceptor of
// signals between runs.
func (e *Engine) SetSignalInterceptor(f SignalInterceptor) {
	if f == nil {
		e.sigHook.Store(nil)
		return
	}
	e.sigHook.Store(&f)
}

// interceptSignal offers the signal of a send-signal task to the
// interceptor, and reports whether it took it; the sender is then told the
// interceptor's answer.
func (e *Engine) interceptSignal(t history.Task, sp signalPayload) bool {
	f := e.sigHook.Load()
	if f == nil {
		return false
	}
	handled, err := (*f)(sp.From, sp.Target, sp.Signal, sp.Value)
	if !handled {
		return false
	}
	res := input{kind: inSignalDelivered, step: t.Step}
	if err != nil {
		res.failure = FailureOf(fmt.Errorf("chorus: signal %q to run %q: %w", sp.Signal, sp.Target, err))
		switch {
		case errors.Is(err, history.ErrRunNotFound):
			res.failure.Type = FailureTypeRunNotFound
		case errors.Is(err, ErrRunEnded):
			res.failure.Type = FailureTypeRunEnded
		}
	}
	_ = e.deliver(sp.From, res)
	return true
}
