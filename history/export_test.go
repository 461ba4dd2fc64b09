package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

// sampleExport is a run that continued as new once and is a child of
// another run, with payloads of every shape.
func sampleExport() *Export {
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	return &Export{
		Run: RunInfo{
			ID: "sub-1", Workflow: "renew", Status: StatusCompleted, CreatedAt: at(0), UpdatedAt: at(time.Hour),
			FirstSeq: 6, Parent: "parent-1", ParentStep: 3, Result: []byte(`{"month":2}`),
		},
		Events: []Event{
			{Seq: 1, Type: EventRunStarted, Name: "renew", Payload: []byte(`1`), Time: at(0)},
			{Seq: 2, Type: EventSideEffect, Name: "uuid", Payload: []byte{0x00, 0xff, 0x10, '"'}, Time: at(0)},
			{Seq: 3, Type: EventActivityScheduled, Name: "charge", Payload: []byte(`{"html":"<a & b>","sep":"` + "\u2028" + `"}`), Time: at(0)},
			{Seq: 4, Type: EventActivityCompleted, Name: "charge", Ref: 3, Payload: []byte(`null`), Time: at(time.Minute + 123456789)},
			{Seq: 5, Type: EventRunContinuedAsNew, Payload: []byte(` 2 `), Time: at(time.Minute)},
			{Seq: 6, Type: EventRunStarted, Name: "renew", Payload: []byte(`2`), Time: at(time.Minute)},
			{Seq: 7, Type: EventTimerScheduled, Payload: []byte(`{"fire_at":"2025-06-02T10:01:00Z","duration":3600000000000}`), Time: at(time.Minute)},
			{Seq: 8, Type: EventTimerFired, Ref: 7, Time: at(time.Hour)},
			{Seq: 9, Type: EventRunCompleted, Payload: []byte(`{"month":2}`), Time: at(time.Hour)},
		},
	}
}

// sampleDocument is what Encode writes for sampleExport: the layout is part
// of the format's documentation (package replay), so it is pinned here.
const sampleDocument = `{
  "format": "chorus-history",
  "version": 1,
  "run": {
    "id": "sub-1",
    "workflow": "renew",
    "status": "completed",
    "created_at": "2025-06-02T09:00:00Z",
    "updated_at": "2025-06-02T10:00:00Z",
    "first_seq": 6,
    "parent": "parent-1",
    "parent_step": 3,
    "result": {"month":2}
  },
  "events": [
    {"seq":1,"type":"RunStarted","name":"renew","time":"2025-06-02T09:00:00Z","payload":1},
    {"seq":2,"type":"SideEffect","name":"uuid","time":"2025-06-02T09:00:00Z","payload_base64":"AP8QIg=="},
    {"seq":3,"type":"ActivityScheduled","name":"charge","time":"2025-06-02T09:00:00Z","payload":{"html":"<a & b>","sep":"` + "\u2028" + `"}},
    {"seq":4,"type":"ActivityCompleted","name":"charge","ref":3,"time":"2025-06-02T09:01:00.123456789Z","payload":null},
    {"seq":5,"type":"RunContinuedAsNew","time":"2025-06-02T09:01:00Z","payload_base64":"IDIg"},
    {"seq":6,"type":"RunStarted","name":"renew","time":"2025-06-02T09:01:00Z","payload":2},
    {"seq":7,"type":"TimerScheduled","time":"2025-06-02T09:01:00Z","payload":{"fire_at":"2025-06-02T10:01:00Z","duration":3600000000000}},
    {"seq":8,"type":"TimerFired","ref":7,"time":"2025-06-02T10:00:00Z"},
    {"seq":9,"type":"RunCompleted","time":"2025-06-02T10:00:00Z","payload":{"month":2}}
  ]
}
`

func TestExportEncodeLayout(t *testing.T) {
	t.Parallel()
	b, err := sampleExport().Marshal()
	require.NoError(t, err)
	require.Equal(t, sampleDocument, string(b))
	var w bytes.Buffer
	require.NoError(t, sampleExport().Encode(&w))
	require.Equal(t, sampleDocument, w.String())
}

func TestExportRoundTripIsExact(t *testing.T) {
	t.Parallel()
	want := sampleExport()
	got, err := UnmarshalExport([]byte(sampleDocument))
	require.NoError(t, err)
	want.Run.LastSeq = 9 // filled in by the decoder
	require.Equal(t, want, got, "payloads come back byte for byte, times in UTC")

	// A document written by another tool, with other whitespace, member
	// order and time zones, decodes to the same run.
	other := `{"format":"chorus-history","version":1,
	"events":[
	  {"type":"RunStarted","seq":1,"time":"2025-06-02T11:00:00+02:00","name":"w","payload":{ "a" : [1, 2] }},
	  {"seq":2,"type":"RunCompleted","time":"2025-06-02T09:00:00.5Z","payload_base64":""}
	],
	"run":{"status":"running","workflow":"w","id":"r","first_seq":1,"created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z"}}`
	x, err := UnmarshalExport([]byte(other))
	require.NoError(t, err)
	require.Equal(t, `{"a":[1,2]}`, string(x.Events[0].Payload), "embedded JSON is compacted")
	require.True(t, x.Events[0].Time.Equal(t0))
	require.Equal(t, time.UTC, x.Events[0].Time.Location())
	require.Empty(t, x.Events[1].Payload)
	require.EqualValues(t, 2, x.Run.LastSeq)
	b, err := x.Marshal()
	require.NoError(t, err)
	y, err := UnmarshalExport(b)
	require.NoError(t, err)
	require.Equal(t, x, y)
}

// mutate returns sampleDocument with old replaced by new (once, and it
// must be there).
func mutate(t *testing.T, old, new string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(sampleDocument, old), "%q must appear once in the sample", old)
	return strings.Replace(sampleDocument, old, new, 1)
}

func TestDecodeExportRejects(t *testing.T) {
	t.Parallel()
	ev := func(i int, member string) string { return eventField(i, member) }
	cases := []struct {
		name  string
		doc   string
		kind  error
		field string
		event int
		msg   string
	}{
		{"not JSON", "hello", ErrNotExport, "", -1, "not a JSON object"},
		{"empty", "", ErrNotExport, "", -1, "not a JSON object"},
		{"an array", "[]", ErrNotExport, "", -1, "starts with"},
		{"another format", mutate(t, `"chorus-history"`, `"temporal-history"`), ErrNotExport, "format", -1, `"format"`},
		{"format not first", mutate(t, "\"format\": \"chorus-history\",\n  \"version\": 1,", "\"version\": 1,\n  \"format\": \"chorus-history\","),
			ErrNotExport, "format", -1, "first member"},
		{"newer version", mutate(t, `"version": 1`, `"version": 2`), ErrExportTooNew, "version", -1, "newer Chorus"},
		{"huge version", mutate(t, `"version": 1`, `"version": 123456789012345678901234567890`), ErrExportTooNew, "version", -1, "newer Chorus"},
		{"version zero", mutate(t, `"version": 1`, `"version": 0`), ErrCorrupt, "version", -1, "want an integer"},
		{"fractional version", mutate(t, `"version": 1`, `"version": 1.5`), ErrCorrupt, "version", -1, "want an integer"},
		{"version as a string", mutate(t, `"version": 1`, `"version": "1"`), ErrCorrupt, "version", -1, "want an integer"},
		{"no version", mutate(t, "\"version\": 1,\n", ""), ErrCorrupt, "version", -1, "missing"},
		{"unknown member", mutate(t, `"version": 1,`, `"version": 1, "comment": "hi",`), ErrCorrupt, "comment", -1, "unknown member"},
		{"repeated member", mutate(t, `"version": 1,`, `"version": 1, "events": [],`), ErrCorrupt, "events", -1, "twice"},
		{"repeated version", mutate(t, `"version": 1,`, `"version": 1, "version": 1,`), ErrCorrupt, "version", -1, "twice"},
		{"no events", mutate(t, `"status": "completed",`, `"status": "completed",`)[:strings.Index(sampleDocument, `,
  "events"`)] + "\n}", ErrCorrupt, "events", -1, "missing"},
		{"unknown run member", mutate(t, `"first_seq": 6,`, `"first_seq": 6, "owner": "me",`), ErrCorrupt, "run", -1, `unknown member "owner"`},
		{"repeated run member", mutate(t, `"first_seq": 6,`, `"first_seq": 6, "first_seq": 1,`), ErrCorrupt, "run.first_seq", -1, "twice"},
		{"unknown status", mutate(t, `"completed"`, `"done"`), ErrCorrupt, "run.status", -1, `"done"`},
		{"first_seq missing", mutate(t, "\"first_seq\": 6,\n", ""), ErrCorrupt, "run.first_seq", -1, "missing"},
		{"first_seq not at RunStarted", mutate(t, `"first_seq": 6`, `"first_seq": 7`), ErrCorrupt, "run.first_seq", -1, "want 6"},
		{"first_seq at an old generation", mutate(t, `"first_seq": 6`, `"first_seq": 1`), ErrCorrupt, "run.first_seq", -1, "want 6"},
		{"workflow differs", mutate(t, `"workflow": "renew"`, `"workflow": "other"`), ErrCorrupt, "run.workflow", -1, `names "renew"`},
		{"first_seq a string", mutate(t, `"first_seq": 6`, `"first_seq": "6"`), ErrCorrupt, "run.first_seq", -1, "a JSON string where an integer"},
		{"bad created_at", mutate(t, `"2025-06-02T09:00:00Z",
    "updated_at"`, `"yesterday",
    "updated_at"`), ErrCorrupt, "run.created_at", -1, "RFC 3339"},
		{"parent without step", mutate(t, "\"parent_step\": 3,\n", ""), ErrCorrupt, "run.parent_step", -1, "parent's step"},
		{"run is its own parent", mutate(t, `"parent": "parent-1"`, `"parent": "sub-1"`), ErrCorrupt, "run.parent", -1, "own parent"},
		{"result twice", mutate(t, `"result": {"month":2}`, `"result": {"month":2}, "result_base64": "AA=="`), ErrCorrupt, "run.result", -1, "one or the other"},
		{"unknown event type", mutate(t, `"type":"TimerFired"`, `"type":"TimerExploded"`), ErrCorrupt, ev(7, "type"), 7, `"TimerExploded"`},
		{"event type as number", mutate(t, `"type":"TimerFired"`, `"type":10`), ErrCorrupt, ev(7, "type"), 7, "a JSON number where a string"},
		{"seq gap", mutate(t, `{"seq":4,`, `{"seq":5,`), ErrCorrupt, ev(3, "seq"), 3, "no gaps"},
		{"seq from 0", mutate(t, `{"seq":1,`, `{"seq":0,`), ErrCorrupt, ev(0, "seq"), 0, "want 1"},
		{"missing seq", mutate(t, `{"seq":8,`, `{`), ErrCorrupt, ev(7, "seq"), 7, "want 8"},
		{"no RunStarted first", mutate(t, `"type":"RunStarted","name":"renew","time":"2025-06-02T09:00:00Z"`, `"type":"Marker","name":"renew","time":"2025-06-02T09:00:00Z"`),
			ErrCorrupt, ev(0, "type"), 0, "starts with RunStarted"},
		{"RunStarted without continue-as-new", mutate(t, `"type":"RunContinuedAsNew"`, `"type":"Marker"`), ErrCorrupt, ev(5, "type"), 5, "only after RunContinuedAsNew"},
		{"event after the end", mutate(t, `"type":"TimerFired","ref":7`, `"type":"RunFailed"`), ErrCorrupt, ev(8, "type"), 8, "after the run ended"},
		{"bad time", mutate(t, `"time":"2025-06-02T10:00:00Z"}`, `"time":"2025-06-02 10:00"}`), ErrCorrupt, ev(7, "time"), 7, "RFC 3339"},
		{"missing time", mutate(t, `,"time":"2025-06-02T10:00:00Z"}`, `}`), ErrCorrupt, ev(7, "time"), 7, "missing time"},
		{"time out of range", mutate(t, `"time":"2025-06-02T10:00:00Z"}`, `"time":"3025-06-02T10:00:00Z"}`), ErrCorrupt, ev(7, "time"), 7, "out of range"},
		{"ref forward", mutate(t, `"ref":7`, `"ref":8`), ErrCorrupt, ev(7, "ref"), 7, "earlier in the same generation"},
		{"negative ref", mutate(t, `"ref":7`, `"ref":-1`), ErrCorrupt, ev(7, "ref"), 7, "earlier in the same generation"},
		{"missing ref", mutate(t, `"ref":7,`, ``), ErrCorrupt, ev(7, "ref"), 7, "ref 0, want the seq of the TimerScheduled that the TimerFired answers"},
		{"ref to another generation", mutate(t, `"ref":7`, `"ref":3`), ErrCorrupt, ev(7, "ref"), 7, "earlier in the same generation"},
		{"ref to another kind", mutate(t, `"ref":7`, `"ref":6`), ErrCorrupt, ev(7, "ref"), 7, "ref 6 is a RunStarted, but a TimerFired answers a TimerScheduled"},
		{"ref on a command", mutate(t, `{"seq":7,"type":"TimerScheduled",`, `{"seq":7,"type":"TimerScheduled","ref":6,`), ErrCorrupt, ev(6, "ref"), 6, "answers no command"},
		{"answered twice", mutate(t, `{"seq":9,"type":"RunCompleted","time":"2025-06-02T10:00:00Z","payload":{"month":2}}`,
			`{"seq":9,"type":"TimerFired","ref":7,"time":"2025-06-02T10:00:00Z"},{"seq":10,"type":"RunCompleted","time":"2025-06-02T10:00:00Z","payload":{"month":2}}`),
			ErrCorrupt, ev(8, "ref"), 8, "step 7 is answered twice"},
		{"bad base64", mutate(t, `"AP8QIg=="`, `"AP8QIg"`), ErrCorrupt, ev(1, "payload_base64"), 1, "base64"},
		{"both payloads", mutate(t, `"payload_base64":"AP8QIg=="`, `"payload_base64":"AP8QIg==","payload":1`), ErrCorrupt, ev(1, "payload"), 1, "one or the other"},
		{"unknown event member", mutate(t, `"ref":7,`, `"ref":7,"note":"x",`), ErrCorrupt, ev(7, ""), 7, `unknown member "note"`},
		{"event member in another case", mutate(t, `"ref":7,`, `"Ref":7,`), ErrCorrupt, ev(7, ""), 7, `unknown member "Ref"`},
		{"run member in another case", mutate(t, `"status": "completed"`, `"Status": "completed"`), ErrCorrupt, "run", -1, `unknown member "Status"`},
		{"top member in another case", mutate(t, `"events": [`, `"Events": [`), ErrCorrupt, "Events", -1, `unknown member "Events"`},
		{"repeated event member", mutate(t, `"ref":7,`, `"ref":7,"ref":7,`), ErrCorrupt, ev(7, "ref"), 7, "twice"},
		{"event not an object", mutate(t, `{"seq":8,"type":"TimerFired","ref":7,"time":"2025-06-02T10:00:00Z"}`, `8`), ErrCorrupt, ev(7, ""), 7, "a JSON number where an object"},
		{"events not an array", mutate(t, `"events": [`, `"events": {`), ErrCorrupt, "events", -1, `want "["`},
		{"trailing data", sampleDocument + "{}", ErrCorrupt, "", -1, "after the end"},
		{"syntax error", mutate(t, `"ref":7,`, `"ref":7,,`), ErrCorrupt, ev(7, ""), 7, "invalid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			x, err := UnmarshalExport([]byte(c.doc))
			require.Nil(t, x)
			var fe *FormatError
			require.ErrorAs(t, err, &fe)
			require.ErrorIs(t, err, c.kind)
			require.Equal(t, c.field, fe.Field, "%v", err)
			require.Equal(t, c.event, fe.Event, "%v", err)
			require.Contains(t, err.Error(), c.msg)
			require.True(t, strings.HasPrefix(err.Error(), "history: invalid chorus-history document: "), err.Error())
		})
	}
}

func TestDecodeExportTruncated(t *testing.T) {
	t.Parallel()
	for n := range len(sampleDocument) - 1 { // the last byte is a newline
		x, err := UnmarshalExport([]byte(sampleDocument[:n]))
		require.Nil(t, x, "prefix of %d bytes", n)
		var fe *FormatError
		require.ErrorAs(t, err, &fe, "prefix of %d bytes", n)
		require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotExport), "prefix of %d bytes: %v", n, err)
	}
}

// spaces is an endless reader of blanks.
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestDecodeExportLimits(t *testing.T) {
	t.Parallel()
	t.Run("size of a byte slice, checked before decoding", func(t *testing.T) {
		t.Parallel()
		_, err := UnmarshalExport(make([]byte, MaxExportSize+1))
		require.ErrorIs(t, err, ErrExportTooLarge)
		var fe *FormatError
		require.ErrorAs(t, err, &fe)
	})
	t.Run("size of a stream", func(t *testing.T) {
		t.Parallel()
		head := sampleDocument[:strings.Index(sampleDocument, "\n    {\"seq\":2")]
		r := io.MultiReader(strings.NewReader(head), spaces{})
		_, err := decodeExport(r, 4096, MaxExportEvents)
		require.ErrorIs(t, err, ErrExportTooLarge)
		require.Contains(t, err.Error(), "more than 4096 bytes")
		_, err = decodeExport(strings.NewReader(sampleDocument), int64(len(sampleDocument)), MaxExportEvents)
		require.NoError(t, err, "exactly at the limit is fine")
		_, err = decodeExport(strings.NewReader(sampleDocument), int64(len(sampleDocument)-1), MaxExportEvents)
		require.ErrorIs(t, err, ErrExportTooLarge)
	})
	t.Run("events, counted while decoding", func(t *testing.T) {
		t.Parallel()
		_, err := decodeExport(strings.NewReader(sampleDocument), MaxExportSize, 9)
		require.NoError(t, err)
		// The tenth event is refused before it is decoded: it is not even
		// valid JSON.
		doc := strings.Replace(sampleDocument, "\"payload\":{\"month\":2}}\n  ]", "\"payload\":{\"month\":2}},\n    !!!\n  ]", 1)
		_, err = decodeExport(strings.NewReader(doc), MaxExportSize, 9)
		require.ErrorIs(t, err, ErrExportTooLarge)
		require.Contains(t, err.Error(), "more than 9 events")
	})
	t.Run("the encoder refuses what the decoder would", func(t *testing.T) {
		t.Parallel()
		x := sampleExport()
		x.Run.Result = bytes.Repeat([]byte{0xff}, MaxExportSize)
		_, err := x.Marshal()
		require.ErrorIs(t, err, ErrExportTooLarge)
	})
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestDecodeExportReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	_, err := DecodeExport(io.MultiReader(strings.NewReader(sampleDocument[:100]), failingReader{boom}))
	require.ErrorIs(t, err, boom)
	var fe *FormatError
	require.False(t, errors.As(err, &fe), "a read error is not a format error")
}

func TestExportValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, sampleExport().Validate())
	var nilExport *Export
	require.ErrorIs(t, nilExport.Validate(), ErrCorrupt)
	for name, change := range map[string]func(x *Export){
		"empty ID":           func(x *Export) { x.Run.ID = "" },
		"long ID":            func(x *Export) { x.Run.ID = strings.Repeat("x", MaxExportIDLength+1) },
		"NUL in ID":          func(x *Export) { x.Run.ID = "a\x00b" },
		"empty workflow":     func(x *Export) { x.Run.Workflow = "" },
		"workflow not UTF-8": func(x *Export) { x.Run.Workflow, x.Events[0].Name, x.Events[5].Name = "\xff", "\xff", "\xff" },
		"name not UTF-8":     func(x *Export) { x.Events[2].Name = "charge\xff" },
		"zero status":        func(x *Export) { x.Run.Status = 0 },
		"wrong last seq":     func(x *Export) { x.Run.LastSeq = 3 },
		"no events":          func(x *Export) { x.Events = nil },
		"unknown type":       func(x *Export) { x.Events[2].Type = 99 },
		"ends mid-continue":  func(x *Export) { x.Events = x.Events[:5]; x.Run.FirstSeq = 1 },
		"step to parent < 0": func(x *Export) { x.Run.ParentStep = -1 },
		"step, no parent":    func(x *Export) { x.Run.Parent = "" },
		"time out of range":  func(x *Export) { x.Events[0].Time = time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		x := sampleExport()
		change(x)
		err := x.Validate()
		var fe *FormatError
		require.ErrorAs(t, err, &fe, name)
		require.ErrorIs(t, err, ErrCorrupt, name)
		_, err = x.Marshal()
		require.Error(t, err, "Marshal validates: %s", name)
	}
	x := sampleExport()
	x.Run.FirstSeq, x.Events = 1, x.Events[:4]
	x.Run.Workflow = "renew"
	require.NoError(t, x.Validate(), "a run in flight")
}

func TestParseEventType(t *testing.T) {
	t.Parallel()
	for typ := range eventTypeNames {
		got, ok := ParseEventType(typ.String())
		require.True(t, ok)
		require.Equal(t, typ, got)
	}
	_, ok := ParseEventType("EventType(99)")
	require.False(t, ok)
}

// FuzzDecode feeds arbitrary documents to the decoder: it must never panic
// or hang, every error must be a *FormatError of one of the four kinds, and
// whatever it accepts must encode and decode again to the same Export and
// the same bytes. Documents longer than fuzzDocumentLimit are not tried.
//
//	go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 60s ./history
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzDocumentSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzDocumentLimit {
			return
		}
		x, err := UnmarshalExport(data)
		if err != nil {
			require.Nil(t, x)
			var fe *FormatError
			require.ErrorAs(t, err, &fe)
			require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotExport) ||
				errors.Is(err, ErrExportTooNew) || errors.Is(err, ErrExportTooLarge), "untyped error kind: %v", err)
			require.NotEmpty(t, err.Error())
			return
		}
		b, err := x.Marshal()
		require.NoError(t, err, "an accepted document must encode")
		y, err := UnmarshalExport(b)
		require.NoError(t, err, "an encoded document must decode:\n%s", b)
		require.Equal(t, x, y)
		b2, err := y.Marshal()
		require.NoError(t, err)
		require.Equal(t, string(b), string(b2), "encoding is deterministic")
	})
}

func TestStrayMember(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]struct {
		key      string
		repeated bool
	}{
		`{"seq":1,"type":"RunStarted"}`:                         {},
		` {"seq":1}`:                                            {},
		`{"\u0074ype":"x","seq":1}`:                             {}, // an escaped name is the same name
		`{"payload":{"Type":1,"seq":[{"x":"}"}]},"seq":1}`:      {}, // nested members are the payload's
		`{"name":"a\"b\\","seq":1}`:                             {},
		`{"Type":"RunStarted"}`:                                 {key: "Type"},
		`{"seq":1,"payload":{"a":"{\"seq\":"},"s\u0065q":2}`:    {key: "seq", repeated: true},
		`{"seq":1,"payload_base64":"","payload_base64":""}`:     {key: "payload_base64", repeated: true},
		`{"seq":1,"ſeq":2}`:                                     {key: "ſeq"}, // encoding/json folds ſ to s
		`[{"Type":1}]`:                                          {},
		`{"seq":1,"time":"t","extra":{"type":"RunStarted"}}`:    {key: "extra"},
		`{"seq":1,"payload":[1,{"Type":2}],"time":"t","ref":0}`: {},
	} {
		k, repeated := strayMember(json.RawMessage(raw), eventMembers)
		require.Equal(t, want.key, k, raw)
		require.Equal(t, want.repeated, repeated, raw)
	}
}

func TestDecodeExportChecksUTF8(t *testing.T) {
	t.Parallel()
	doc := mutate(t, `"name":"charge","ref"`, `"name":"chargé ✓ 𝄞","ref"`)
	for _, r := range []io.Reader{strings.NewReader(doc), iotest.OneByteReader(strings.NewReader(doc)), iotest.HalfReader(strings.NewReader(doc))} {
		x, err := DecodeExport(r)
		require.NoError(t, err)
		require.Equal(t, "chargé ✓ 𝄞", x.Events[3].Name)
	}
	for name, bad := range map[string]string{
		"invalid byte":            strings.Replace(doc, "é", "\xe9", 1),
		"cut rune":                strings.Replace(doc, "✓", "\xe2\x9c", 1),
		"surrogate":               strings.Replace(doc, "✓", "\xed\xa0\x80", 1),
		"overlong":                strings.Replace(doc, "é", "\xc0\xaf", 1),
		"cut rune before a quote": strings.Replace(doc, "✓ 𝄞\"", "✓ \xf0\x9d\x84\"", 1),
	} {
		for _, r := range []io.Reader{strings.NewReader(bad), iotest.OneByteReader(strings.NewReader(bad))} {
			_, err := DecodeExport(r)
			require.ErrorIs(t, err, ErrCorrupt, name)
			require.ErrorContains(t, err, "not UTF-8", name)
		}
	}
	_, err := UnmarshalExport([]byte(strings.Replace(doc, "é", "\xe9", 1)))
	require.ErrorContains(t, err, fmt.Sprintf("invalid byte at offset %d", strings.Index(doc, "é")))
}

func TestLimitReaderUTF8AtEOF(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"abc": -1, "abc\xe2\x9c": 3, "a✓": -1, "a\xe2": 1, "": -1} {
		for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
			lr := &limitReader{r: r, left: 100, badUTF8: -1}
			_, err := io.ReadAll(lr)
			require.NoError(t, err)
			require.Equal(t, want, lr.badUTF8, "%q", in)
		}
	}
}
