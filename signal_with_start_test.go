package chorus_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/workflow"
)

// TestSignalWithStartSignalIsThereBeforeTheCodeRuns starts a run whose code
// looks at its channel without blocking, as a mutex workflow does: the
// signal is there, the run ends in its first round, and SignalWithStart
// returns a handle to it rather than ErrRunEnded.
func TestSignalWithStartSignalIsThereBeforeTheCodeRuns(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	req := workflow.NewSignal[string]("request")
	wf := workflow.New("sws-first", func(ctx workflow.Context, _ int) (string, error) {
		v, ok := workflow.GetSignalChannel(ctx, req).ReceiveAsync()
		if !ok {
			return "no signal yet", nil
		}
		return "got " + v, nil
	})
	eng, path := setup(t, nil, wf)
	run, err := chorus.SignalWithStart(ctx, eng, wf, 0, &chorus.StartOptions{ID: "sws-1"}, req, "lock")
	require.NoError(t, err)
	require.NotNil(t, run)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "got lock", got)
	require.NoError(t, hook.Core(eng).ReplayRun(ctx, "sws-1"), "replay puts the signal in the channel before the code runs too")
	x, err := chorus.History(ctx, eng, "sws-1")
	require.NoError(t, err, "the history of a run started by SignalWithStart exports")
	require.Equal(t, history.EventSignalReceived, x.Events[1].Type)
	require.EqualValues(t, 1, x.Events[1].Ref, "the signal came with the RunStarted at seq 1")
	var buf bytes.Buffer
	require.NoError(t, x.Encode(&buf))
	back, err := history.DecodeExport(&buf)
	require.NoError(t, err)
	require.Equal(t, x.Events[1].Ref, back.Events[1].Ref)
	closeEngine(t, eng)
	eng = openEngine(t, path, nil, wf)
	require.NoError(t, hook.Core(eng).ReplayRun(ctx, "sws-1"))
}

// TestSignalWithStartReplaysAcrossReopen keeps a run started by
// SignalWithStart going across a reopen: its replay takes the same path.
func TestSignalWithStartReplaysAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	req := workflow.NewSignal[string]("request")
	wf := workflow.New("sws-mutex", func(ctx workflow.Context, _ int) ([]string, error) {
		ch := workflow.GetSignalChannel(ctx, req)
		var got []string
		for len(got) < 2 {
			v, ok := ch.ReceiveAsync()
			if !ok {
				got = append(got, "wait")
				v, _ = ch.Receive(ctx)
			}
			got = append(got, v)
		}
		return got, nil
	})
	eng, path := setup(t, nil, wf)
	_, err := chorus.SignalWithStart(ctx, eng, wf, 0, &chorus.StartOptions{ID: "sws-2"}, req, "a")
	require.NoError(t, err)
	closeEngine(t, eng)

	eng = openEngine(t, path, nil, wf)
	run, err := chorus.SignalWithStart(ctx, eng, wf, 0, &chorus.StartOptions{ID: "sws-2"}, req, "b")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "wait", "b"}, got)
}
