package events

import (
	"context"

	"github.com/chorusdev/chorus"
)

// Wakeup is a chorus.Observer that wakes a [Relay] as soon as a run of
// the engine commits an event, so that delivery does not wait for the
// relay's next poll. Install it as the engine's Options.Observer (it
// passes every event on to the observer it wraps) and give it to the
// relay as [RelayOptions.Wakeup]. Without one the relay still finds every
// event, one poll interval later; events committed by another process are
// always found by polling.
type Wakeup struct {
	ch   chan struct{}
	next chorus.Observer
}

var _ chorus.Observer = (*Wakeup)(nil)

// NewWakeup returns a Wakeup that passes every event on to next, which
// may be nil.
func NewWakeup(next chorus.Observer) *Wakeup {
	return &Wakeup{ch: make(chan struct{}, 1), next: next}
}

// Observe wakes the relay on an event marker and passes ev on.
func (w *Wakeup) Observe(ctx context.Context, ev chorus.Event) context.Context {
	if ev.Kind == chorus.EventMarker && ev.Name == MarkerName {
		w.Notify()
	}
	if w.next != nil {
		return w.next.Observe(ctx, ev)
	}
	return ctx
}

// Notify wakes the relay, as a committed event does. It never blocks.
func (w *Wakeup) Notify() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}
