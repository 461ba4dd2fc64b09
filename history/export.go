package history

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// The chorus-history document: a run's journal as JSON, for replay tests,
// bug reports and tools. The format is specified in the documentation of
// package github.com/chorusdev/chorus/replay; this file is its reference
// implementation.
const (
	// ExportFormat is the value of a document's "format" member.
	ExportFormat = "chorus-history"
	// ExportVersion is the version of the format this code writes, and the
	// newest it reads.
	ExportVersion = 1
	// MaxExportSize is the largest document, in bytes, that [DecodeExport]
	// and [UnmarshalExport] accept and [Export.Encode] writes.
	MaxExportSize = 64 << 20
	// MaxExportEvents is the most events a document may hold.
	MaxExportEvents = 1_000_000
	// MaxExportIDLength is the longest run ID (and parent ID) a document may
	// hold, in bytes; it matches the longest ID a run can have.
	MaxExportIDLength = 255
)

// Errors of [DecodeExport], wrapped by a [*FormatError]; test with
// [errors.Is]. Every other defect of a document (bad JSON, a missing or
// malformed member, an unknown event type, a gap in the seqs, ...) wraps
// [ErrCorrupt].
var (
	// ErrNotExport: the input is not a chorus-history document at all (not a
	// JSON object, or its first member is not "format": "chorus-history").
	ErrNotExport = errors.New("history: not a chorus-history document")
	// ErrExportTooNew: the document's version is newer than this code reads.
	ErrExportTooNew = errors.New("history: chorus-history version is newer than this code")
	// ErrExportTooLarge: the document exceeds MaxExportSize bytes or
	// MaxExportEvents events.
	ErrExportTooLarge = errors.New("history: chorus-history document too large")
)

// Export is one run's journal together with its index row, as a
// chorus-history document holds it. Build one with chorus.History, read one
// with [DecodeExport], write one with [Export.Encode].
type Export struct {
	// Run is the run's index row. Its LastSeq is the Seq of the last event;
	// DecodeExport sets it, and Validate accepts 0 for it. Its FirstSeq is
	// the Seq of the RunStarted event of the run's current generation,
	// where replay starts.
	Run RunInfo
	// Events is the run's whole journal, every generation, numbered from 1
	// without gaps.
	Events []Event
}

// FormatError reports why a chorus-history document was refused. It wraps
// [ErrNotExport], [ErrExportTooNew], [ErrExportTooLarge] or [ErrCorrupt],
// and the error of the decoder that found the defect, if any.
type FormatError struct {
	// Field is the JSON path of the offending member, such as "version",
	// "run.first_seq" or "events[12].time"; empty when the document as a
	// whole is at fault.
	Field string
	// Event is the index in "events" of the offending event, or -1 when the
	// defect is not in an event.
	Event int
	// Reason says what is wrong.
	Reason string
	// Kind is ErrNotExport, ErrExportTooNew, ErrExportTooLarge or
	// ErrCorrupt.
	Kind error
	// Cause is the underlying error (a JSON syntax error, a time that does
	// not parse, ...), or nil.
	Cause error
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("history: invalid chorus-history document: ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns Kind and Cause.
func (e *FormatError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

func corrupt(field string, event int, cause error, format string, args ...any) *FormatError {
	return &FormatError{Field: field, Event: event, Reason: fmt.Sprintf(format, args...), Kind: ErrCorrupt, Cause: cause}
}

func eventField(i int, member string) string {
	if member == "" {
		return fmt.Sprintf("events[%d]", i)
	}
	return fmt.Sprintf("events[%d].%s", i, member)
}

// The times a document may hold: the zero time, or an instant a Unix
// nanosecond count can hold (1677-09-21 to 2262-04-11), which is how the
// SQLite store keeps times.
var (
	minExportTime = time.Unix(0, math.MinInt64)
	maxExportTime = time.Unix(0, math.MaxInt64)
)

func timeInRange(t time.Time) bool {
	return t.IsZero() || !t.Before(minExportTime) && !t.After(maxExportTime)
}

// Validate checks everything DecodeExport checks of a document's content:
//   - Run.ID is 1 to MaxExportIDLength bytes of UTF-8 without NUL, and so
//     is Run.Parent when set; Run.Parent is set exactly when
//     Run.ParentStep is 1 or more, and is not the run itself;
//   - Run.Workflow is not empty, and it and every event Name are UTF-8
//     text; Run.Status is a known status;
//   - there are 1 to MaxExportEvents events, with Seqs 1, 2, 3, ... and
//     known types;
//   - an ActivityCompleted or ActivityFailed has as Ref the Seq of an
//     ActivityScheduled, a TimerFired that of a TimerScheduled, a
//     ChildCompleted or ChildFailed that of a ChildStarted, a
//     SignalDelivered that of a SignalSent, an UpdateCompleted or
//     UpdateFailed that of an UpdateAccepted: an earlier event of the same
//     generation, which no other event answers; a SignalReceived delivered
//     with the start of a generation (signal-with-start) has as Ref the Seq
//     of that generation's RunStarted, which it follows directly (or after
//     other such signals); every other event has Ref 0;
//   - event 1 is a RunStarted; every later RunStarted directly follows a
//     RunContinuedAsNew, or a RunCompleted, RunFailed, RunCanceled or
//     RunTerminated (a new run that reuses the ID of an ended one); every
//     RunContinuedAsNew is directly followed by a RunStarted; only a
//     RunStarted follows a RunCompleted, RunFailed, RunCanceled or
//     RunTerminated;
//   - Run.FirstSeq is the Seq of the last RunStarted, whose Name is
//     Run.Workflow; Run.LastSeq is 0 or the Seq of the last event;
//   - every time is the zero time or between 1677-09-21 and 2262-04-11;
//   - a SearchAttributesUpserted's Payload decodes as a valid [AttrUpsert].
//
// Its errors are [*FormatError] values wrapping [ErrCorrupt] (or
// [ErrExportTooLarge] for too many events).
func (x *Export) Validate() error {
	if x == nil {
		return corrupt("", -1, nil, "nil export")
	}
	r := &x.Run
	if err := checkRunID("run.id", r.ID); err != nil {
		return err
	}
	if r.Workflow == "" || !utf8.ValidString(r.Workflow) {
		return corrupt("run.workflow", -1, nil, "%q: want a name of UTF-8 text", r.Workflow)
	}
	if !r.Status.Valid() {
		return corrupt("run.status", -1, nil, "unknown status %v", r.Status)
	}
	switch {
	case r.ParentStep < 0:
		return corrupt("run.parent_step", -1, nil, "%d, want 0 or more", r.ParentStep)
	case r.Parent == "" && r.ParentStep != 0:
		return corrupt("run.parent_step", -1, nil, "%d without a parent", r.ParentStep)
	case r.Parent != "" && r.ParentStep == 0:
		return corrupt("run.parent_step", -1, nil, "missing: a run with a parent needs the parent's step")
	case r.Parent != "":
		if err := checkRunID("run.parent", r.Parent); err != nil {
			return err
		}
		if r.Parent == r.ID {
			return corrupt("run.parent", -1, nil, "a run cannot be its own parent")
		}
	}
	for _, t := range []struct {
		field string
		t     time.Time
	}{{"run.created_at", r.CreatedAt}, {"run.updated_at", r.UpdatedAt}} {
		if !timeInRange(t.t) {
			return corrupt(t.field, -1, nil, "%v is out of range (1677-09-21 to 2262-04-11)", t.t)
		}
	}
	n := len(x.Events)
	if n == 0 {
		return corrupt("events", -1, nil, "no events: a journal starts with RunStarted")
	}
	if n > MaxExportEvents {
		return &FormatError{Field: "events", Event: -1, Kind: ErrExportTooLarge,
			Reason: fmt.Sprintf("%d events, the limit is %d", n, MaxExportEvents)}
	}
	lastStart := int64(1)
	answered := map[int64]bool{}
	for i, e := range x.Events {
		if e.Seq != int64(i)+1 {
			return corrupt(eventField(i, "seq"), i, nil, "seq %d at index %d, want %d: seqs start at 1 and have no gaps", e.Seq, i, i+1)
		}
		if !e.Type.Valid() {
			return corrupt(eventField(i, "type"), i, nil, "unknown event type %v", e.Type)
		}
		if e.Type == EventSearchAttributesUpserted {
			if _, err := DecodeAttrUpsert(e.Payload); err != nil {
				return corrupt(eventField(i, "payload"), i, nil, "%v", err)
			}
		}
		if !utf8.ValidString(e.Name) {
			return corrupt(eventField(i, "name"), i, nil, "%q is not UTF-8 text", e.Name)
		}
		if e.Type.IsNote() {
			if err := checkNote(x.Events, i, lastStart, answered); err != nil {
				return err
			}
		} else if want, ok := answers[e.Type]; ok {
			switch {
			case e.Ref < lastStart || e.Ref >= e.Seq:
				return corrupt(eventField(i, "ref"), i, nil, "ref %d, want the seq of the %v that the %v answers, earlier in the same generation", e.Ref, want, e.Type)
			case x.Events[e.Ref-1].Type != want:
				return corrupt(eventField(i, "ref"), i, nil, "ref %d is a %v, but a %v answers a %v", e.Ref, x.Events[e.Ref-1].Type, e.Type, want)
			case answered[e.Ref]:
				return corrupt(eventField(i, "ref"), i, nil, "step %d is answered twice", e.Ref)
			}
			answered[e.Ref] = true
		} else if e.Ref != 0 && (e.Type == EventSignalReceived || e.Type == EventCancelRequested) && e.Ref != lastStart {
			if err := checkDelivered(x.Events, i, lastStart, answered); err != nil {
				return err
			}
			answered[e.Ref] = true
		} else if e.Ref != 0 && !(e.Type == EventSignalReceived && e.Ref == lastStart && withStart(x.Events[:i], lastStart)) {
			return corrupt(eventField(i, "ref"), i, nil, "ref %d on a %v, which answers no command: want 0", e.Ref, e.Type)
		}
		if !timeInRange(e.Time) {
			return corrupt(eventField(i, "time"), i, nil, "%v is out of range (1677-09-21 to 2262-04-11)", e.Time)
		}
		var prev EventType
		if i > 0 {
			prev = x.Events[i-1].Type
		}
		switch {
		case i == 0 && e.Type != EventRunStarted:
			return corrupt(eventField(i, "type"), i, nil, "%v, want RunStarted: a journal starts with RunStarted", e.Type)
		case i > 0 && prev == EventRunContinuedAsNew && e.Type != EventRunStarted:
			return corrupt(eventField(i, "type"), i, nil, "%v after RunContinuedAsNew, want RunStarted", e.Type)
		case i > 0 && e.Type == EventRunStarted && !prev.IsTerminal():
			return corrupt(eventField(i, "type"), i, nil, "RunStarted after %v: a new generation starts only after RunContinuedAsNew, or a new run after the run before it ended", prev)
		case i > 0 && prev.IsTerminal() && e.Type != EventRunStarted:
			return corrupt(eventField(i, "type"), i, nil, "%v after the run ended with %v", e.Type, prev)
		}
		if e.Type == EventRunStarted {
			lastStart = e.Seq
		}
	}
	if x.Events[n-1].Type == EventRunContinuedAsNew {
		return corrupt(eventField(n-1, "type"), n-1, nil, "the journal ends with RunContinuedAsNew, without the RunStarted of the next generation")
	}
	if r.FirstSeq != lastStart {
		return corrupt("run.first_seq", -1, nil, "%d, want %d, the seq of the last RunStarted: replay starts at the current generation", r.FirstSeq, lastStart)
	}
	if name := x.Events[lastStart-1].Name; name != r.Workflow {
		return corrupt("run.workflow", -1, nil, "%q, but the RunStarted at first_seq %d names %q", r.Workflow, lastStart, name)
	}
	if r.LastSeq != 0 && r.LastSeq != int64(n) {
		return corrupt("run.last_seq", -1, nil, "%d, but the last event has seq %d", r.LastSeq, n)
	}
	return nil
}

// checkNote checks the note at index i: its payload, and where its Ref
// points. An ActivityRetried refers to an activity of the current
// generation that is not answered yet and comes right before its outcome;
// an OperatorAction refers to nothing.
func checkNote(events []Event, i int, lastStart int64, answered map[int64]bool) error {
	e := events[i]
	if err := decodeNote(e); err != nil {
		return corrupt(eventField(i, "payload"), i, nil, "%v", err)
	}
	if e.Type != EventActivityRetried {
		if e.Ref != 0 {
			return corrupt(eventField(i, "ref"), i, nil, "ref %d on a %v, which refers to no step: want 0", e.Ref, e.Type)
		}
		return nil
	}
	switch {
	case e.Ref < lastStart || e.Ref >= e.Seq:
		return corrupt(eventField(i, "ref"), i, nil, "ref %d, want the seq of an ActivityScheduled earlier in the same generation", e.Ref)
	case events[e.Ref-1].Type != EventActivityScheduled:
		return corrupt(eventField(i, "ref"), i, nil, "ref %d is a %v, but an ActivityRetried is about an ActivityScheduled", e.Ref, events[e.Ref-1].Type)
	case answered[e.Ref]:
		return corrupt(eventField(i, "ref"), i, nil, "step %d has its outcome already", e.Ref)
	case i+1 >= len(events) || events[i+1].Ref != e.Ref ||
		events[i+1].Type != EventActivityCompleted && events[i+1].Type != EventActivityFailed:
		return corrupt(eventField(i, "type"), i, nil, "an ActivityRetried of step %d must come right before the step's outcome", e.Ref)
	}
	return nil
}

// checkDelivered checks the SignalReceived or CancelRequested at index i
// whose Ref names the InputQueued note it was delivered from: an earlier
// one of the same generation, for the same action, delivered once.
func checkDelivered(events []Event, i int, lastStart int64, delivered map[int64]bool) error {
	e := events[i]
	if e.Ref < lastStart || e.Ref >= e.Seq || events[e.Ref-1].Type != EventInputQueued {
		return corrupt(eventField(i, "ref"), i, nil, "ref %d on a %v: want 0, or the seq of the InputQueued it was delivered from, earlier in the same generation", e.Ref, e.Type)
	}
	action := ActionCancel
	if e.Type == EventSignalReceived {
		action = ActionSignal
	}
	switch q := events[e.Ref-1]; {
	case q.Name != action:
		return corrupt(eventField(i, "ref"), i, nil, "ref %d is a queued %q, but a %v delivers a %q", e.Ref, q.Name, e.Type, action)
	case delivered[e.Ref]:
		return corrupt(eventField(i, "ref"), i, nil, "the input queued at %d is delivered twice", e.Ref)
	}
	return nil
}

// withStart reports whether the events of the generation that starts at
// Seq start, up to the one before, are its RunStarted and signals delivered
// with it: a SignalReceived after them may have Ref start.
func withStart(before []Event, start int64) bool {
	if start < 1 || start > int64(len(before)) {
		return false // the generation's RunStarted is not among them
	}
	for _, e := range before[start:] {
		if e.Type != EventSignalReceived || e.Ref != start {
			return false
		}
	}
	return true
}

// answers maps each input that answers a command to the type of that
// command, and each command that finishes an update to UpdateAccepted.
var answers = map[EventType]EventType{
	EventActivityCompleted: EventActivityScheduled,
	EventActivityFailed:    EventActivityScheduled,
	EventTimerFired:        EventTimerScheduled,
	EventChildCompleted:    EventChildStarted,
	EventChildFailed:       EventChildStarted,
	EventSignalDelivered:   EventSignalSent,
	EventUpdateCompleted:   EventUpdateAccepted,
	EventUpdateFailed:      EventUpdateAccepted,
}

func checkRunID(field, id string) error {
	switch {
	case id == "":
		return corrupt(field, -1, nil, "empty run ID")
	case len(id) > MaxExportIDLength:
		return corrupt(field, -1, nil, "run ID of %d bytes, the limit is %d", len(id), MaxExportIDLength)
	case !utf8.ValidString(id) || strings.ContainsRune(id, 0):
		return corrupt(field, -1, nil, "run ID %q is not UTF-8 text without NUL", id)
	}
	return nil
}

// The wire forms. Field order is the order Encode writes.

type runWire struct {
	ID            string          `json:"id"`
	Workflow      string          `json:"workflow"`
	Status        string          `json:"status"`
	CreatedAt     string          `json:"created_at"`
	UpdatedAt     string          `json:"updated_at"`
	FirstSeq      int64           `json:"first_seq"`
	Parent        string          `json:"parent,omitempty"`
	ParentStep    int64           `json:"parent_step,omitempty"`
	Result        json.RawMessage `json:"result,omitempty"`
	ResultBase64  string          `json:"result_base64,omitempty"`
	Failure       json.RawMessage `json:"failure,omitempty"`
	FailureBase64 string          `json:"failure_base64,omitempty"`
}

type eventWire struct {
	Seq           int64           `json:"seq"`
	Type          string          `json:"type"`
	Name          string          `json:"name,omitempty"`
	Ref           int64           `json:"ref,omitempty"`
	Time          string          `json:"time"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadBase64 string          `json:"payload_base64,omitempty"`
}

// encodePayload chooses how a payload is written: as embedded JSON when it
// is compact, valid UTF-8 JSON (so that reading it back and compacting it
// gives the same bytes), otherwise as standard base64.
func encodePayload(p []byte) (json.RawMessage, string) {
	if len(p) == 0 {
		return nil, ""
	}
	if utf8.Valid(p) && json.Valid(p) {
		var c bytes.Buffer
		if json.Compact(&c, p) == nil && bytes.Equal(c.Bytes(), p) {
			return json.RawMessage(p), ""
		}
	}
	return nil, base64.StdEncoding.EncodeToString(p)
}

// decodePayload is the inverse of encodePayload.
func decodePayload(field string, event int, raw json.RawMessage, b64 string) ([]byte, error) {
	if raw != nil && b64 != "" {
		return nil, corrupt(field, event, nil, "both %q and %q are set; a payload is one or the other", field, field+"_base64")
	}
	if b64 != "" {
		p, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			return nil, corrupt(field+"_base64", event, err, "not standard padded base64")
		}
		return p, nil
	}
	if raw == nil {
		return nil, nil
	}
	var c bytes.Buffer
	if err := json.Compact(&c, raw); err != nil {
		return nil, corrupt(field, event, err, "not JSON")
	}
	return c.Bytes(), nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(field string, event int, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, corrupt(field, event, nil, "missing time (RFC 3339, such as \"2025-06-02T09:00:00Z\")")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, corrupt(field, event, err, "not an RFC 3339 time")
	}
	t = t.UTC()
	if !timeInRange(t) {
		return time.Time{}, corrupt(field, event, nil, "%s is out of range (1677-09-21 to 2262-04-11)", s)
	}
	return t, nil
}

var eventTypesByName = func() map[string]EventType {
	m := make(map[string]EventType, len(eventTypeNames))
	for t, n := range eventTypeNames {
		m[n] = t
	}
	return m
}()

// ParseEventType is the inverse of [EventType.String] for the known types.
func ParseEventType(s string) (EventType, bool) {
	t, ok := eventTypesByName[s]
	return t, ok
}

// Encode writes x as a chorus-history document: the header members, the run
// with one member per line, and one event per line, so that documents diff
// well. It validates x first and refuses a document larger than
// MaxExportSize. The output is deterministic: the same Export always gives
// the same bytes.
func (x *Export) Encode(w io.Writer) error {
	b, err := x.Marshal()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Marshal returns the document Encode writes.
func (x *Export) Marshal() ([]byte, error) {
	if err := x.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	value := func(v any) error {
		if err := enc.Encode(v); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		return nil
	}
	fmt.Fprintf(&buf, "{\n  \"format\": %q,\n  \"version\": %d,\n  \"run\": {\n", ExportFormat, ExportVersion)
	r := x.Run
	type member struct {
		key  string
		v    any
		omit bool
	}
	result, resultB64 := encodePayload(r.Result)
	failure, failureB64 := encodePayload(r.Failure)
	members := []member{
		{"id", r.ID, false},
		{"workflow", r.Workflow, false},
		{"status", r.Status.String(), false},
		{"created_at", formatTime(r.CreatedAt), false},
		{"updated_at", formatTime(r.UpdatedAt), false},
		{"first_seq", r.FirstSeq, false},
		{"parent", r.Parent, r.Parent == ""},
		{"parent_step", r.ParentStep, r.ParentStep == 0},
		{"result", result, result == nil},
		{"result_base64", resultB64, resultB64 == ""},
		{"failure", failure, failure == nil},
		{"failure_base64", failureB64, failureB64 == ""},
	}
	sep := ""
	for _, m := range members {
		if m.omit {
			continue
		}
		fmt.Fprintf(&buf, "%s    %q: ", sep, m.key)
		sep = ",\n"
		if err := value(m.v); err != nil {
			return nil, fmt.Errorf("history: encode run.%s: %w", m.key, err)
		}
	}
	buf.WriteString("\n  },\n  \"events\": [\n")
	for i, e := range x.Events {
		raw, b64 := encodePayload(e.Payload)
		buf.WriteString("    ")
		err := value(eventWire{Seq: e.Seq, Type: e.Type.String(), Name: e.Name, Ref: e.Ref, Time: formatTime(e.Time),
			Payload: raw, PayloadBase64: b64})
		if err != nil {
			return nil, fmt.Errorf("history: encode event %d: %w", e.Seq, err)
		}
		if i < len(x.Events)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
		if buf.Len() > MaxExportSize {
			break
		}
	}
	buf.WriteString("  ]\n}\n")
	if buf.Len() > MaxExportSize {
		return nil, &FormatError{Event: -1, Kind: ErrExportTooLarge,
			Reason: fmt.Sprintf("the document would exceed the limit of %d bytes", MaxExportSize)}
	}
	return buf.Bytes(), nil
}
