package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Decoding the chorus-history document (see export.go for the format).

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
