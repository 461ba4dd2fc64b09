package history

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
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

// UnmarshalExport decodes and validates a chorus-history document; see
// [DecodeExport].
func UnmarshalExport(data []byte) (*Export, error) {
	if len(data) > MaxExportSize {
		return nil, &FormatError{Event: -1, Kind: ErrExportTooLarge,
			Reason: fmt.Sprintf("%d bytes, the limit is %d", len(data), MaxExportSize)}
	}
	return DecodeExport(bytes.NewReader(data))
}

// limitReader reads at most limit+1 bytes of r: reading more than limit
// bytes sets exceeded and fails with errTooLarge. It checks that what it
// reads is UTF-8 (encoding/json would quietly replace invalid bytes), and
// keeps the first error of r other than io.EOF.
type limitReader struct {
	r        io.Reader
	left     int64
	exceeded bool
	err      error
	read     int64  // bytes read so far
	badUTF8  int64  // offset of the first byte that is not UTF-8, or -1
	carry    []byte // the start of a rune cut by the end of the last read
}

var errTooLarge = errors.New("size limit exceeded")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.exceeded = true
		return n, errTooLarge
	}
	l.checkUTF8(p[:n], errors.Is(err, io.EOF))
	if err != nil && !errors.Is(err, io.EOF) && l.err == nil {
		l.err = err
	}
	return n, err
}

// checkUTF8 checks the next bytes b of the input, which ends after them
// when eof is set.
func (l *limitReader) checkUTF8(b []byte, eof bool) {
	start := l.read
	l.read += int64(len(b))
	if l.badUTF8 >= 0 {
		return
	}
	for len(l.carry) > 0 && len(b) > 0 && !utf8.FullRune(l.carry) {
		l.carry = append(l.carry, b[0])
		b, start = b[1:], start+1
	}
	if len(l.carry) > 0 && utf8.FullRune(l.carry) {
		if r, size := utf8.DecodeRune(l.carry); r == utf8.RuneError && size == 1 || size != len(l.carry) {
			l.badUTF8 = start - int64(len(l.carry))
			return
		}
		l.carry = l.carry[:0]
	}
	// Hold back a rune the end of b cuts.
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(b[:cut]) {
		for i := 0; i < cut; {
			r, size := utf8.DecodeRune(b[i:cut])
			if r == utf8.RuneError && size == 1 {
				l.badUTF8 = start + int64(i)
				return
			}
			i += size
		}
	}
	l.carry = append(l.carry, b[cut:]...)
	if eof && len(l.carry) > 0 {
		l.badUTF8 = l.read - int64(len(l.carry))
	}
}

// DecodeExport reads one chorus-history document from r, checks it strictly
// and returns it. It reads at most MaxExportSize bytes (plus one, to notice
// a larger document) and decodes the events one at a time, refusing the
// document as soon as it holds more than MaxExportEvents, so that a hostile
// input cannot make it allocate much more than its own size.
//
// Every defect of the document is a [*FormatError], which names the member
// at fault and wraps [ErrNotExport] (not a chorus-history document),
// [ErrExportTooNew] (a version newer than ExportVersion), [ErrExportTooLarge]
// or [ErrCorrupt] (anything else: bad JSON, an unknown or repeated member, a
// missing or malformed value, an unknown event type, a gap in the seqs, a
// journal that does not start with RunStarted, ...; see [Export.Validate]).
// An error of r itself is returned wrapped, not as a FormatError.
func DecodeExport(r io.Reader) (*Export, error) {
	return decodeExport(r, MaxExportSize, MaxExportEvents)
}

// decodeExport is DecodeExport with the limits as parameters, for tests.
func decodeExport(r io.Reader, maxSize int64, maxEvents int) (*Export, error) {
	lr := &limitReader{r: r, left: maxSize, badUTF8: -1}
	d := &decoder{dec: json.NewDecoder(lr), maxEvents: maxEvents}
	d.dec.UseNumber()
	x, err := d.document()
	switch {
	case lr.exceeded:
		return nil, &FormatError{Event: -1, Kind: ErrExportTooLarge, Reason: fmt.Sprintf("more than %d bytes", maxSize)}
	case lr.err != nil:
		return nil, fmt.Errorf("history: read chorus-history document: %w", lr.err)
	case lr.badUTF8 >= 0:
		return nil, &FormatError{Event: -1, Kind: ErrCorrupt, Reason: fmt.Sprintf("not UTF-8 text: invalid byte at offset %d", lr.badUTF8)}
	case err != nil:
		return nil, err
	}
	if err := x.Validate(); err != nil {
		return nil, err
	}
	return x, nil
}

type decoder struct {
	dec       *json.Decoder
	maxEvents int
}

// fail turns an error of the JSON decoder into a FormatError.
func fail(field string, event int, err error, what string) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		return err
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return corrupt(field, event, err, "invalid JSON")
	case errors.As(err, &te):
		f := field
		if te.Field != "" {
			f = field + "." + te.Field
		}
		return corrupt(f, event, nil, "a JSON %s where %s is wanted", te.Value, jsonKind(te.Type.Kind().String()))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return corrupt(field, event, nil, "the document ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return corrupt(field, event, nil, "unknown member %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return corrupt(field, event, err, "cannot decode the %s", what)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int64", "int":
		return "an integer"
	case "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return "a " + goKind
}

// delim reads the next token, which must be the delimiter want.
func (d *decoder) delim(field string, event int, want json.Delim, what string) error {
	tok, err := d.dec.Token()
	if err != nil {
		return fail(field, event, err, what)
	}
	if got, ok := tok.(json.Delim); !ok || got != want {
		return corrupt(field, event, nil, "%s: got %s, want %q", what, describeToken(tok), string(want))
	}
	return nil
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + string(v)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// key reads the next member name of the document object; more is false at
// its end.
func (d *decoder) key() (k string, more bool, err error) {
	if !d.dec.More() {
		return "", false, d.delim("", -1, '}', "end of the document")
	}
	tok, err := d.dec.Token()
	if err != nil {
		return "", false, fail("", -1, err, "member name")
	}
	k, ok := tok.(string)
	if !ok {
		return "", false, corrupt("", -1, nil, "got %s where a member name is wanted", describeToken(tok))
	}
	return k, true, nil
}

func (d *decoder) document() (*Export, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, &FormatError{Event: -1, Kind: ErrNotExport, Reason: "not a JSON object", Cause: err}
	}
	if tok != json.Delim('{') {
		return nil, &FormatError{Event: -1, Kind: ErrNotExport, Reason: "not a JSON object: it starts with " + describeToken(tok)}
	}
	// "format" and "version" come first, so that a reader knows what it
	// reads before it reads the rest.
	notExport := &FormatError{Field: "format", Event: -1, Kind: ErrNotExport,
		Reason: fmt.Sprintf("the first member must be \"format\": %q", ExportFormat)}
	k, more, err := d.key()
	if err != nil || !more || k != "format" {
		return nil, notExport
	}
	if tok, err = d.dec.Token(); err != nil || tok != ExportFormat {
		return nil, notExport
	}
	if k, more, err = d.key(); err != nil {
		return nil, err
	}
	if !more || k != "version" {
		return nil, corrupt("version", -1, nil, "missing: the second member must be \"version\"")
	}
	if err := d.version(); err != nil {
		return nil, err
	}

	x := &Export{}
	seen := map[string]bool{"format": true, "version": true}
	for {
		k, more, err := d.key()
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if seen[k] {
			return nil, corrupt(k, -1, nil, "appears twice")
		}
		seen[k] = true
		switch k {
		case "run":
			err = d.run(&x.Run)
		case "events":
			x.Events, err = d.events()
		default:
			err = corrupt(k, -1, nil, "unknown member %q (version %d has format, version, run and events)", k, ExportVersion)
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, corrupt("", -1, nil, "data after the end of the document")
	}
	switch {
	case !seen["run"]:
		return nil, corrupt("run", -1, nil, "missing")
	case !seen["events"]:
		return nil, corrupt("events", -1, nil, "missing")
	}
	if n := len(x.Events); n > 0 {
		x.Run.LastSeq = x.Events[n-1].Seq
	}
	return x, nil
}

func (d *decoder) version() error {
	tok, err := d.dec.Token()
	if err != nil {
		return fail("version", -1, err, "version")
	}
	num, ok := tok.(json.Number)
	if !ok {
		return corrupt("version", -1, nil, "got %s, want an integer", describeToken(tok))
	}
	s := string(num)
	if strings.ContainsAny(s, ".eE-") {
		return corrupt("version", -1, nil, "%s, want an integer from 1", s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil || v > ExportVersion:
		return &FormatError{Field: "version", Event: -1, Kind: ErrExportTooNew,
			Reason: fmt.Sprintf("version %s was written by a newer Chorus; this code reads up to version %d", s, ExportVersion)}
	case v < 1:
		return corrupt("version", -1, nil, "%d, want an integer from 1", v)
	}
	return nil
}

// object decodes the next JSON value, which must be an object, into the
// struct v, whose members are named exactly (case included) by members:
// every member must be one of them, and none may appear twice.
// (encoding/json alone would match names regardless of case, and keep the
// last of repeated members.)
func (d *decoder) object(field string, event int, v any, members map[string]int, what string) error {
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		return fail(field, event, err, what)
	}
	if k, repeated := strayMember(raw, members); k != "" {
		if repeated {
			return corrupt(field+"."+k, event, nil, "appears twice")
		}
		return corrupt(field, event, nil, "unknown member %q", k)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fail(field, event, err, what)
	}
	return nil
}

// strayMember returns the first member name of the JSON object raw (valid
// JSON, as a decoder returned it) that is not in members, or that appears
// twice (then repeated is true); "" when there is none, or raw is not an
// object. It scans the bytes rather than tokens: it runs for every event.
func strayMember(raw json.RawMessage, members map[string]int) (k string, repeated bool) {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 || raw[0] != '{' {
		return "", false
	}
	var seen uint64
	depth, expectKey := 0, false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '"':
			j, escaped := i+1, false
			for ; j < len(raw) && raw[j] != '"'; j++ {
				if raw[j] == '\\' {
					j++
					escaped = true
				}
			}
			if depth == 1 && expectKey {
				expectKey = false
				k = string(raw[i+1 : min(j, len(raw))])
				if escaped && json.Unmarshal(raw[i:min(j+1, len(raw))], &k) != nil {
					return "", false
				}
				n, ok := members[k]
				switch {
				case !ok:
					return k, false
				case seen&(1<<n) != 0:
					return k, true
				}
				seen |= 1 << n
			}
			i = j
		case '{', '[':
			depth++
			expectKey = c == '{' && depth == 1
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		}
	}
	return "", false
}

// jsonMembers numbers the member names of the wire struct v's JSON tags.
func jsonMembers(v any) map[string]int {
	m := map[string]int{}
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = i
	}
	return m
}

var (
	runMembers   = jsonMembers(runWire{})
	eventMembers = jsonMembers(eventWire{})
)

func (d *decoder) run(r *RunInfo) error {
	var w runWire
	if err := d.object("run", -1, &w, runMembers, "run"); err != nil {
		return err
	}
	status, err := ParseRunStatus(w.Status)
	if err != nil {
		return corrupt("run.status", -1, nil, "%q, want running, completed, failed, canceled, blocked, terminated or timed-out", w.Status)
	}
	if w.FirstSeq < 1 {
		return corrupt("run.first_seq", -1, nil, "missing or %d, want the seq of the RunStarted of the current generation", w.FirstSeq)
	}
	r.ID, r.Workflow, r.Status, r.FirstSeq, r.Parent, r.ParentStep = w.ID, w.Workflow, status, w.FirstSeq, w.Parent, w.ParentStep
	if r.CreatedAt, err = parseTime("run.created_at", -1, w.CreatedAt); err != nil {
		return err
	}
	if r.UpdatedAt, err = parseTime("run.updated_at", -1, w.UpdatedAt); err != nil {
		return err
	}
	if r.Result, err = decodePayload("run.result", -1, w.Result, w.ResultBase64); err != nil {
		return err
	}
	if r.Failure, err = decodePayload("run.failure", -1, w.Failure, w.FailureBase64); err != nil {
		return err
	}
	return nil
}

func (d *decoder) events() ([]Event, error) {
	if err := d.delim("events", -1, '[', "events"); err != nil {
		return nil, err
	}
	var out []Event
	for i := 0; d.dec.More(); i++ {
		if i == d.maxEvents {
			return nil, &FormatError{Field: "events", Event: -1, Kind: ErrExportTooLarge,
				Reason: fmt.Sprintf("more than %d events", d.maxEvents)}
		}
		var w eventWire
		if err := d.object(eventField(i, ""), i, &w, eventMembers, "event"); err != nil {
			return nil, err
		}
		typ, ok := ParseEventType(w.Type)
		if !ok {
			return nil, corrupt(eventField(i, "type"), i, nil, "unknown event type %q", w.Type)
		}
		if w.Seq != int64(i)+1 {
			return nil, corrupt(eventField(i, "seq"), i, nil, "seq %d at index %d, want %d: seqs start at 1 and have no gaps", w.Seq, i, i+1)
		}
		e := Event{Seq: w.Seq, Type: typ, Name: w.Name, Ref: w.Ref}
		var err error
		if e.Time, err = parseTime(eventField(i, "time"), i, w.Time); err != nil {
			return nil, err
		}
		if e.Payload, err = decodePayload(eventField(i, "payload"), i, w.Payload, w.PayloadBase64); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := d.delim("events", -1, ']', "end of events"); err != nil {
		return nil, err
	}
	return out, nil
}
