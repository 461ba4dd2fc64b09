package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
)

// codecOrder is a payload type like an application's: nested structs,
// pointers, slices, maps, times, bytes, an interface.
type codecOrder struct {
	ID       string            `json:"id"`
	Cents    int64             `json:"cents"`
	Ratio    float64           `json:"ratio,omitempty"`
	Paid     *bool             `json:"paid"`
	Items    []codecItem       `json:"items"`
	Tags     map[string]string `json:"tags,omitempty"`
	At       time.Time         `json:"at"`
	Wait     time.Duration     `json:"wait"`
	Blob     []byte            `json:"blob,omitempty"`
	Extra    any               `json:"extra,omitempty"`
	Failures []*Failure        `json:"failures,omitempty"`
}

type codecItem struct {
	SKU string `json:"sku"`
	Qty uint16 `json:"qty"`
}

// FuzzJSONCodecTyped decodes arbitrary payloads with the default codec
// into the typed values workflows and activities use (the engine does this
// for every input, result and signal it replays). Decoding may fail, with
// an error, but never panic; whatever decodes must encode, and encoding is
// a fixed point: encode(decode(encode(v))) == encode(v).
//
//	go test -run '^$' -fuzz '^FuzzJSONCodecTyped$' -fuzztime 60s ./history
func FuzzJSONCodecTyped(f *testing.F) {
	paid := true
	seed, _ := JSONCodec{}.Marshal(codecOrder{ID: "o-1", Cents: 4250, Paid: &paid, Items: []codecItem{{"a", 2}},
		Tags: map[string]string{"k": "v"}, At: time.Date(2025, 6, 1, 12, 0, 0, 5, time.FixedZone("x", 3600)),
		Wait: time.Hour, Blob: []byte{0, 1, 2}, Extra: map[string]any{"n": 1.5},
		Failures: []*Failure{{Message: "m", Cause: &Failure{Message: "c"}}}})
	for _, s := range []string{string(seed), `"text"`, `42`, `-0`, `1e308`, `[1,2,3]`, `{"a":1}`, `null`, `true`,
		`{"at":"2025-13-01T00:00:00Z"}`, `{"cents":9223372036854775808}`, `{"items":[{"qty":70000}]}`,
		`{"blob":"not base64!"}`, `"\ud800"`, `{"id":"\u0000"}`, `[` + strings.Repeat(`[`, 100) + `]`} {
		f.Add([]byte(s))
	}
	c := JSONCodec{}
	targets := []func() any{
		func() any { return new(string) }, func() any { return new(int) }, func() any { return new(float64) },
		func() any { return new([]int) }, func() any { return new(map[string]int) }, func() any { return new(codecOrder) },
		func() any { return new(*codecOrder) }, func() any { return new(Failure) }, func() any { return new(time.Time) },
		func() any { return new(any) }, func() any { return new([]byte) }, func() any { return new(struct{}) },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mk := range targets {
			v := mk()
			if err := c.Unmarshal(data, v); err != nil {
				require.NotEmpty(t, err.Error())
				continue
			}
			b, err := c.Marshal(v)
			if err != nil {
				// Only values JSON cannot hold fail to encode (a time
				// outside years 0-9999).
				var ue *json.UnsupportedValueError
				var me *json.MarshalerError
				require.True(t, errors.As(err, &ue) || errors.As(err, &me), "%T: %v", v, err)
				continue
			}
			w := mk()
			require.NoError(t, c.Unmarshal(b, w), "%T: its own encoding %s must decode", v, b)
			b2, err := c.Marshal(w)
			require.NoError(t, err)
			require.Equal(t, string(b), string(b2), "%T: encoding is a fixed point", v)
		}
	})
}

// FuzzDecodeExportReaders checks that the streaming decoder, DecodeExport,
// agrees with UnmarshalExport however the reader splits the document (one
// byte at a time, or halves): both accept the same documents, with the
// same result, and refuse the same ones. (FuzzDecode in export_test.go
// checks UnmarshalExport itself.) Documents longer than fuzzDocumentLimit
// are not tried.
//
//	go test -run '^$' -fuzz '^FuzzDecodeExportReaders$' -fuzztime 60s ./history
func FuzzDecodeExportReaders(f *testing.F) {
	for _, s := range fuzzDocumentSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzDocumentLimit {
			return
		}
		want, werr := UnmarshalExport(data)
		for name, r := range map[string]io.Reader{
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":     iotest.HalfReader(bytes.NewReader(data)),
		} {
			got, err := DecodeExport(r)
			if werr != nil {
				require.Error(t, err, "%s: UnmarshalExport refused it (%v)", name, werr)
				var fe *FormatError
				require.ErrorAs(t, err, &fe, name)
				continue
			}
			require.NoError(t, err, "%s: UnmarshalExport accepted it", name)
			require.Equal(t, want, got, name)
		}
	})
}

// fuzzDocumentLimit bounds the documents the export fuzz targets try. The
// fuzzing engine minimizes each new interesting input before it explores
// further, for up to a minute (-fuzzminimizetime), with a number of runs
// that grows with the square of the input's size: from kilobyte-sized
// seeds, a short run spent nearly all its time minimizing. Every rule of the
// format shows in a small document; the size limits have tests of their own.
const fuzzDocumentLimit = 512

// fuzzDocumentSeeds are small documents for the export fuzz targets: valid
// ones that reach every part of the decoder (a child run, continue-as-new,
// timers, activities, base64 payloads) and a few refused ones.
var fuzzDocumentSeeds = []string{
	`{"format":"chorus-history","version":1,"run":{"id":"r","workflow":"w","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","status":"completed","first_seq":1,"result":{"a":[1]}},"events":[{"seq":1,"type":"RunStarted","name":"w","time":"2025-06-02T09:00:00Z","payload":1},{"seq":2,"type":"RunCompleted","time":"2025-06-02T09:00:00Z","payload":{"a":[1]}}]}`,
	`{"format":"chorus-history","version":1,"run":{"id":"r","workflow":"w","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","status":"running","first_seq":1},"events":[{"seq":1,"type":"RunStarted","name":"w","time":"2025-06-02T09:00:00Z"},{"seq":2,"type":"ActivityScheduled","name":"a","time":"2025-06-02T09:00:00Z","payload_base64":"AP8="},{"seq":3,"type":"ActivityCompleted","ref":2,"time":"2025-06-02T09:00:00Z","payload":null}]}`,
	`{"format":"chorus-history","version":1,"run":{"id":"r","workflow":"w","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","status":"running","first_seq":3,"parent":"p","parent_step":2},"events":[{"seq":1,"type":"RunStarted","name":"w","time":"2025-06-02T09:00:00Z"},{"seq":2,"type":"RunContinuedAsNew","time":"2025-06-02T09:00:00Z","payload":"\u00e9\u2028"},{"seq":3,"type":"RunStarted","name":"w","time":"2025-06-02T09:01:00.123456789+02:00"}]}`,
	`{"format":"chorus-history","version":1,"run":{"id":"r","workflow":"w","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","status":"failed","first_seq":1,"failure_base64":"eA=="},"events":[{"seq":1,"type":"RunStarted","name":"w","time":"2025-06-02T09:00:00Z"},{"seq":2,"type":"TimerScheduled","time":"2025-06-02T09:00:00Z"},{"seq":3,"type":"TimerFired","ref":2,"time":"2025-06-02T09:00:00Z"},{"seq":4,"type":"RunFailed","time":"2025-06-02T09:00:00Z"}]}`,
	`{"format":"chorus-history","version":1,"run":{"id":"r","workflow":"w\u00e9","status":"running","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","first_seq":1},"events":[{"seq":1,"type":"RunStarted","name":"w\u00e9","time":"2025-06-02T09:00:00Z"}]}`,
	`{"format":"chorus-history","version":2}`,
	`{"format":"chorus-history"}`,
	"{\"format\":\"chorus-history\",\"version\":1,\"run\":{\"id\":\"\xe2\x9c\"}}",
	`[1,2,3]`,
}

// TestFuzzDocumentSeeds keeps the export fuzz targets' seeds useful: each
// fits fuzzDocumentLimit (a longer one would be skipped), and the first
// five are valid documents, which reach the encoder too.
func TestFuzzDocumentSeeds(t *testing.T) {
	t.Parallel()
	for i, s := range fuzzDocumentSeeds {
		require.LessOrEqual(t, len(s), fuzzDocumentLimit, "seed %d", i)
		_, err := UnmarshalExport([]byte(s))
		if i < 5 {
			require.NoError(t, err, "seed %d", i)
		} else {
			require.Error(t, err, "seed %d", i)
		}
	}
}
