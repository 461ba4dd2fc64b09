package workflow

import (
	"errors"
	"fmt"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// Signal is a typed signal definition: a stable name and the type of value
// it carries. Define it once, usually as a package-level variable:
//
//	var Approve = workflow.NewSignal[Decision]("approve")
//
// Send it from outside with chorus.Signal, from another workflow with
// [SignalExternal], and receive it with [GetSignalChannel].
type Signal[T any] struct{ name string }

// NewSignal defines a signal. It panics on an empty name.
func NewSignal[T any](name string) *Signal[T] {
	if err := engine.CheckSignalName(name); err != nil {
		panic("workflow.NewSignal: " + err.Error())
	}
	return &Signal[T]{name: name}
}

// SignalDroppedMarker is the name of the marker that records a signal
// dropped because its value does not decode into the receiver's type; its
// details are a [DroppedSignal] as JSON.
const SignalDroppedMarker = engine.SignalDroppedMarker

// DroppedSignal is what a [SignalDroppedMarker] records, as JSON.
type DroppedSignal struct {
	// Signal is the signal's name.
	Signal string `json:"signal"`
	// Reason says why its value was dropped: the decoding error.
	Reason string `json:"reason"`
}

// Name returns the signal's name.
func (s *Signal[T]) Name() string { return s.name }

// GetSignalChannel returns the channel on which the run receives sig.
// Signals are journaled when they arrive, so those sent before the code
// waits for them are kept, in order, and none is lost or delivered twice.
//
// A signal whose value does not decode into T (sent under the same name
// with another type) never reaches the code and never stops the run: the
// channel drops it when it comes to it, records a [SignalDroppedMarker]
// marker in the journal with the reason, logs a warning, and goes on with
// the next signal (Receive waits for one, ReceiveAsync returns false if
// none is left). Len and IsReady count it until then. Replay drops it the
// same way, at the same place.
//
// The drop is a command of the journal, like a marker: code changed so that
// such a value now decodes no longer replays a run that dropped it (the run
// is blocked with a non-determinism error); keep the old type under the old
// name, or guard the change with [GetVersion].
func GetSignalChannel[T any](ctx Context, sig *Signal[T]) ReceiveChannel[T] {
	c := mustImpl(ctx)
	defer c.leave()
	return &signalChannel[T]{r: c.r, q: c.r.Signals(sig.name), name: sig.name}
}

type signalChannel[T any] struct {
	r    *engine.Run
	q    *engine.SignalQueue
	name string
}

func (s *signalChannel[T]) IsReady() bool { return s.q.Len() > 0 }
func (s *signalChannel[T]) Len() int      { return s.q.Len() }

func (s *signalChannel[T]) Receive(ctx Context) (T, bool) {
	for {
		mustImpl(ctx).r.Await(s.IsReady)
		if v, ok := s.ReceiveAsync(); ok {
			return v, true
		}
	}
}

func (s *signalChannel[T]) ReceiveAsync() (T, bool) {
	s.r.Guard("ReceiveAsync")
	for {
		var v T
		b, ok := s.q.Pop()
		if !ok {
			return v, false
		}
		err := s.r.Codec().Unmarshal(b, &v)
		if err == nil {
			return v, true
		}
		perr := &engine.PayloadError{What: fmt.Sprintf("decode signal %q into %T", s.name, v), Err: err}
		if errors.Is(err, history.ErrPayloadKey) {
			// The signal is intact but its key is not configured: dropping
			// it would lose it, so the run is blocked until the key is.
			s.r.Fail(perr)
		}
		s.r.DropSignal(s.name, perr)
	}
}

func (s *signalChannel[T]) ReceiveWithTimeout(ctx Context, timeout time.Duration) (T, bool) {
	deadline := Now(ctx).Add(timeout)
	for {
		if !receiveOrTimeout(ctx, s, deadline.Sub(Now(ctx))) {
			var zero T
			return zero, false
		}
		if v, ok := s.ReceiveAsync(); ok {
			return v, true
		}
	}
}

// SignalExternal sends sig with value v to the run runID (for example a
// parent or a sibling). The sending is journaled and delivered at least
// once; the future is ready when the signal was delivered, with an error if
// the target run does not exist or has ended.
func SignalExternal[T any](ctx Context, runID string, sig *Signal[T], v T) Future[struct{}] {
	c := mustImpl(ctx)
	defer c.leave()
	b, err := c.r.Codec().Marshal(v)
	if err != nil {
		return &errFuture[struct{}]{err: &engine.PayloadError{What: fmt.Sprintf("encode signal %q", sig.name), Err: err}}
	}
	return &signalFuture{r: c.r, f: c.r.SignalExternal(c.scope, runID, sig.name, b)}
}

type signalFuture struct {
	r *engine.Run
	f *engine.Future
}

func (s *signalFuture) IsReady() bool { return s.f.Ready() }

func (s *signalFuture) Get(ctx Context) (struct{}, error) {
	mustImpl(ctx).r.Await(s.f.Ready)
	if _, fl := s.f.Outcome(); fl != nil {
		if fl.Type == engine.FailureTypeCanceled {
			return struct{}{}, ErrCanceled
		}
		switch fl.Type {
		case engine.FailureTypeRunNotFound:
			return struct{}{}, fmt.Errorf("%s: %w", fl.Message, history.ErrRunNotFound)
		case engine.FailureTypeRunEnded:
			return struct{}{}, fmt.Errorf("%s: %w", fl.Message, engine.ErrRunEnded)
		}
		return struct{}{}, &activity.Error{Type: fl.Type, Message: fl.Message}
	}
	return struct{}{}, nil
}

type errFuture[T any] struct{ err error }

func (e *errFuture[T]) IsReady() bool { return true }
func (e *errFuture[T]) Get(Context) (T, error) {
	var zero T
	return zero, e.err
}
