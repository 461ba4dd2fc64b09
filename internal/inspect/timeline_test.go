package inspect

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// The timeline pairs commands with the inputs that settle them, across
// generations, and passes over what it does not know.
func TestTimelineGenerationsAndUnknowns(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	fail, _ := json.Marshal(history.Failure{Message: "boom", Attempt: 3})
	events := []history.Event{
		{Seq: 1, Type: history.EventRunStarted, Name: "w", Payload: []byte(`1`), Time: at(0)},
		{Seq: 2, Type: history.EventActivityScheduled, Name: "a", Payload: []byte(`"x"`), Time: at(1)},
		{Seq: 3, Type: history.EventTimerScheduled, Payload: []byte(`{"fire_at":"2026-03-02T10:00:00Z","duration":3600000000000}`), Time: at(1)},
		{Seq: 4, Type: history.EventActivityFailed, Ref: 2, Payload: fail, Time: at(5)},
		{Seq: 5, Type: history.EventUpdateAccepted, Name: "set\x00u1", Payload: []byte(`7`), Time: at(6)},
		{Seq: 6, Type: history.EventUpdateCompleted, Name: "set\x00u1", Ref: 5, Payload: []byte(`8`), Time: at(7)},
		{Seq: 7, Type: history.EventRunContinuedAsNew, Payload: []byte(`2`), Time: at(8)},
		{Seq: 8, Type: history.EventRunStarted, Name: "w", Payload: []byte(`2`), Time: at(8)},
		{Seq: 9, Type: history.EventType(200), Name: "future", Time: at(9)},
		{Seq: 10, Type: history.EventMarker, Name: "saga.compensation.failed", Payload: []byte(`{"saga":"s","index":0,"step":"undo","kind":"activity","error":"nope"}`), Time: at(9)},
	}
	info := history.RunInfo{ID: "r", Status: history.StatusRunning, FirstSeq: 8, LastSeq: 10}
	tl := timeline(info, events, map[int64]history.Task{3: {RunID: "r", Step: 3, Kind: history.TaskTimer}}, nil)
	kinds := []string{}
	for _, it := range tl.Items {
		kinds = append(kinds, it.Kind+":"+it.Status)
	}
	require.Equal(t, []string{"run-started:started", "activity:failed", "timer:abandoned", "update:completed",
		"continued-as-new:continued", "run-started:started", "eventtype(200):recorded", "compensation:failed"}, kinds)
	act := tl.Items[1]
	require.Equal(t, 3, act.Attempts)
	require.Equal(t, "4s", act.Duration)
	require.Equal(t, int64(4), act.EndSeq)
	require.Equal(t, "set/u1", tl.Items[3].Name)
	require.Equal(t, 2, tl.Items[5].Generation)
	require.Equal(t, "nope", tl.Items[7].Error.Message)
}
