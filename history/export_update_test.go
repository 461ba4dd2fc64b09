package history

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidateUpdates accepts an UpdateCompleted or UpdateFailed whose Ref
// names an earlier UpdateAccepted, once, and refuses any other Ref; the
// documents round-trip through JSON with the types' names.
func TestValidateUpdates(t *testing.T) {
	withUpdate := func(done EventType, ref int64) *Export {
		return &Export{Run: RunInfo{ID: "r", Workflow: "w", Status: StatusRunning, FirstSeq: 1}, Events: []Event{
			{Seq: 1, Type: EventRunStarted, Name: "w", Time: t0},
			{Seq: 2, Type: EventUpdateAccepted, Name: "add\x00u1", Payload: []byte("1"), Time: t0},
			{Seq: 3, Type: done, Name: "add\x00u1", Ref: ref, Payload: []byte("2"), Time: t0},
		}}
	}
	require.NoError(t, withUpdate(EventUpdateCompleted, 2).Validate())
	require.NoError(t, withUpdate(EventUpdateFailed, 2).Validate())
	require.ErrorIs(t, withUpdate(EventUpdateCompleted, 0).Validate(), ErrCorrupt, "no Ref")
	require.ErrorIs(t, withUpdate(EventUpdateCompleted, 1).Validate(), ErrCorrupt, "a Ref to a RunStarted")
	twice := withUpdate(EventUpdateCompleted, 2)
	twice.Events = append(twice.Events, Event{Seq: 4, Type: EventUpdateFailed, Name: "add\x00u1", Ref: 2, Time: t0})
	require.ErrorIs(t, twice.Validate(), ErrCorrupt, "finished twice")
	acc := withUpdate(EventUpdateCompleted, 2)
	acc.Events[1].Ref = 1
	require.ErrorIs(t, acc.Validate(), ErrCorrupt, "an UpdateAccepted answers nothing")

	x := withUpdate(EventUpdateCompleted, 2)
	b, err := x.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(b), `"UpdateAccepted"`)
	require.Contains(t, string(b), `"UpdateCompleted"`)
	back, err := DecodeExport(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, x.Events, back.Events)

	for _, typ := range []EventType{EventUpdateAccepted, EventUpdateCompleted, EventUpdateFailed} {
		require.True(t, typ.Valid())
	}
	require.False(t, EventUpdateAccepted.IsCommand(), "an input")
	require.True(t, EventUpdateCompleted.IsCommand())
	require.True(t, EventUpdateFailed.IsCommand())
}
