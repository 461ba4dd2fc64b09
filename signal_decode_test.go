package chorus_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// A signal whose value does not decode into the receiver's type is dropped
// with a recorded reason: the run goes on with the next signals, the
// journal shows both the signal and why it was dropped, and the run
// replays.
func TestUndecodableSignalIsDroppedAndRecorded(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	num := workflow.NewSignal[int]("n")
	text := workflow.NewSignal[string]("n") // same name, another type
	sum := workflow.New("sum", func(ctx workflow.Context, n int) (int, error) {
		ch := workflow.GetSignalChannel(ctx, num)
		total := 0
		for range n {
			v, _ := ch.Receive(ctx)
			total += v
		}
		// ReceiveAsync skips a bad value too, and ReceiveWithTimeout waits
		// past one for a good value.
		workflow.Await(ctx, func() bool { return ch.Len() >= 4 })
		if v, ok := ch.ReceiveAsync(); ok {
			total += v
		}
		if v, ok := ch.ReceiveWithTimeout(ctx, time.Hour); ok {
			total += v
		}
		return total, nil
	})
	eng, _ := setup(t, nil, sum)
	run, err := chorus.Start(ctx, eng, sum, 2, &chorus.StartOptions{ID: "sum"})
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, "sum", num, 1))
	require.NoError(t, chorus.Signal(ctx, eng, "sum", text, "not a number"))
	require.NoError(t, chorus.Signal(ctx, eng, "sum", num, 2))
	require.NoError(t, chorus.Signal(ctx, eng, "sum", text, "still not"))
	require.NoError(t, chorus.Signal(ctx, eng, "sum", num, 4))
	require.NoError(t, chorus.Signal(ctx, eng, "sum", text, "nor this"))
	require.NoError(t, chorus.Signal(ctx, eng, "sum", num, 8))
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 15, got)

	x, err := chorus.History(ctx, eng, "sum")
	require.NoError(t, err)
	var received, dropped int
	for _, ev := range x.Events {
		switch {
		case ev.Type == history.EventSignalReceived:
			received++
		case ev.Type == history.EventMarker && ev.Name == workflow.SignalDroppedMarker:
			dropped++
			var d workflow.DroppedSignal
			require.NoError(t, json.Unmarshal(ev.Payload, &d))
			require.Equal(t, "n", d.Signal)
			require.Contains(t, d.Reason, "int")
		}
	}
	require.Equal(t, 7, received, "every signal is in the journal")
	require.Equal(t, 3, dropped, "each bad one is dropped with its reason")
	require.NoError(t, replay.Run(context.Background(), x, sum), "the run replays")
}
