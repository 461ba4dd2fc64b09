package chorus_test

// Tests of updates: typed, journaled request/response calls into a running
// workflow, with a validator that may refuse them before anything is written.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

var (
	updAdd    = workflow.NewUpdate[int, int]("add")
	updFinish = workflow.NewSignal[string]("finish")
	updLog    = workflow.NewQuery[struct{}, []string]("log")
)

var errNegative = errors.New("negative amounts are refused")

// counterWorkflow keeps a total that updates add to (the validator refuses
// negative amounts) and signals note; it returns the total once signaled
// "finish" and every update handler has returned.
func counterWorkflow() *workflow.Definition[int, int] {
	return workflow.New("upd-counter", func(ctx workflow.Context, start int) (int, error) {
		total := start
		var log []string
		workflow.SetQueryHandler(ctx, updLog, func(struct{}) ([]string, error) { return log, nil })
		workflow.SetUpdateHandler(ctx, updAdd, func(ctx workflow.Context, n int) (int, error) {
			total += n
			log = append(log, fmt.Sprintf("update %d", n))
			return total, nil
		}, &workflow.UpdateOptions[int]{Validator: func(n int) error {
			if n < 0 {
				return errNegative
			}
			return nil
		}})
		notes := workflow.GetSignalChannel(ctx, updNote)
		workflow.Go(ctx, func(ctx workflow.Context) {
			for {
				v, _ := notes.Receive(ctx)
				log = append(log, "signal "+v)
			}
		})
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return total, nil
	})
}

var updNote = workflow.NewSignal[string]("note")

func historyOf(t *testing.T, eng *chorus.Engine, runID string) []history.Event {
	t.Helper()
	h, err := chorus.History(testContext(t), eng, runID)
	require.NoError(t, err)
	return h.Events
}

func TestUpdateReturnsHandlerResultAndJournalsIt(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := counterWorkflow()
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 10, &chorus.StartOptions{ID: "upd-basic"})
	require.NoError(t, err)

	got, err := chorus.UpdateWithID(ctx, eng, run.ID(), "u1", updAdd, 5)
	require.NoError(t, err)
	require.Equal(t, 15, got)
	got, err = chorus.Update(ctx, eng, run.ID(), updAdd, 2)
	require.NoError(t, err)
	require.Equal(t, 17, got)

	evs := historyOf(t, eng, run.ID())
	var acc, done []history.Event
	for _, ev := range evs {
		switch ev.Type {
		case history.EventUpdateAccepted:
			acc = append(acc, ev)
		case history.EventUpdateCompleted:
			done = append(done, ev)
		}
	}
	require.Len(t, acc, 2)
	require.Len(t, done, 2)
	require.Equal(t, "add\x00u1", acc[0].Name)
	require.Equal(t, "5", string(acc[0].Payload))
	require.Equal(t, acc[0].Seq, done[0].Ref, "UpdateCompleted names its UpdateAccepted")
	require.Equal(t, "15", string(done[0].Payload))

	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), updFinish, ""))
	total, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 17, total)

	h, err := chorus.History(ctx, eng, run.ID())
	require.NoError(t, err)
	require.NoError(t, h.Validate())
	require.NoError(t, replay.Run(ctx, h, wf))
}

func TestUpdateValidatorRefusalWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := counterWorkflow()
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 10, nil)
	require.NoError(t, err)
	before := historyOf(t, eng, run.ID())

	_, err = chorus.Update(ctx, eng, run.ID(), updAdd, -3)
	var rej *chorus.UpdateRejectedError
	require.ErrorAs(t, err, &rej)
	require.ErrorIs(t, err, errNegative)
	require.Equal(t, "add", rej.Update)
	require.Equal(t, before, historyOf(t, eng, run.ID()), "a refused update leaves the journal unchanged")

	// An argument that does not decode into the handler's type is refused
	// the same way.
	_, err = chorus.Update(ctx, eng, run.ID(), workflow.NewUpdate[string, int]("add"), "x")
	require.ErrorAs(t, err, &rej)
	require.ErrorIs(t, err, chorus.ErrPayload)

	// An update the run has no handler for.
	_, err = chorus.Update(ctx, eng, run.ID(), workflow.NewUpdate[int, int]("subtract"), 1)
	require.ErrorIs(t, err, chorus.ErrUnknownUpdate)
	require.ErrorContains(t, err, `"subtract"`)
	require.ErrorContains(t, err, "it handles: add")
	require.Equal(t, before, historyOf(t, eng, run.ID()))

	// The run goes on.
	got, err := chorus.Update(ctx, eng, run.ID(), updAdd, 1)
	require.NoError(t, err)
	require.Equal(t, 11, got)
}

func TestUpdateValidatorMustNotIssueCommands(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	u := workflow.NewUpdate[int, int]("sneaky")
	wf := workflow.New("upd-sneaky", func(ctx workflow.Context, _ int) (int, error) {
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, n int) (int, error) { return n, nil },
			&workflow.UpdateOptions[int]{Validator: func(int) error {
				return workflow.Sleep(ctx, time.Second)
			}})
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		return 0, nil
	})
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	before := historyOf(t, eng, run.ID())
	_, err = chorus.Update(ctx, eng, run.ID(), u, 1)
	var rej *chorus.UpdateRejectedError
	require.ErrorAs(t, err, &rej)
	require.ErrorIs(t, err, chorus.ErrQueryMisuse)
	require.Equal(t, before, historyOf(t, eng, run.ID()))
}

func TestUpdateRefusedByRunState(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := counterWorkflow()
	boom := workflow.NewSignal[string]("boom")
	blocker := workflow.New("upd-blocker", func(ctx workflow.Context, _ int) (int, error) {
		workflow.SetUpdateHandler(ctx, updAdd, func(ctx workflow.Context, n int) (int, error) { return n, nil }, nil)
		workflow.GetSignalChannel(ctx, boom).Receive(ctx)
		panic("boom")
	})
	eng, _ := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxPayloadBytes: 64}}, wf, blocker)

	_, err := chorus.Update(ctx, eng, "no-such-run", updAdd, 1)
	require.ErrorIs(t, err, chorus.ErrRunNotFound)

	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	_, err = chorus.UpdateWithID(ctx, eng, run.ID(), "", updAdd, 1)
	require.ErrorIs(t, err, chorus.ErrInvalidUpdateID)
	_, err = chorus.UpdateWithID(ctx, eng, run.ID(), "a\x00b", updAdd, 1)
	require.ErrorIs(t, err, chorus.ErrInvalidUpdateID)
	big := workflow.NewUpdate[string, int]("add")
	_, err = chorus.Update(ctx, eng, run.ID(), big, strings.Repeat("x", 100))
	var lim *chorus.LimitError
	require.ErrorAs(t, err, &lim)
	require.Equal(t, "MaxPayloadBytes", lim.Limit)

	_, err = chorus.UpdateWithID(ctx, eng, run.ID(), "done-before", updAdd, 4)
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), updFinish, ""))
	_, err = run.Result(ctx)
	require.NoError(t, err)
	_, err = chorus.Update(ctx, eng, run.ID(), updAdd, 1)
	require.ErrorIs(t, err, chorus.ErrRunEnded)
	// An update the run finished before it ended still answers its ID.
	got, err := chorus.UpdateWithID(ctx, eng, run.ID(), "done-before", updAdd, 4)
	require.NoError(t, err)
	require.Equal(t, 4, got)

	b, err := chorus.Start(ctx, eng, blocker, 0, nil)
	require.NoError(t, err)
	require.ErrorIs(t, chorus.Signal(ctx, eng, b.ID(), boom, ""), chorus.ErrRunBlocked)
	_, err = b.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
	_, err = chorus.Update(ctx, eng, b.ID(), updAdd, 1)
	var be *chorus.BlockedError
	require.ErrorAs(t, err, &be)
}

func TestUpdateHandlerExecutesActivity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var calls atomic.Int32
	reserve := activity.New("upd-reserve", func(_ context.Context, sku string) (string, error) {
		calls.Add(1)
		return "reserved " + sku, nil
	})
	u := workflow.NewUpdate[string, string]("reserve")
	wf := workflow.New("upd-act", func(ctx workflow.Context, _ int) ([]string, error) {
		var done []string
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, sku string) (string, error) {
			if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
				return "", err
			}
			r, err := workflow.ExecuteActivity(ctx, reserve, sku).Get(ctx)
			if err != nil {
				return "", err
			}
			done = append(done, r)
			return r, nil
		}, nil)
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return done, nil
	})
	eng, _ := setup(t, nil, wf, reserve)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	got, err := chorus.UpdateWithID(ctx, eng, run.ID(), "r1", u, "apple")
	require.NoError(t, err)
	require.Equal(t, "reserved apple", got)
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), updFinish, ""))
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"reserved apple"}, out)
	require.EqualValues(t, 1, calls.Load())

	h, err := chorus.History(ctx, eng, run.ID())
	require.NoError(t, err)
	require.NoError(t, replay.Run(ctx, h, wf))
}

func TestUpdateSameIDRunsHandlerOnce(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := counterWorkflow()
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	for range 3 {
		got, err := chorus.UpdateWithID(ctx, eng, run.ID(), "pay-1", updAdd, 7)
		require.NoError(t, err)
		require.Equal(t, 7, got, "the recorded result, not a second addition")
	}
	n := 0
	for _, ev := range historyOf(t, eng, run.ID()) {
		if ev.Type == history.EventUpdateAccepted {
			n++
		}
	}
	require.Equal(t, 1, n)
	_, err = chorus.UpdateWithID(ctx, eng, run.ID(), "pay-1", workflow.NewUpdate[int, int]("other"), 7)
	require.ErrorIs(t, err, chorus.ErrUpdateIDReused)
	got, err := chorus.Update(ctx, eng, run.ID(), updAdd, 1)
	require.NoError(t, err)
	require.Equal(t, 8, got)
}

// TestUpdateRacingSignal sends a signal and an update at the same time:
// both are applied, in the order of the journal, and a replay (after the
// engine is reopened) rebuilds the same state.
func TestUpdateRacingSignal(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := counterWorkflow()
	path := filepath.Join(t.TempDir(), "chorus.db")
	eng, err := chorus.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, eng.Register(wf))
	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "race"})
	require.NoError(t, err)
	const rounds = 10
	for i := range rounds {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := chorus.Update(ctx, eng, run.ID(), updAdd, i)
			require.NoError(t, err)
		}()
		go func() {
			defer wg.Done()
			require.NoError(t, chorus.Signal(ctx, eng, run.ID(), updNote, fmt.Sprint(i)))
		}()
		wg.Wait()
	}
	log, err := chorus.Query(ctx, eng, run.ID(), updLog, struct{}{})
	require.NoError(t, err)
	require.Len(t, log, 2*rounds)
	var journal []string
	for _, ev := range historyOf(t, eng, run.ID()) {
		switch ev.Type {
		case history.EventUpdateAccepted:
			journal = append(journal, "update "+string(ev.Payload))
		case history.EventSignalReceived:
			journal = append(journal, "signal "+strings.Trim(string(ev.Payload), `"`))
		}
	}
	require.Equal(t, journal, log, "the code saw signals and updates in journal order")
	require.NoError(t, eng.Close(ctx))

	eng = openEngine(t, path, nil, wf)
	replayed, err := chorus.Query(ctx, eng, run.ID(), updLog, struct{}{})
	require.NoError(t, err)
	require.Equal(t, log, replayed, "replay applies them in the same order")
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), updFinish, ""))
	r2, err := chorus.Lookup(ctx, eng, wf, run.ID())
	require.NoError(t, err)
	total, err := r2.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, rounds*(rounds-1)/2, total)
}

// TestUpdateUnfinishedWhenRunEnds: a workflow that returns while an update
// handler still waits ends anyway; the update's caller is told.
func TestUpdateUnfinishedWhenRunEnds(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	u := workflow.NewUpdate[int, int]("slow")
	wf := workflow.New("upd-abandon", func(ctx workflow.Context, _ int) (int, error) {
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, n int) (int, error) {
			return n, workflow.Sleep(ctx, time.Hour)
		}, nil)
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		return 1, nil
	})
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	h, err := chorus.StartUpdate(ctx, eng, run.ID(), "slow-1", u, 3)
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), updFinish, ""))
	_, err = h.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrUpdateUnfinished)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, out)
	// Asking again after the run ended says the same.
	_, err = chorus.UpdateWithID(ctx, eng, run.ID(), "slow-1", u, 3)
	require.ErrorIs(t, err, chorus.ErrUpdateUnfinished)
}

// TestUpdateFailedHandler: the handler's error reaches the caller as an
// *UpdateError and is journaled; asking again returns it without running
// the handler again.
func TestUpdateFailedHandler(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	u := workflow.NewUpdate[int, int]("fail")
	var runs int
	wf := workflow.New("upd-fail", func(ctx workflow.Context, _ int) (int, error) {
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, n int) (int, error) {
			if !workflow.IsReplaying(ctx) {
				runs++
			}
			return 0, activity.NewError("out-of-stock", "only %d left", n)
		}, nil)
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		return 0, nil
	})
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	for range 2 {
		_, err = chorus.UpdateWithID(ctx, eng, run.ID(), "f1", u, 2)
		var ue *chorus.UpdateError
		require.ErrorAs(t, err, &ue)
		require.Equal(t, "out-of-stock", ue.Type)
		var ae *activity.Error
		require.ErrorAs(t, err, &ae)
		require.Contains(t, ae.Message, "only 2 left")
	}
	require.Equal(t, 1, runs)
}

// TestUpdateHistoryLimitKeepsRoomForOutcome: an update is refused, with
// nothing written, when its acceptance and the outcome its handler owes
// would not both fit under MaxHistoryEvents.
func TestUpdateHistoryLimitKeepsRoomForOutcome(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := counterWorkflow()
	eng, _ := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxHistoryEvents: 4}}, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	got, err := chorus.Update(ctx, eng, run.ID(), updAdd, 1)
	require.NoError(t, err)
	require.Equal(t, 1, got)
	before := historyOf(t, eng, run.ID())
	require.Len(t, before, 3)
	// A fourth event would fit, but not the fifth the handler owes.
	_, err = chorus.Update(ctx, eng, run.ID(), updAdd, 2)
	var lim *chorus.LimitError
	require.ErrorAs(t, err, &lim)
	require.Equal(t, "MaxHistoryEvents", lim.Limit)
	require.Equal(t, before, historyOf(t, eng, run.ID()))
}

// TestUpdateUnfinishedAtContinueAsNew: update IDs belong to a generation; a
// handler still running when the run continues as new never finishes.
func TestUpdateUnfinishedAtContinueAsNew(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	u := workflow.NewUpdate[int, int]("slow")
	wf := workflow.New("upd-can", func(ctx workflow.Context, gen int) (int, error) {
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, n int) (int, error) {
			return n + gen, workflow.Sleep(ctx, time.Hour)
		}, nil)
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		if gen == 0 {
			return 0, workflow.ContinueAsNewWith(ctx, 1)
		}
		return gen, nil
	})
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	h, err := chorus.StartUpdate(ctx, eng, run.ID(), "u", u, 3)
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), updFinish, ""))
	_, err = h.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrUpdateUnfinished)
	require.ErrorContains(t, err, "continued as new")
}

// TestUpdateInRoundOfHandlerRegistration: an update that arrives with the
// signal that makes the code register its handler is accepted, since the
// inputs of a round apply in order.
func TestUpdateInRoundOfHandlerRegistration(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	u := workflow.NewUpdate[int, int]("late")
	open := workflow.NewSignal[int]("open")
	wf := workflow.New("upd-late", func(ctx workflow.Context, _ int) (int, error) {
		base, _ := workflow.GetSignalChannel(ctx, open).Receive(ctx)
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, n int) (int, error) { return base + n, nil }, nil)
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		return 0, nil
	})
	eng, _ := setup(t, nil, wf)
	run, err := chorus.SignalWithStart(ctx, eng, wf, 0, &chorus.StartOptions{ID: "upd-late"}, open, 100)
	require.NoError(t, err)
	got, err := chorus.Update(ctx, eng, run.ID(), u, 1)
	require.NoError(t, err)
	require.Equal(t, 101, got)

	r2, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	_, err = chorus.Update(ctx, eng, r2.ID(), u, 1)
	require.ErrorIs(t, err, chorus.ErrUnknownUpdate, "before the code registered the handler")
}

// TestUpdateResultOverPayloadLimit: a handler result over MaxPayloadBytes
// cannot be kept; the update fails, saying why, and the run goes on.
func TestUpdateResultOverPayloadLimit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	u := workflow.NewUpdate[int, string]("big")
	wf := workflow.New("upd-big", func(ctx workflow.Context, _ int) (int, error) {
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, n int) (string, error) {
			return strings.Repeat("x", n), nil
		}, nil)
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		return 7, nil
	})
	eng, _ := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxPayloadBytes: 64}}, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	_, err = chorus.Update(ctx, eng, run.ID(), u, 100)
	var ue *chorus.UpdateError
	require.ErrorAs(t, err, &ue)
	require.ErrorIs(t, err, chorus.ErrLimitExceeded)
	got, err := chorus.Update(ctx, eng, run.ID(), u, 3)
	require.NoError(t, err)
	require.Equal(t, "xxx", got)
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), updFinish, ""))
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, out)
}

// TestUpdateReplayWithoutHandlerDiverges: code that no longer handles an
// update the journal accepted does not replay the run.
func TestUpdateReplayWithoutHandlerDiverges(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := counterWorkflow()
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	_, err = chorus.UpdateWithID(ctx, eng, run.ID(), "u1", updAdd, 1)
	require.NoError(t, err)
	h, err := chorus.History(ctx, eng, run.ID())
	require.NoError(t, err)
	changed := workflow.New("upd-counter", func(ctx workflow.Context, start int) (int, error) {
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		return start, nil
	})
	err = replay.Run(ctx, h, changed)
	var nd *chorus.NonDeterminismError
	require.ErrorAs(t, err, &nd)
	require.Contains(t, err.Error(), `UpdateAccepted "add" (update ID "u1")`)
	require.Contains(t, err.Error(), "has no handler for it")
}

// TestUpdateHandleResultAfterGivingUp: a caller whose context ended while
// the handler ran asks again through the same handle and gets the outcome.
func TestUpdateHandleResultAfterGivingUp(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	u := workflow.NewUpdate[int, int]("gated")
	gate := workflow.NewSignal[int]("gate")
	wf := workflow.New("upd-gated", func(ctx workflow.Context, _ int) (int, error) {
		workflow.SetUpdateHandler(ctx, u, func(ctx workflow.Context, n int) (int, error) {
			g, _ := workflow.GetSignalChannel(ctx, gate).Receive(ctx)
			return n + g, nil
		}, nil)
		workflow.GetSignalChannel(ctx, updFinish).Receive(ctx)
		return 0, nil
	})
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	h, err := chorus.StartUpdate(ctx, eng, run.ID(), "g1", u, 1)
	require.NoError(t, err)
	short, cancel := context.WithCancel(ctx)
	cancel()
	_, err = h.Result(short)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, chorus.Signal(ctx, eng, run.ID(), gate, 10))
	got, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 11, got)
}
