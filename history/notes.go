package history

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// The actions an [OperatorAction] records.
const (
	ActionCancel    = "cancel"
	ActionTerminate = "terminate"
	ActionSignal    = "signal"
	ActionUpdate    = "update"
	// ActionReset records a reset (chorus.Engine.Reset): the note is the
	// last event of the commit that starts the reset generation.
	ActionReset = "reset"
)

// MaxIdentity is the longest identity, in bytes, an [OperatorAction] holds.
const MaxIdentity = 256

// OperatorAction is the payload of an [EventOperatorAction] event: who did
// what to the run (cancel, terminate, signal, or an update it accepted),
// and why. Its encoding is fixed (JSON, see
// [EncodeOperatorAction]), not the engine's codec, so that tools read it
// without the application's code.
type OperatorAction struct {
	// Action is ActionCancel, ActionTerminate, ActionSignal, ActionUpdate
	// or ActionReset.
	Action string `json:"action"`
	// Identity names who acted: a user, a service, "cli"...
	Identity string `json:"identity"`
	// Reason is the reason given (a termination's or a reset's), if any.
	Reason string `json:"reason,omitempty"`
	// Signal is the signal's name, for ActionSignal.
	Signal string `json:"signal,omitempty"`
	// Update is the update's name, for ActionUpdate.
	Update string `json:"update,omitempty"`
	// Step is, for ActionReset, the reset point: the Seq, in the
	// generation that was reset, of the first step that ran again.
	Step int64 `json:"step,omitempty"`
	// From is, for ActionReset, the Seq of the RunStarted of the
	// generation that was reset (it stays in the journal, readable).
	From int64 `json:"from,omitempty"`
	// Batch is the ID of the batch operation that acted, if any; a batch
	// that is run again passes over the runs whose journal holds a note
	// with its ID.
	Batch string `json:"batch,omitempty"`
}

// Validate checks the action and the identity.
func (a OperatorAction) Validate() error {
	switch a.Action {
	case ActionCancel, ActionTerminate, ActionSignal, ActionUpdate, ActionReset:
	default:
		return fmt.Errorf("operator action %q: want %q, %q, %q, %q or %q", a.Action, ActionCancel, ActionTerminate, ActionSignal, ActionUpdate, ActionReset)
	}
	if err := CheckIdentity(a.Identity); err != nil {
		return err
	}
	if (a.Signal != "") != (a.Action == ActionSignal) {
		return fmt.Errorf("operator action %q: a signal name goes with %q, and only with it", a.Action, ActionSignal)
	}
	if (a.Update != "") != (a.Action == ActionUpdate) {
		return fmt.Errorf("operator action %q: an update name goes with %q, and only with it", a.Action, ActionUpdate)
	}
	if (a.Step > 0 && a.From > 0) != (a.Action == ActionReset) || a.Step < 0 || a.From < 0 {
		return fmt.Errorf("operator action %q: a reset step and generation go with %q, and only with it", a.Action, ActionReset)
	}
	if len(a.Batch) > MaxIdentity || !utf8.ValidString(a.Batch) {
		return fmt.Errorf("operator action %q: batch ID is not UTF-8 text of at most %d bytes", a.Action, MaxIdentity)
	}
	return nil
}

// CheckIdentity reports why s cannot name who acted on a run: empty, longer
// than [MaxIdentity] bytes, not UTF-8, or holding control characters.
func CheckIdentity(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("identity is empty")
	case len(s) > MaxIdentity:
		return fmt.Errorf("identity is %d bytes, longer than %d", len(s), MaxIdentity)
	case !utf8.ValidString(s):
		return fmt.Errorf("identity %q is not UTF-8 text", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("identity %q holds a control character", s)
		}
	}
	return nil
}

// EncodeOperatorAction validates a and encodes it as an event payload.
func EncodeOperatorAction(a OperatorAction) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(a)
}

// DecodeOperatorAction decodes and validates an event payload.
func DecodeOperatorAction(b []byte) (OperatorAction, error) {
	var a OperatorAction
	if err := json.Unmarshal(b, &a); err != nil {
		return OperatorAction{}, fmt.Errorf("operator action payload: %w", err)
	}
	return a, a.Validate()
}

// ActivityRetried is the payload of an [EventActivityRetried] event: how
// many attempts a step took, when the first one failed and how the last
// failed attempt before the outcome failed. Its encoding is fixed (JSON,
// see [EncodeActivityRetried]).
type ActivityRetried struct {
	// Attempts is the number of the attempt that produced the outcome (2 or
	// more).
	Attempts int `json:"attempts"`
	// FirstFailureAt is when the first attempt failed, from the engine's
	// clock; the zero time when it is not known (the attempts before were
	// made by a version that did not record it).
	FirstFailureAt time.Time `json:"first_failure_at,omitzero"`
	// LastFailure is the failure of the last failed attempt before the
	// outcome, nil when not known.
	LastFailure *Failure `json:"last_failure,omitempty"`
}

// Validate checks the attempt count.
func (a ActivityRetried) Validate() error {
	if a.Attempts < 2 {
		return fmt.Errorf("activity retried: %d attempts, want 2 or more", a.Attempts)
	}
	return nil
}

// EncodeActivityRetried validates a and encodes it as an event payload.
func EncodeActivityRetried(a ActivityRetried) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(a)
}

// DecodeActivityRetried decodes and validates an event payload.
func DecodeActivityRetried(b []byte) (ActivityRetried, error) {
	var a ActivityRetried
	if err := json.Unmarshal(b, &a); err != nil {
		return ActivityRetried{}, fmt.Errorf("activity retried payload: %w", err)
	}
	return a, a.Validate()
}

// InputQueued is the payload of an [EventInputQueued] event: what waits to
// be delivered to the run's code, and who sent it. Its encoding is fixed
// (JSON, see [EncodeInputQueued]). Once delivered, the CancelRequested or
// SignalReceived it became has the note's Seq as Ref.
type InputQueued struct {
	// Action is ActionCancel or ActionSignal.
	Action string `json:"action"`
	// Signal is the signal's name, and Value its value encoded by the
	// engine's codec, for ActionSignal.
	Signal string `json:"signal,omitempty"`
	Value  []byte `json:"value,omitempty"`
	// Identity names who sent it, when the caller said (empty otherwise).
	Identity string `json:"identity,omitempty"`
}

// Validate checks the action, the signal name and the identity.
func (q InputQueued) Validate() error {
	if q.Action != ActionCancel && q.Action != ActionSignal {
		return fmt.Errorf("queued input %q: want %q or %q", q.Action, ActionCancel, ActionSignal)
	}
	if (q.Signal != "") != (q.Action == ActionSignal) || q.Action != ActionSignal && q.Value != nil {
		return fmt.Errorf("queued input %q: a signal name and value go with %q, and only with it", q.Action, ActionSignal)
	}
	if q.Identity != "" {
		return CheckIdentity(q.Identity)
	}
	return nil
}

// EncodeInputQueued validates q and encodes it as an event payload.
func EncodeInputQueued(q InputQueued) ([]byte, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(q)
}

// DecodeInputQueued decodes and validates an event payload.
func DecodeInputQueued(b []byte) (InputQueued, error) {
	var q InputQueued
	if err := json.Unmarshal(b, &q); err != nil {
		return InputQueued{}, fmt.Errorf("queued input payload: %w", err)
	}
	return q, q.Validate()
}

// decodeNote checks the payload of a note event.
func decodeNote(e Event) error {
	var err error
	switch e.Type {
	case EventOperatorAction:
		var a OperatorAction
		if a, err = DecodeOperatorAction(e.Payload); err == nil && a.Action != e.Name {
			err = fmt.Errorf("operator action %q under the name %q", a.Action, e.Name)
		}
	case EventActivityRetried:
		_, err = DecodeActivityRetried(e.Payload)
	case EventInputQueued:
		var q InputQueued
		if q, err = DecodeInputQueued(e.Payload); err == nil && q.Action != e.Name {
			err = fmt.Errorf("queued input %q under the name %q", q.Action, e.Name)
		}
	}
	return err
}
