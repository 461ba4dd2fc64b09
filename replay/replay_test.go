package replay_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

func readGolden(t *testing.T, name string) *history.Export {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name+".json"))
	require.NoError(t, err)
	x, err := history.UnmarshalExport(b)
	require.NoError(t, err)
	return x
}

func writeHistory(t *testing.T, path string, x *history.Export) {
	t.Helper()
	b, err := x.Marshal()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// placeOrderChanged is the quickstart workflow with the card charged
// before the inventory is reserved.
var placeOrderChanged = workflow.New("place-order", func(ctx workflow.Context, o Order) (Confirmation, error) {
	rcpt, err := workflow.ExecuteActivity(ctx, Charge, o).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	rsv, err := workflow.ExecuteActivity(ctx, Reserve, o).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	shp, err := workflow.ExecuteActivity(ctx, Ship, o).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	return Confirmation{OrderID: o.ID, Reservation: rsv.ID, Charge: rcpt.ChargeID, Tracking: shp.Tracking}, nil
})

func TestRunReportsTheFirstDivergence(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	h := readGolden(t, "place-order")
	require.NoError(t, replay.Run(ctx, h, PlaceOrder))
	err := replay.Run(ctx, h, placeOrderChanged)
	var nde *chorus.NonDeterminismError
	require.ErrorAs(t, err, &nde)
	require.Equal(t, &chorus.NonDeterminismError{RunID: "order-42", Workflow: "place-order", Step: 2,
		Recorded: `ActivityScheduled "reserve-inventory"`, Issued: `issues ActivityScheduled "charge-card"`}, nde)
	require.Contains(t, err.Error(), `at step 2: the journal holds ActivityScheduled "reserve-inventory" but the code now issues ActivityScheduled "charge-card"`)

	// An in-flight history replays as far as it goes.
	inFlight := readGolden(t, "place-order-in-flight")
	require.Equal(t, history.StatusRunning, inFlight.Run.Status)
	require.NoError(t, replay.Run(ctx, inFlight, PlaceOrder))
	require.ErrorAs(t, replay.Run(ctx, inFlight, placeOrderChanged), &nde)
	require.EqualValues(t, 2, nde.Step)
}

func TestRunOtherFailures(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	h := readGolden(t, "place-order")

	err := replay.Run(ctx, h)
	var nr *chorus.NotRegisteredError
	require.ErrorAs(t, err, &nr, "no definitions")
	require.Equal(t, "place-order", nr.Name)

	var fe *history.FormatError
	require.ErrorAs(t, replay.Run(ctx, nil, PlaceOrder), &fe)
	bad := *h
	bad.Events = h.Events[1:]
	require.ErrorAs(t, replay.Run(ctx, &bad, PlaceOrder), &fe)
	require.ErrorIs(t, replay.Run(ctx, &bad, PlaceOrder), history.ErrCorrupt)
	long := *h
	long.Run.ID = strings.Repeat("x", chorus.MaxRunIDLength) + "é" // too long in bytes, though not in characters
	require.ErrorAs(t, replay.Run(ctx, &long, PlaceOrder), &fe)
	require.Equal(t, "run.id", fe.Field)

	panicky := workflow.New("place-order", func(ctx workflow.Context, o Order) (Confirmation, error) {
		panic("new code is broken")
	})
	var pe *chorus.PanicError
	require.ErrorAs(t, replay.Run(ctx, h, panicky), &pe)
	require.Equal(t, "new code is broken", pe.Value)

	// The recorded result of an activity no longer fits the code's type.
	retyped := workflow.New("place-order", func(ctx workflow.Context, o Order) (Confirmation, error) {
		n, err := workflow.ExecuteActivity(ctx, activity.New("reserve-inventory", func(context.Context, Order) (int, error) { return 0, nil }), o).Get(ctx)
		return Confirmation{OrderID: string(rune(n))}, err
	})
	var pl *chorus.PayloadError
	require.ErrorAs(t, replay.Run(ctx, h, retyped), &pl)
	require.ErrorIs(t, replay.Run(ctx, h, retyped), chorus.ErrPayload)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, replay.Run(canceled, h, PlaceOrder), context.Canceled)
}

// TestRunRunsNothing replays histories whose next step the code would take
// live (a blocked run, a run whose last activity just completed): replay
// must not take it, whatever the status.
func TestRunRunsNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var calls atomic.Int64
	count := func(name string) *activity.Definition[Order, Receipt] {
		return activity.New(name, func(context.Context, Order) (Receipt, error) {
			calls.Add(1)
			return Receipt{}, nil
		})
	}
	h := readGolden(t, "place-order")
	for _, status := range []history.RunStatus{history.StatusRunning, history.StatusBlocked, history.StatusCompleted} {
		x := *h
		x.Events = h.Events[:3] // reserve-inventory completed: charge-card is next
		x.Run.LastSeq, x.Run.Status, x.Run.Result = 0, status, nil
		require.NoError(t, replay.Run(ctx, &x, PlaceOrder, count("reserve-inventory"), count("charge-card"), count("ship-order")), status)
	}
	require.Zero(t, calls.Load(), "no activity ran")
}

func TestFileAndDir(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := t.TempDir()
	good, changed := readGolden(t, "place-order"), readGolden(t, "handle-claim-approved")
	writeHistory(t, filepath.Join(dir, "a-good.json"), good)
	writeHistory(t, filepath.Join(dir, "b-diverges.json"), changed)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "c-corrupt.json"), []byte(`{"format":"chorus-history","version":1,"run":{}}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a history"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.json"), 0o755))

	claimChanged := workflow.New("handle-claim", func(ctx workflow.Context, c Claim) (Outcome, error) {
		_, err := workflow.ExecuteActivity(ctx, Pay, Payout{Claim: c}).Get(ctx)
		return Outcome{}, err
	})
	defs := []chorus.Definition{PlaceOrder, claimChanged}

	require.NoError(t, replay.File(ctx, filepath.Join(dir, "a-good.json"), defs...))
	err := replay.File(ctx, filepath.Join(dir, "missing.json"), defs...)
	var fileErr *replay.FileError
	require.ErrorAs(t, err, &fileErr)
	require.ErrorIs(t, err, fs.ErrNotExist)

	err = replay.Dir(ctx, dir, defs...)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, filepath.Join(dir, "b-diverges.json")+": chorus: non-determinism in run \"claim-A\"")
	require.Contains(t, msg, filepath.Join(dir, "c-corrupt.json")+": history: invalid chorus-history document: run")
	require.NotContains(t, msg, "a-good")
	require.NotContains(t, msg, "notes")
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "Dir joins one error per failing file")
	require.Len(t, joined.Unwrap(), 2)
	var nde *chorus.NonDeterminismError
	require.ErrorAs(t, err, &nde)
	var fe *history.FormatError
	require.ErrorAs(t, err, &fe)
	require.ErrorAs(t, joined.Unwrap()[0], &fileErr)
	require.Equal(t, filepath.Join(dir, "b-diverges.json"), fileErr.Path)

	empty := t.TempDir()
	require.ErrorContains(t, replay.Dir(ctx, empty, defs...), "no history (*.json) in "+empty)
	require.ErrorIs(t, replay.Dir(ctx, filepath.Join(dir, "nope"), defs...), fs.ErrNotExist)
}

// xorCodec is a codec whose payloads are not JSON.
type xorCodec struct{}

func (xorCodec) Marshal(v any) ([]byte, error) {
	b, err := history.JSONCodec{}.Marshal(v)
	for i := range b {
		b[i] ^= 0x5a
	}
	return b, err
}

func (xorCodec) Unmarshal(data []byte, v any) error {
	b := append([]byte(nil), data...)
	for i := range b {
		b[i] ^= 0x5a
	}
	return history.JSONCodec{}.Unmarshal(b, v)
}

func TestReplayerCodec(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	st, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Codec: xorCodec{}, Definitions: []chorus.Definition{PlaceOrder, Reserve, Charge, Ship}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close(context.Background())) })
	run, err := chorus.Start(ctx, eng, PlaceOrder, Order{ID: "x-1"}, &chorus.StartOptions{ID: "x-1"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	h, err := chorus.History(ctx, eng, "x-1")
	require.NoError(t, err)
	b, err := h.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(b), `"payload_base64":`, "payloads that are not JSON are written as base64")
	h, err = history.UnmarshalExport(b)
	require.NoError(t, err)

	var pl *chorus.PayloadError
	require.ErrorAs(t, replay.Run(ctx, h, PlaceOrder), &pl, "the default codec cannot read these payloads")
	require.NoError(t, replay.Replayer{Codec: xorCodec{}}.Run(ctx, h, PlaceOrder))
}

func TestHistoryAndImportRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	for _, name := range []string{"subscription", "handle-claim-escalated", "place-order-in-flight"} {
		want := readGolden(t, name)
		st, err := sqlite.Open(ctx, ":memory:", nil)
		require.NoError(t, err)
		require.NoError(t, chorus.ImportHistory(ctx, st, want))
		require.ErrorIs(t, chorus.ImportHistory(ctx, st, want), chorus.ErrRunExists)
		eng, err := chorus.OpenStore(ctx, st, nil)
		require.NoError(t, err)
		got, err := chorus.History(ctx, eng, want.Run.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, name)
		info, err := eng.Describe(ctx, want.Run.ID)
		require.NoError(t, err)
		require.Equal(t, want.Run.Status, info.Status)
		require.True(t, want.Run.UpdatedAt.Equal(info.UpdatedAt))
		require.NoError(t, eng.Close(ctx))
	}

	st, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, st, nil)
	require.NoError(t, err)
	_, err = chorus.History(ctx, eng, "nobody")
	require.ErrorIs(t, err, chorus.ErrRunNotFound)
	require.NoError(t, eng.Close(ctx))
	require.Error(t, chorus.ImportHistory(ctx, nil, readGolden(t, "place-order")))
}

// TestHistoryOfAChild exports a child run, whose history names its
// parent, and replays it.
func TestHistoryOfAChild(t *testing.T) {
	t.Parallel()
	r, _ := recordFlowOn(t)
	h := r.export("flow-1/9")
	require.Equal(t, "child", h.Run.Workflow)
	require.Equal(t, "flow-1", h.Run.Parent)
	require.EqualValues(t, 9, h.Run.ParentStep)
	b, err := h.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(b), "\"parent\": \"flow-1\",\n    \"parent_step\": 9,")
	require.NoError(t, replay.Run(r.ctx, h, flowChild))
	var nde *chorus.NonDeterminismError
	require.ErrorAs(t, replay.Run(r.ctx, h, workflow.New("child", func(ctx workflow.Context, n int) (int, error) {
		return 0, workflow.Sleep(ctx, 1)
	})), &nde)
	require.Equal(t, "RunCompleted", nde.Recorded)
}

// TestRunVersionOutOfRange replays a history whose GetVersion marker
// records a version the code no longer supports. The engine refuses it with
// an error that is not typed (neither a NonDeterminismError nor a
// PayloadError): callers can only match its text.
func TestRunVersionOutOfRange(t *testing.T) {
	t.Parallel()
	h := readGolden(t, "run-batch")
	marker := h.Events[10]
	require.Equal(t, history.EventVersionMarker, marker.Type)
	require.Equal(t, "1", string(marker.Payload))
	h.Events[10].Payload = []byte("5")
	err := replay.Run(testContext(t), h, exampleDefs()...)
	require.EqualError(t, err, `chorus: run "batch-1" follows version 5 of change "publish-summary", but the code supports versions -1 to 1 only`)
	require.True(t, isVersionOutOfRange(err))
	var nde *chorus.NonDeterminismError
	require.False(t, errors.As(err, &nde))
}
