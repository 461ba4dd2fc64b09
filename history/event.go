package history

import (
	"fmt"
	"time"
)

// EventType says what an [Event] records. Its numeric value is stored in the
// journal, so existing values never change meaning.
type EventType uint8

// The event types. Values are persisted: append new ones, never renumber.
const (
	// EventRunStarted is the first event of every run. Name is the workflow
	// name and Payload the encoded input.
	EventRunStarted EventType = 1
	// EventActivityScheduled is a command: the code asked for an activity.
	// Name is the activity name and Payload the encoded input.
	EventActivityScheduled EventType = 2
	// EventActivityCompleted is an input: the activity scheduled at step Ref
	// returned. Payload is the encoded result.
	EventActivityCompleted EventType = 3
	// EventActivityFailed is an input: the activity scheduled at step Ref
	// failed for good (retries exhausted or not retryable). Payload is an
	// encoded [Failure].
	EventActivityFailed EventType = 4
	// EventRunCompleted is a command: the workflow function returned a
	// result. Payload is the encoded result.
	EventRunCompleted EventType = 5
	// EventRunFailed is a command: the workflow function returned an error.
	// Payload is an encoded [Failure].
	EventRunFailed EventType = 6
	// EventCancelRequested is an input: someone asked for the run to be
	// canceled. Payload is empty.
	EventCancelRequested EventType = 7
	// EventRunCanceled is a command: the workflow function returned after a
	// cancellation with an error that reports it. Payload is an encoded
	// [Failure].
	EventRunCanceled EventType = 8
	// EventTimerScheduled is a command: the code started a timer. Payload is
	// the engine's encoding of the time it fires.
	EventTimerScheduled EventType = 9
	// EventTimerFired is an input: the timer scheduled at step Ref fired.
	EventTimerFired EventType = 10
	// EventSignalReceived is an input: a signal arrived. Name is the signal
	// name and Payload its encoded value. Ref is 0, or, for a signal that
	// started the run with it (signal-with-start), the Seq of the RunStarted
	// it directly follows: the code found it in its channel when it first
	// ran.
	EventSignalReceived EventType = 11
	// EventSideEffect is a command: the code recorded a value computed
	// outside replay (a side effect, a UUID, a random seed). Name says
	// which kind, Payload is the encoded value.
	EventSideEffect EventType = 12
	// EventVersionMarker is a command: the code asked which version of a
	// change to run. Name is the change ID, Payload the encoded version.
	EventVersionMarker EventType = 13
	// EventChildStarted is a command: the code started a child workflow.
	// Name is the child's workflow name, Payload the engine's encoding of
	// the child run's ID and input.
	EventChildStarted EventType = 14
	// EventChildCompleted is an input: the child started at step Ref
	// returned. Payload is its encoded result.
	EventChildCompleted EventType = 15
	// EventChildFailed is an input: the child started at step Ref failed,
	// was canceled or terminated, or could not start. Payload is an encoded
	// [Failure].
	EventChildFailed EventType = 16
	// EventSignalSent is a command: the code sent a signal to another run.
	// Name is the signal name, Payload the engine's encoding of the target
	// and value.
	EventSignalSent EventType = 17
	// EventSignalDelivered is an input: the signal sent at step Ref was
	// delivered (empty Payload) or could not be (Payload is an encoded
	// [Failure]).
	EventSignalDelivered EventType = 18
	// EventRunContinuedAsNew is a command: the code ended this generation of
	// the run and asked to start over with a new input (Payload). The next
	// event is the RunStarted of the new generation.
	EventRunContinuedAsNew EventType = 19
	// EventRunTerminated is an input that ends the run at once, whatever its
	// code was doing. Payload is an encoded [Failure] holding the reason.
	EventRunTerminated EventType = 20
	// EventMarker is a command: the code recorded a named fact for people
	// and tools reading the journal (for example the saga package marks
	// each compensation). Name is the marker's name, Payload its encoded
	// details.
	EventMarker EventType = 21
	// EventUpdateAccepted is an input: an update passed its validator and
	// its handler started. Name is the update name, a NUL and the update
	// ID; Payload is the encoded argument. Replay starts the handler again
	// at this point.
	EventUpdateAccepted EventType = 40
	// EventUpdateCompleted is a command: the handler of the update accepted
	// at step Ref returned a result. Name is the same as the
	// UpdateAccepted's; Payload is the encoded result.
	EventUpdateCompleted EventType = 41
	// EventUpdateFailed is a command: the handler of the update accepted at
	// step Ref returned an error. Name is the same as the UpdateAccepted's;
	// Payload is an encoded [Failure].
	EventUpdateFailed EventType = 42
	// EventSearchAttributesUpserted is a command: the code set search
	// attributes or memo entries of its run. Name lists the names set,
	// comma-separated; Payload is an [AttrUpsert] in its fixed encoding
	// ([EncodeAttrUpsert]). Replay expects the same names and payload.
	EventSearchAttributesUpserted EventType = 50
	// EventOperatorAction is a note: someone outside the run (an operator
	// through the dashboard or the CLI, or an application that named the
	// caller with chorus.WithIdentity) canceled, terminated or signaled it,
	// or sent it an update it accepted. It is journaled in the same commit
	// right before the event the action caused. Name is the action
	// ("cancel", "terminate", "signal", "update", "reset"); Payload is an [OperatorAction] in its fixed encoding
	// ([EncodeOperatorAction]). Replay passes over it.
	EventOperatorAction EventType = 51
	// EventActivityRetried is a note: the activity of step Ref took more
	// than one attempt. It is journaled in the same commit right before
	// the step's ActivityCompleted or ActivityFailed. Name is the activity
	// name; Payload is an [ActivityRetried] in its fixed encoding
	// ([EncodeActivityRetried]). Replay passes over it.
	EventActivityRetried EventType = 52
	// EventInputQueued is a note: a cancel or a signal for the run arrived
	// at a process that does not register its workflow (an operator's
	// tool), which cannot deliver it to the code in order with what the
	// code does. It waits in a TaskWake whose Step is this event's Seq; a
	// process that registers the workflow delivers it, journaling the
	// CancelRequested or SignalReceived then. Name is the action ("cancel"
	// or "signal"); Payload is an [InputQueued] in its fixed encoding
	// ([EncodeInputQueued]). Replay passes over it.
	EventInputQueued EventType = 53
)

var eventTypeNames = map[EventType]string{
	EventRunStarted:        "RunStarted",
	EventActivityScheduled: "ActivityScheduled",
	EventActivityCompleted: "ActivityCompleted",
	EventActivityFailed:    "ActivityFailed",
	EventRunCompleted:      "RunCompleted",
	EventRunFailed:         "RunFailed",
	EventCancelRequested:   "CancelRequested",
	EventRunCanceled:       "RunCanceled",
	EventTimerScheduled:    "TimerScheduled",
	EventTimerFired:        "TimerFired",
	EventSignalReceived:    "SignalReceived",
	EventSideEffect:        "SideEffect",
	EventVersionMarker:     "VersionMarker",
	EventChildStarted:      "ChildStarted",
	EventChildCompleted:    "ChildCompleted",
	EventChildFailed:       "ChildFailed",
	EventSignalSent:        "SignalSent",
	EventSignalDelivered:   "SignalDelivered",
	EventRunContinuedAsNew: "RunContinuedAsNew",
	EventRunTerminated:     "RunTerminated",
	EventMarker:            "Marker",
	EventUpdateAccepted:    "UpdateAccepted",
	EventUpdateCompleted:   "UpdateCompleted",
	EventUpdateFailed:      "UpdateFailed",

	EventSearchAttributesUpserted: "SearchAttributesUpserted",
	EventOperatorAction:           "OperatorAction",
	EventActivityRetried:          "ActivityRetried",
	EventInputQueued:              "InputQueued",
}

// String returns the type's name, such as "ActivityScheduled".
func (t EventType) String() string {
	if s, ok := eventTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// Valid reports whether t is a type this version of Chorus knows.
func (t EventType) Valid() bool {
	_, ok := eventTypeNames[t]
	return ok
}

// IsCommand reports whether events of this type are issued by workflow code
// (and so must be issued again, identically, when the run is replayed).
func (t EventType) IsCommand() bool {
	switch t {
	case EventActivityScheduled, EventRunCompleted, EventRunFailed, EventRunCanceled,
		EventTimerScheduled, EventSideEffect, EventVersionMarker, EventChildStarted,
		EventSignalSent, EventRunContinuedAsNew, EventMarker, EventUpdateCompleted, EventUpdateFailed,
		EventSearchAttributesUpserted:
		return true
	}
	return false
}

// IsNote reports whether events of this type are notes: records for people
// and tools (who acted on a run, how many attempts a step took) that
// neither workflow code issues nor replay delivers to it.
func (t EventType) IsNote() bool {
	return t == EventOperatorAction || t == EventActivityRetried || t == EventInputQueued
}

// IsTerminal reports whether an event of this type ends its run (or, for
// EventRunContinuedAsNew, the run's current generation).
func (t EventType) IsTerminal() bool {
	switch t {
	case EventRunCompleted, EventRunFailed, EventRunCanceled, EventRunContinuedAsNew, EventRunTerminated:
		return true
	}
	return false
}

// Event is one entry of a run's journal.
type Event struct {
	// Seq is the event's position in its run's journal, starting at 1.
	// Commands are also called steps and are referred to by their Seq.
	Seq int64
	// Type says what the event records.
	Type EventType
	// Name is the workflow or activity name the event concerns, if any.
	Name string
	// Ref is the Seq of the command an input answers (for example the
	// ActivityScheduled event an ActivityCompleted event completes, or the
	// UpdateAccepted event an UpdateCompleted event finishes); for a
	// SignalReceived delivered with the start of a generation
	// (signal-with-start), the Seq of its RunStarted; or 0.
	Ref int64
	// Payload is the event's data, encoded by the engine's [Codec].
	Payload []byte
	// Time is when the engine recorded the event, from the engine's clock.
	Time time.Time
}

// String describes the event for error messages and logs.
func (e Event) String() string {
	s := fmt.Sprintf("#%d %s", e.Seq, e.Type)
	if e.Name != "" {
		s += fmt.Sprintf(" %q", e.Name)
	}
	if e.Ref != 0 {
		s += fmt.Sprintf(" (step %d)", e.Ref)
	}
	return s
}
