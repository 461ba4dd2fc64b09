package history

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidateSignalsWithStart accepts signals that came with the start of a
// generation (Ref naming its RunStarted, directly after it) and refuses such
// a Ref anywhere else.
func TestValidateSignalsWithStart(t *testing.T) {
	withSignals := func(refs ...int64) *Export {
		x := &Export{Run: RunInfo{ID: "r", Workflow: "w", Status: StatusRunning, FirstSeq: 1}}
		x.Events = append(x.Events, Event{Seq: 1, Type: EventRunStarted, Name: "w", Time: t0})
		for i, ref := range refs {
			x.Events = append(x.Events, Event{Seq: int64(i) + 2, Type: EventSignalReceived, Name: "s", Ref: ref, Time: t0})
		}
		return x
	}
	require.NoError(t, withSignals(1).Validate())
	require.NoError(t, withSignals(1, 1, 0).Validate())
	require.ErrorIs(t, withSignals(0, 1).Validate(), ErrCorrupt, "a signal after the code ran did not come with the start")
	require.ErrorIs(t, withSignals(2).Validate(), ErrCorrupt)

	x := sampleExport() // its second generation starts at seq 6
	x.Events[6] = Event{Seq: 7, Type: EventSignalReceived, Name: "s", Ref: 6, Time: t0}
	x.Events[7] = Event{Seq: 8, Type: EventSignalReceived, Name: "s", Ref: 1, Time: t0}
	require.ErrorIs(t, x.Validate(), ErrCorrupt, "a Ref to an earlier generation's start")
	x.Events[7].Ref = 6
	require.NoError(t, x.Validate())
}
