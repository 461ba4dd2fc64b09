package engine

import (
	"encoding/json"
	"strings"
)

// SignalQueue holds the signals of one name that the run received and the
// code has not consumed yet, in arrival order. Replay rebuilds it from the
// journal, so a signal that arrived before the code waited for it is never
// lost.
type SignalQueue struct {
	items [][]byte
}

func (q *SignalQueue) push(b []byte) { q.items = append(q.items, b) }

// Len returns how many signals wait.
func (q *SignalQueue) Len() int { return len(q.items) }

// Pop removes and returns the oldest signal; ok is false when none waits.
func (q *SignalQueue) Pop() (payload []byte, ok bool) {
	if len(q.items) == 0 {
		return nil, false
	}
	payload = q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return payload, true
}

func (r *Run) signalQueue(name string) *SignalQueue {
	q := r.signals[name]
	if q == nil {
		q = &SignalQueue{}
		r.signals[name] = q
	}
	return q
}

// Signals returns the queue of signals named name.
func (r *Run) Signals(name string) *SignalQueue { return r.signalQueue(name) }

// A signal from another run is journaled under its name, a NUL and the
// sender's key ("run/step"); replay rebuilds the set of keys so that a
// redelivery of the same signal after a crash is not journaled twice.
const signalKeySep = "\x00"

func joinSignalName(name, key string) string {
	if key == "" {
		return name
	}
	return name + signalKeySep + key
}

func splitSignalName(s string) (name, key string) {
	name, key, _ = strings.Cut(s, signalKeySep)
	return name, key
}

// SignalDroppedMarker names the marker that records a signal the code
// dropped because its value does not decode into the receiver's type.
const SignalDroppedMarker = "chorus.signal-dropped"

// droppedSignal is the payload of a SignalDroppedMarker, as JSON (and
// workflow.DroppedSignal).
type droppedSignal struct {
	Signal string `json:"signal"`
	Reason string `json:"reason"`
}

// DropSignal records that the code dropped a signal of name whose value
// does not decode, with why: a marker in the journal, which replay expects
// at the same place (the same value fails the same way), and a warning in
// the log when it happens live.
func (r *Run) DropSignal(name string, reason error) {
	b, _ := json.Marshal(droppedSignal{Signal: name, Reason: reason.Error()}) // two strings
	if !r.IsReplaying() {
		r.eng.log.Warn("chorus: dropped a signal whose value does not decode into the receiver's type",
			"run", r.id, "signal", name, "err", reason)
	}
	r.Marker(SignalDroppedMarker, b)
}
