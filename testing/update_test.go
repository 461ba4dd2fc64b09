package chorustest_test

import (
	"context"
	"errors"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

type shipReq struct {
	Order string
	Days  int
}

var (
	shipUpdate = workflow.NewUpdate[shipReq, string]("ship")
	shipDone   = workflow.NewSignal[struct{}]("done")
	shipNote   = workflow.NewSignal[string]("note")
	shipAct    = activity.New("ship-label", func(_ context.Context, order string) (string, error) {
		return "label-" + order, nil
	})
	errNoDays = errors.New("days must be positive")
)

// shipping handles "ship" updates: each waits the requested days, then
// prints a label; it ends once signaled and every handler returned.
var shipping = workflow.New("upd-shipping", func(ctx workflow.Context, _ int) ([]string, error) {
	var log []string
	workflow.SetUpdateHandler(ctx, shipUpdate, func(ctx workflow.Context, r shipReq) (string, error) {
		log = append(log, "update "+r.Order)
		if err := workflow.Sleep(ctx, time.Duration(r.Days)*24*time.Hour); err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, shipAct, r.Order).Get(ctx)
	}, &workflow.UpdateOptions[shipReq]{Validator: func(r shipReq) error {
		if r.Days <= 0 {
			return errNoDays
		}
		return nil
	}})
	notes := workflow.GetSignalChannel(ctx, shipNote)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			v, _ := notes.Receive(ctx)
			log = append(log, "signal "+v)
		}
	})
	workflow.GetSignalChannel(ctx, shipDone).Receive(ctx)
	workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return log, nil
})

func TestUpdateSkipsFakeTime(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{shipping, shipAct}})
	run := chorustest.Start(env, shipping, 0, nil)
	got, err := chorustest.UpdateWithID(env, run.ID(), "o1", shipUpdate, shipReq{Order: "o1", Days: 3})
	require.NoError(t, err)
	require.Equal(t, "label-o1", got)
	require.Equal(t, 3*24*time.Hour, env.Elapsed(), "the handler's sleep took fake time")
	// The same ID again: the recorded result, no more time.
	got, err = chorustest.UpdateWithID(env, run.ID(), "o1", shipUpdate, shipReq{Order: "o1", Days: 3})
	require.NoError(t, err)
	require.Equal(t, "label-o1", got)
	require.Equal(t, 3*24*time.Hour, env.Elapsed())
	require.Equal(t, []string{"ship-label"}, env.ActivitiesRun(run.ID()))
	chorustest.Signal(env, run.ID(), shipDone, struct{}{})
	log, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, []string{"update o1"}, log)
}

func TestUpdateValidatorRefusesUnderEnv(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{shipping, shipAct}})
	run := chorustest.Start(env, shipping, 0, nil)
	before := env.History(run.ID())
	_, err := chorustest.Update(env, run.ID(), shipUpdate, shipReq{Order: "o2"})
	var rej *chorus.UpdateRejectedError
	require.ErrorAs(t, err, &rej)
	require.ErrorIs(t, err, errNoDays)
	require.Equal(t, before, env.History(run.ID()), "nothing written")
}

// TestUpdateRacingSignalUnderEnv: an update and a signal sent from the same
// env.At callback are both applied, in the order sent, and the env's replay
// check at the end of the test replays them the same way.
func TestUpdateRacingSignalUnderEnv(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{shipping, shipAct}})
	run := chorustest.Start(env, shipping, 0, nil)
	var h *chorus.UpdateHandle[string]
	env.At(time.Hour, func() {
		chorustest.Signal(env, run.ID(), shipNote, "first")
		var err error
		h, err = chorustest.StartUpdate(env, run.ID(), "o3", shipUpdate, shipReq{Order: "o3", Days: 1})
		require.NoError(t, err)
		chorustest.Signal(env, run.ID(), shipNote, "second")
	})
	env.Advance(time.Hour)
	require.NotNil(t, h)
	got, err := chorustest.UpdateResult(env, h)
	require.NoError(t, err)
	require.Equal(t, "label-o3", got)
	require.Equal(t, 25*time.Hour, env.Elapsed())
	chorustest.Signal(env, run.ID(), shipDone, struct{}{})
	log, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, []string{"signal first", "update o3", "signal second"}, log)
	var order []history.EventType
	for _, ev := range env.History(run.ID()) {
		if ev.Type == history.EventSignalReceived || ev.Type == history.EventUpdateAccepted {
			order = append(order, ev.Type)
		}
	}
	require.Equal(t, []history.EventType{history.EventSignalReceived, history.EventUpdateAccepted, history.EventSignalReceived, history.EventSignalReceived}, order)
	require.NoError(t, env.CheckReplay())
}

func TestUpdateStalledUnderEnv(t *stdtesting.T) {
	t.Parallel()
	u := workflow.NewUpdate[int, int]("wait-forever")
	wf := workflow.New("upd-stall", func(ctx workflow.Context, _ int) (int, error) {
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, n int) (int, error) {
			workflow.GetSignalChannel(ctx, shipDone).Receive(ctx)
			return n, nil
		}, nil)
		workflow.GetSignalChannel(ctx, shipDone).Receive(ctx)
		workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return 0, nil
	})
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{wf}})
	run := chorustest.Start(env, wf, 0, nil)
	_, err := chorustest.Update(env, run.ID(), u, 1)
	require.ErrorIs(t, err, chorustest.ErrStalled)
	chorustest.Signal(env, run.ID(), shipDone, struct{}{})
	chorustest.Signal(env, run.ID(), shipDone, struct{}{})
	_, err = chorustest.Result(env, run)
	require.NoError(t, err)
}
