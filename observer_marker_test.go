package chorus_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// taggedCodec is JSON behind a tag, so that only the engine's codec
// decodes its payloads.
type taggedCodec struct{}

var codecTag = []byte("tagged:")

func (taggedCodec) Marshal(v any) ([]byte, error) {
	b, err := history.JSONCodec{}.Marshal(v)
	return append(append([]byte(nil), codecTag...), b...), err
}

func (taggedCodec) Unmarshal(data []byte, v any) error {
	b, ok := bytes.CutPrefix(data, codecTag)
	if !ok {
		return errors.New("untagged payload")
	}
	return history.JSONCodec{}.Unmarshal(b, v)
}

type noteDetails struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

var (
	markUndo = activity.New("mark-undo", func(ctx context.Context, n int) (int, error) { return n, nil })
	markWF   = workflow.New("obs-marker", func(ctx workflow.Context, n int) (int, error) {
		workflow.RecordMarker(ctx, "app.note", noteDetails{N: n, Text: "before"})
		v, _ := workflow.GetSignalChannel(ctx, obsSig).Receive(ctx)
		workflow.RecordMarker(ctx, "app.note", noteDetails{N: n + v, Text: "after"})
		s := saga.New(ctx, nil)
		if err := saga.Add(s, markUndo, n); err != nil {
			return 0, err
		}
		return n, s.Compensate(ctx)
	})
)

// TestObserverMarkers: every marker that workflow code journals is
// reported once, live, as an EventMarker with its name, step, time and
// details (decoded with the engine's codec), also when the run is rebuilt
// by replay between its markers; a saga's markers are reported as markers
// besides their compensation events.
func TestObserverMarkers(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	eng, err := chorus.Open(ctx, filepath.Join(t.TempDir(), "markers.db"), &chorus.Options{
		Observer: rec, CacheSize: 1, Codec: taggedCodec{},
	})
	require.NoError(t, err)
	defer eng.Close(ctx)
	require.NoError(t, eng.Register(markWF, markUndo))
	a, err := chorus.Start(ctx, eng, markWF, 1, &chorus.StartOptions{ID: "mark-a"})
	require.NoError(t, err)
	b, err := chorus.Start(ctx, eng, markWF, 2, &chorus.StartOptions{ID: "mark-b"})
	require.NoError(t, err)
	// The cache holds one run: each run is signalled once it has been
	// evicted, so both are rebuilt by replay, past their first marker,
	// before their second. Which one the cache keeps first, and when a
	// signalled run's load evicts the other, is the engine's business:
	// wait for each eviction instead of assuming an order.
	evicted := func(id string) bool { return len(rec.of(chorus.EventCacheEviction, id)) > 0 }
	require.Eventually(t, func() bool { return evicted("mark-a") || evicted("mark-b") }, time.Minute, time.Millisecond,
		"two idle runs in a cache of one: one is evicted")
	first, second := "mark-a", "mark-b"
	if !evicted(first) {
		first, second = second, first
	}
	values := map[string]int{"mark-a": 10, "mark-b": 20}
	require.NoError(t, chorus.Signal(ctx, eng, first, obsSig, values[first]))
	require.Eventually(t, func() bool { return evicted(second) }, time.Minute, time.Millisecond,
		"%s, loaded to take its signal, evicts %s", first, second)
	require.NoError(t, chorus.Signal(ctx, eng, second, obsSig, values[second]))
	_, err = a.Result(ctx)
	require.NoError(t, err)
	_, err = b.Result(ctx)
	require.NoError(t, err)

	for id, n := range map[string]int{"mark-a": 1, "mark-b": 2} {
		require.Positive(t, len(rec.of(chorus.EventRunLoaded, id)), "%s was rebuilt by replay", id)
		marks := rec.of(chorus.EventMarker, id)
		var names []string
		for _, m := range marks {
			names = append(names, m.Name)
		}
		require.Equal(t, []string{"app.note", "app.note", saga.MarkerStart, saga.MarkerDone}, names, id)

		h, err := chorus.History(ctx, eng, id)
		require.NoError(t, err)
		var journaled []history.Event
		for _, ev := range h.Events {
			if ev.Type == history.EventMarker {
				journaled = append(journaled, ev)
			}
		}
		require.Len(t, journaled, len(marks))
		for i, m := range marks {
			require.Equal(t, "obs-marker", m.Workflow)
			require.Equal(t, journaled[i].Seq, m.Step, "%s marker %d: its journal step", id, i)
			require.True(t, m.Time.Equal(journaled[i].Time), "%s marker %d: its journal time", id, i)
			require.Equal(t, journaled[i].Payload, m.Details, "%s marker %d: its details as journaled", id, i)
		}
		var d noteDetails
		require.NoError(t, marks[0].DecodeDetails(&d), "decoded with the engine's codec")
		require.Equal(t, noteDetails{N: n, Text: "before"}, d)
		require.NoError(t, marks[1].DecodeDetails(&d))
		require.Equal(t, noteDetails{N: n + 10*n, Text: "after"}, d)
		var sd saga.MarkerDetails
		require.NoError(t, marks[3].DecodeDetails(&sd))
		require.Equal(t, "mark-undo", sd.Step)

		require.Len(t, rec.of(chorus.EventCompensationStarted, id), 1, "%s: the saga's markers are compensations too", id)
		require.Len(t, rec.of(chorus.EventCompensationEnded, id), 1, id)
	}

	// An Event the engine did not make decodes as JSON.
	ev := chorus.Event{Kind: chorus.EventMarker, Details: []byte(`{"n":7}`)}
	var d noteDetails
	require.NoError(t, ev.DecodeDetails(&d))
	require.Equal(t, 7, d.N)
	require.Equal(t, "Marker", chorus.EventMarker.String())
}
