package replay_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/replay"
)

// FuzzReplay feeds mutated and truncated history documents to the decoder
// and, when they decode, to the replayer with the example workflows: it
// must never panic or hang, and every error must be one of the documented
// types. The seeds are short documents of the example workflows that
// replay (fuzzReplaySeeds) and the files under testdata/fuzz/FuzzReplay;
// documents longer than fuzzReplayLimit are not tried. (FuzzReplayEvents
// mutates the golden histories themselves.)
//
//	go test -run '^$' -fuzz '^FuzzReplay$' -fuzztime 60s ./replay
func FuzzReplay(f *testing.F) {
	for _, s := range fuzzReplaySeeds {
		f.Add([]byte(s))
	}
	defs := exampleDefs()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzReplayLimit {
			return
		}
		h, err := history.UnmarshalExport(data)
		if err != nil {
			var fe *history.FormatError
			require.ErrorAs(t, err, &fe)
			return
		}
		replayChecked(t, h, defs)
	})
}

// fuzzReplayLimit bounds the documents FuzzReplay tries. The fuzzing
// engine minimizes each new interesting input before it explores further,
// for up to a minute (-fuzzminimizetime), with a number of runs that grows
// with the square of the input's size: from the golden histories (1 to 5
// KB) as seeds, and even from 1 KB ones, a 15-second run spent all but its
// first few dozen inputs minimizing. A document of this size holds three
// or four events, enough for every rule of the format and every kind of
// event; FuzzReplayEvents replays whole journals.
const fuzzReplayLimit = 512

// fuzzReplaySeeds are short histories of the example workflows that
// replay: activities, an activity failure, a cancellation request, side
// effects, continue-as-new. The corpus in testdata/fuzz/FuzzReplay adds
// the documents that once failed, shortened to fit fuzzReplayLimit.
var fuzzReplaySeeds = []string{
	`{"format":"chorus-history","version":1,"run":{"id":"o","workflow":"place-order","status":"running","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","first_seq":1},"events":[{"seq":1,"type":"RunStarted","name":"place-order","time":"2025-06-02T09:00:00Z","payload":{"ID":"o"}},{"seq":2,"type":"ActivityScheduled","name":"reserve-inventory","time":"2025-06-02T09:00:00Z"},{"seq":3,"type":"ActivityCompleted","ref":2,"time":"2025-06-02T09:00:00Z","payload":{"ID":"R"}}]}`,
	`{"format":"chorus-history","version":1,"run":{"id":"o","workflow":"place-order","status":"running","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","first_seq":1},"events":[{"seq":1,"type":"RunStarted","name":"place-order","time":"2025-06-02T09:00:00Z","payload":{}},{"seq":2,"type":"ActivityScheduled","name":"reserve-inventory","time":"2025-06-02T09:00:00Z"},{"seq":3,"type":"CancelRequested","time":"2025-06-02T09:00:00Z"}]}`,
	`{"format":"chorus-history","version":1,"run":{"id":"c","workflow":"handle-claim","status":"running","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","first_seq":1},"events":[{"seq":1,"type":"RunStarted","name":"handle-claim","time":"2025-06-02T09:00:00Z","payload":{"Cents":9}},{"seq":2,"type":"ActivityScheduled","name":"assess-claim","time":"2025-06-02T09:00:00Z"},{"seq":3,"type":"ActivityFailed","ref":2,"time":"2025-06-02T09:00:00Z","payload":{"message":"x"}}]}`,
	`{"format":"chorus-history","version":1,"run":{"id":"b","workflow":"run-batch","status":"running","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","first_seq":1},"events":[{"seq":1,"type":"RunStarted","name":"run-batch","time":"2025-06-02T09:00:00Z","payload":{"Items":1}},{"seq":2,"type":"SideEffect","name":"uuid","time":"2025-06-02T09:00:00Z","payload_base64":"9o+FKjIxRIGzZGUtVyE7Rg=="},{"seq":3,"type":"SideEffect","name":"side-effect","time":"2025-06-02T09:00:00Z","payload":"h"}]}`,
	`{"format":"chorus-history","version":1,"run":{"id":"s","workflow":"subscription","status":"running","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","first_seq":3},"events":[{"seq":1,"type":"RunStarted","name":"subscription","time":"2025-06-02T09:00:00Z"},{"seq":2,"type":"RunContinuedAsNew","time":"2025-06-02T09:00:00Z","payload":{"Month":2}},{"seq":3,"type":"RunStarted","name":"subscription","time":"2025-06-02T09:00:00Z","payload":{"Month":2}}]}`,
	`{"format":"chorus-history","version":1,"run":{"id":"t","workflow":"book-trip","status":"running","created_at":"2025-06-02T09:00:00Z","updated_at":"2025-06-02T09:00:00Z","first_seq":1},"events":[{"seq":1,"type":"RunStarted","name":"book-trip","time":"2025-06-02T09:00:00Z","payload":{}},{"seq":2,"type":"ActivityScheduled","name":"book-flight","time":"2025-06-02T09:00:00Z"},{"seq":3,"type":"ActivityFailed","ref":2,"time":"2025-06-02T09:00:00Z","payload":{"message":"x","non_retryable":true}}]}`,
}

// FuzzReplayEvents mutates the journals of the golden histories event by
// event (cut the journal, change an event's type, ref or payload), so that
// most inputs are valid histories that reach the replayer, which FuzzReplay's
// byte mutations rarely produce. The history also goes through the format
// (Marshal, then UnmarshalExport) on its way.
//
// Its arguments are numbers, none a byte slice: the fuzzing engine
// minimizes every new interesting input that has one, with hundreds of
// runs of this body (a whole golden history replayed: milliseconds each),
// and short runs spent most of their time minimizing. A payload is one of
// eventPayloads or another event's payload; FuzzReplay and the codec's
// fuzz targets try arbitrary bytes.
//
//	go test -run '^$' -fuzz '^FuzzReplayEvents$' -fuzztime 60s ./replay
func FuzzReplayEvents(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	require.NoError(f, err)
	var goldens []*history.Export
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		x, err := history.UnmarshalExport(b)
		require.NoError(f, err)
		goldens = append(goldens, x)
	}
	require.NotEmpty(f, goldens)
	f.Add(uint8(0), uint16(0), uint16(0), uint8(0), int16(-1), uint8(0))
	f.Add(uint8(1), uint16(5), uint16(4), uint8(history.EventActivityCompleted), int16(3), eventPayload(`"x"`))
	f.Add(uint8(2), uint16(0), uint16(4), uint8(history.EventTimerFired), int16(1), uint8(0))
	f.Add(uint8(3), uint16(0), uint16(2), uint8(history.EventCancelRequested), int16(0), uint8(0))
	f.Add(uint8(4), uint16(9), uint16(6), uint8(history.EventSignalReceived), int16(-1), eventPayload(`{"Approve":false}`))
	f.Add(uint8(5), uint16(0), uint16(10), uint8(history.EventVersionMarker), int16(-1), eventPayload(`7`))
	f.Add(uint8(1), uint16(0), uint16(2), uint8(0), int16(-1), uint8(len(eventPayloads)+1))       // the claim as the assessment
	f.Add(uint8(0), uint16(0), uint16(0), uint8(history.EventSignalReceived), int16(1), uint8(0)) // a signal with its start's ref before any start
	defs := exampleDefs()
	f.Fuzz(func(t *testing.T, which uint8, cut, at uint16, typ uint8, ref int16, payload uint8) {
		g := goldens[int(which)%len(goldens)]
		x := &history.Export{Run: g.Run, Events: slices.Clone(g.Events)}
		if n := int(cut); n > 0 && n < len(x.Events) {
			x.Events = x.Events[:n]
			x.Run.Status, x.Run.Result, x.Run.Failure, x.Run.LastSeq = history.StatusRunning, nil, nil, 0
		}
		e := &x.Events[int(at)%len(x.Events)]
		if typ != 0 {
			e.Type = history.EventType(typ)
		}
		if ref >= 0 {
			e.Ref = int64(ref)
		}
		switch p := int(payload) - 1; {
		case p < 0:
		case p < len(eventPayloads):
			e.Payload = eventPayloads[p]
		default:
			e.Payload = x.Events[(p-len(eventPayloads))%len(x.Events)].Payload
		}
		for _, e := range x.Events {
			if e.Type == history.EventRunStarted {
				x.Run.FirstSeq, x.Run.Workflow = e.Seq, e.Name
			}
		}
		if x.Validate() != nil {
			return
		}
		b, err := x.Marshal()
		require.NoError(t, err)
		h, err := history.UnmarshalExport(b)
		require.NoError(t, err, "a valid history must survive the format:\n%s", b)
		replayChecked(t, h, defs)
	})
}

// eventPayloads are what FuzzReplayEvents puts in an event: no payload,
// values of other types or ranges than the examples' types hold, and
// bytes that are not JSON.
var eventPayloads = [][]byte{
	nil, []byte(`null`), []byte(`""`), []byte(`"x"`), []byte(`0`), []byte(`-1`), []byte(`7`), []byte(`1e309`),
	[]byte(`99999999999999999999`), []byte(`true`), []byte(`[]`), []byte(`{}`), []byte(`{"Approve":false}`),
	[]byte(`{"ID":42}`), []byte(`{"Items":-1}`), []byte(`{"Items":65}`), []byte(`{"message":1}`),
	[]byte(`{"message":"x","non_retryable":true}`), []byte(`{"fire_at":"x","duration":-1}`),
	[]byte(`{"id":"","workflow":"x"}`), []byte(`"\u0000"`), []byte(`[1,2`), {0xff, 0x00},
}

// eventPayload returns FuzzReplayEvents' payload argument for s, one of
// eventPayloads.
func eventPayload(s string) uint8 {
	i := slices.IndexFunc(eventPayloads, func(p []byte) bool { return p != nil && string(p) == s })
	if i < 0 {
		panic("eventPayload: not in eventPayloads: " + s)
	}
	return uint8(i + 1)
}

// replayChecked replays h and fails t unless it replays or fails with one
// of the documented error types.
func replayChecked(t *testing.T, h *history.Export, defs []chorus.Definition) {
	if h.Run.Workflow == RunBatch.Name() {
		// The batch workflow makes a buffered channel as large as its input
		// asks and a coroutine per item: an input of a billion items is a
		// workflow doing what it is told, not a replay bug.
		var b Batch
		if json.Unmarshal(h.Events[h.Run.FirstSeq-1].Payload, &b) == nil && b.Items > 64 {
			t.Skip("batch too large")
		}
	}
	err := replay.Run(testContext(t), h, defs...)
	if err == nil {
		return
	}
	var (
		nde *chorus.NonDeterminismError
		pe  *chorus.PanicError
		pl  *chorus.PayloadError
		nr  *chorus.NotRegisteredError
		fe  *history.FormatError
	)
	switch {
	case errors.As(err, &nde):
		require.Same(t, nde, err, "a divergence is returned unwrapped")
		require.Equal(t, h.Run.ID, nde.RunID)
		require.Positive(t, nde.Step)
		require.LessOrEqual(t, nde.Step, int64(len(h.Events)))
	case errors.As(err, &pe), errors.As(err, &pl), errors.As(err, &nr), errors.As(err, &fe):
	case isVersionOutOfRange(err):
		// Known: the engine reports a recorded version outside the range
		// the code supports with an untyped error (see
		// TestRunVersionOutOfRange).
	default:
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

// isVersionOutOfRange reports the engine's untyped error for a recorded
// GetVersion value outside the range the code supports.
func isVersionOutOfRange(err error) bool {
	return strings.Contains(err.Error(), "but the code supports versions")
}

// TestFuzzReplaySeeds keeps FuzzReplay's inputs useful: every seed and
// every file of its corpus fits fuzzReplayLimit (a longer one would be
// skipped), and every seed replays, so that mutations start deep in the
// replayer rather than at the decoder's first error.
func TestFuzzReplaySeeds(t *testing.T) {
	t.Parallel()
	defs := exampleDefs()
	for i, s := range fuzzReplaySeeds {
		require.LessOrEqual(t, len(s), fuzzReplayLimit, "seed %d", i)
		h, err := history.UnmarshalExport([]byte(s))
		require.NoError(t, err, "seed %d", i)
		require.NoError(t, replay.Run(testContext(t), h, defs...), "seed %d", i)
	}
	corpus, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzReplay", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, corpus)
	for _, p := range corpus {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		head, arg, ok := strings.Cut(strings.TrimSpace(string(b)), "\n")
		require.True(t, ok && head == "go test fuzz v1", "%s: not a corpus file", p)
		quoted, ok := strings.CutPrefix(arg, "[]byte(")
		require.True(t, ok, "%s: not a []byte input", p)
		doc, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
		require.NoError(t, err, p)
		require.LessOrEqual(t, len(doc), fuzzReplayLimit, p)
	}
}
