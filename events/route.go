package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// Received is an event of payload type T as a consumer sees it: its
// CloudEvents attributes and its decoded payload. [SignalOn] and
// [SignalWithStartOn] send it as the signal value, so the workflow knows
// the event's ID and can recognise a repeat.
type Received[T any] struct {
	ID      string    `json:"id"`
	Source  string    `json:"source"`
	Type    string    `json:"type"`
	Subject string    `json:"subject,omitempty"`
	Time    time.Time `json:"time"`
	Data    T         `json:"data"`
}

// ErrWrongType is returned (wrapped) by [DecodeEvent] for an event whose
// CloudEvents type is not the definition's.
var ErrWrongType = errors.New("events: event of another type")

// DecodeEvent decodes ev as an event of definition def.
func DecodeEvent[T any](def *Definition[T], ev event.Event) (Received[T], error) {
	r := Received[T]{ID: ev.ID(), Source: ev.Source(), Type: ev.Type(), Subject: ev.Subject(), Time: ev.Time()}
	if ev.Type() != def.Type() {
		return r, fmt.Errorf("%w: %s %s has type %q, want %q", ErrWrongType, ev.Source(), ev.ID(), ev.Type(), def.Type())
	}
	if err := json.Unmarshal(ev.Data(), &r.Data); err != nil {
		return r, fmt.Errorf("events: decode data of %s event %s: %w", def.Type(), ev.ID(), err)
	}
	return r, nil
}

// ByType routes each event to the Process of its CloudEvents type, for a
// topic that carries several types. An event of a type not listed is
// acknowledged and ignored: a consumer need not know every event its
// publishers add later.
func ByType(routes map[string]Process) Process {
	return func(ctx context.Context, ev event.Event) error {
		if p, ok := routes[ev.Type()]; ok {
			return p(ctx, ev)
		}
		return nil
	}
}

// StartOn returns a Process that starts a run of wf for each event of
// def, with the input and options f returns. Unless f names one, the run
// ID is the event's type, source and ID, and a repeat of the event
// attaches to that run instead of starting another (StartOptions.IfExists
// is forced to AttachIfExists and a default IDReusePolicy to
// IDReuseRejectDuplicate, so an ended run is not started again either).
func StartOn[T, In, Out any](eng *chorus.Engine, def *Definition[T], wf *workflow.Definition[In, Out],
	f func(Received[T]) (In, *chorus.StartOptions)) Process {
	return func(ctx context.Context, ev event.Event) error {
		r, err := DecodeEvent(def, ev)
		if err != nil {
			return err
		}
		in, opts := f(r)
		var o chorus.StartOptions
		if opts != nil {
			o = *opts
		}
		if o.ID == "" {
			o.ID = def.Type() + ":" + ev.Source() + ":" + ev.ID()
		}
		o.IfExists = chorus.AttachIfExists
		if o.IDReusePolicy == chorus.IDReuseDefault {
			o.IDReusePolicy = chorus.IDReuseRejectDuplicate
		}
		_, err = chorus.Start(ctx, eng, wf, in, &o)
		return err
	}
}

// SignalOn returns a Process that sends each event of def, as a
// [Received], to the run whose ID runID returns. A run that does not exist
// or has ended is an error (so the event is retried, then parked); return
// "" from runID to ignore an event.
func SignalOn[T any](eng *chorus.Engine, def *Definition[T], sig *workflow.Signal[Received[T]], runID func(Received[T]) string) Process {
	return func(ctx context.Context, ev event.Event) error {
		r, err := DecodeEvent(def, ev)
		if err != nil {
			return err
		}
		id := runID(r)
		if id == "" {
			return nil
		}
		return chorus.Signal(ctx, eng, id, sig, r)
	}
}

// SignalWithStartOn returns a Process that sends each event of def, as a
// [Received], to the run f names (opts.ID), starting it with input in
// first if it does not exist.
func SignalWithStartOn[T, In, Out any](eng *chorus.Engine, def *Definition[T], wf *workflow.Definition[In, Out],
	sig *workflow.Signal[Received[T]], f func(Received[T]) (In, *chorus.StartOptions)) Process {
	return func(ctx context.Context, ev event.Event) error {
		r, err := DecodeEvent(def, ev)
		if err != nil {
			return err
		}
		in, opts := f(r)
		_, err = chorus.SignalWithStart(ctx, eng, wf, in, opts, sig, r)
		return err
	}
}

// CompleteOn returns a Process that completes, with the result f returns,
// the pending activity (one that returned activity.ErrResultPending) whose
// idempotency key f returns, for each event of def. An activity completed
// before counts as done, so a repeat of the event is harmless; return ""
// as the key to ignore an event.
func CompleteOn[T, In, Out any](eng *chorus.Engine, def *Definition[T], act *activity.Definition[In, Out],
	f func(Received[T]) (key string, result Out)) Process {
	return func(ctx context.Context, ev event.Event) error {
		r, err := DecodeEvent(def, ev)
		if err != nil {
			return err
		}
		key, res := f(r)
		if key == "" {
			return nil
		}
		err = chorus.CompleteActivity(ctx, eng, act, key, res)
		if errors.Is(err, chorus.ErrActivityCompleted) {
			return nil
		}
		return err
	}
}
