package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/internal/torture"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// fzState is the query every fuzz workflow answers.
var fzState = workflow.NewQuery[struct{}, string]("fz-state")

// fuzzDefs returns the workflows whose journals the fuzzer mutates: the
// torture workload (activities, a timer, a signal, a saga, a child, a
// signal to itself) and a workflow that uses every other command.
func fuzzDefs() ([]chorus.Definition, *workflow.Definition[int, string], *torture.Workload) {
	w := torture.New(torture.Hooks{})
	double := activity.New("fz-double", func(ctx context.Context, n int) (int, error) { return 2 * n, nil })
	fails := activity.New("fz-fails", func(ctx context.Context, n int) (int, error) {
		return 0, activity.NonRetryable(activity.NewError("nope", "fails for %d", n))
	})
	var mixed *workflow.Definition[int, string]
	mixed = workflow.New("fz-mixed", func(ctx workflow.Context, gen int) (string, error) {
		state := "begin"
		workflow.SetQueryHandler(ctx, fzState, func(struct{}) (string, error) { return state, nil })
		v := workflow.GetVersion(ctx, "fz-change", workflow.DefaultVersion, 2)
		id := workflow.NewUUID(ctx)
		r := workflow.NewRandom(ctx).IntN(1000)
		se := workflow.SideEffect(ctx, func() int { return 7 })
		workflow.RecordMarker(ctx, "fz-marker", map[string]int{"gen": gen})
		results := workflow.NewBufferedChannel[int](ctx, 3)
		wg := workflow.NewWaitGroup(ctx)
		for i := range 3 {
			wg.Add(1)
			workflow.Go(ctx, func(ctx workflow.Context) {
				defer wg.Done()
				n, err := workflow.ExecuteActivity(ctx, double, i+gen).Get(ctx)
				if err == nil {
					results.Send(ctx, n)
				}
			})
		}
		wg.Wait(ctx)
		sum := 0
		for range 3 {
			n, _ := results.Receive(ctx)
			sum += n
		}
		state = "fanned out"
		_, ferr := workflow.ExecuteActivity(ctx, fails, sum).Get(ctx)
		got := ""
		workflow.NewSelector(ctx).
			AddReceive(workflow.GetSignalChannel(ctx, w.Go), func() {
				got, _ = workflow.GetSignalChannel(ctx, w.Go).ReceiveAsync()
			}).
			AddFuture(workflow.NewTimer(ctx, time.Hour), func() { got = "timeout" }).
			Select(ctx)
		state = "signaled " + got
		if gen == 0 {
			return "", workflow.ContinueAsNew(ctx, mixed, gen+1)
		}
		return fmt.Sprintf("v%d %s %d %d %d %v %s", v, id, r, se, sum, ferr != nil, got), nil
	})
	defs := append(w.Definitions(), double, fails, mixed)
	return defs, mixed, w
}

// journal is a run's events, as recorded by a real engine.
type journal struct {
	id     string
	events []history.Event
}

var (
	baseOnce     sync.Once
	baseJournals []journal
	baseErr      error
)

// baseJournalsFor runs every fuzz workflow on a real engine (mock clock)
// and keeps the journals, finished and at intermediate points.
func baseJournalsFor() ([]journal, error) {
	baseOnce.Do(func() { baseJournals, baseErr = recordJournals() })
	return baseJournals, baseErr
}

func recordJournals() ([]journal, error) {
	// Seconds on a quiet machine; the bound is for a hang, and CI runs it
	// under the race detector beside other test binaries (30 s was once
	// not enough there).
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, ":memory:", nil)
	if err != nil {
		return nil, err
	}
	defs, mixed, w := fuzzDefs()
	mock := clock.NewMock()
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: defs, Clock: mock})
	if err != nil {
		return nil, errors.Join(err, st.Close())
	}
	defer func() { _ = eng.Close(context.Background()) }()
	var journals []journal
	snap := func(id string) error {
		evs, err := st.Events(ctx, id, 0)
		if err != nil {
			return err
		}
		journals = append(journals, journal{id, evs})
		return nil
	}
	for i, k := range torture.Kinds {
		id := torture.RunID(i)
		run, err := w.Start(ctx, eng, id)
		if err != nil {
			return nil, err
		}
		switch k {
		case torture.KindTimer:
			// Wait for the timer, then fire it.
			for {
				info, err := st.Run(ctx, id)
				if err != nil {
					return nil, err
				}
				if info.LastSeq >= 4 {
					break
				}
				mock.Add(time.Millisecond)
			}
			if err := snap(id); err != nil {
				return nil, err
			}
			mock.Add(torture.TimerDelay)
		case torture.KindSignal:
			if err := snap(id); err != nil {
				return nil, err
			}
			if err := chorus.Signal(ctx, eng, id, w.Go, torture.SignalValue(id)); err != nil {
				return nil, err
			}
		}
		if _, err := run.Result(ctx); err != nil && k != torture.KindSaga {
			return nil, fmt.Errorf("run %s: %w", id, err)
		}
		if err := snap(id); err != nil {
			return nil, err
		}
		if k == torture.KindChild {
			if err := snap(id + "/2"); err != nil {
				return nil, err
			}
		}
	}
	run, err := chorus.Start(ctx, eng, mixed, 0, &chorus.StartOptions{ID: "mixed"})
	if err != nil {
		return nil, err
	}
	for gen := range 2 {
		// Each generation waits in its selector: signal it.
		for {
			ans, err := chorus.Query(ctx, eng, "mixed", fzState, struct{}{})
			if err != nil {
				return nil, err
			}
			if ans == "fanned out" {
				break
			}
			mock.Add(time.Millisecond)
		}
		if gen == 1 {
			if err := snap("mixed"); err != nil {
				return nil, err
			}
		}
		if err := chorus.Signal(ctx, eng, "mixed", w.Go, fmt.Sprint("go", gen)); err != nil {
			return nil, err
		}
	}
	if _, err := run.Result(ctx); err != nil {
		return nil, err
	}
	if err := snap("mixed"); err != nil {
		return nil, err
	}
	return journals, nil
}

// fuzzNames and fuzzPayloads are what mutations put in events.
var (
	fuzzNames = []string{"", torture.ActA, torture.ActB, torture.ActReserve, torture.ActRelease, "torture-acts",
		"fz-double", "fz-fails", "fz-mixed", "fz-change", "torture-go", "SideEffect", "UUID", "Random",
		saga.MarkerStart, "unknown-activity", "unknown-workflow", strings.Repeat("n", 300),
		"torture-ping\x00ping-000005/2", "torture-ping\x00", "\x00key"}
	fuzzPayloads = [][]byte{nil, []byte(`null`), []byte(`"x"`), []byte(`{}`), []byte(`[]`), []byte(`1`), []byte(`-1`),
		[]byte(`1e309`), []byte(`99999999999999999999`), []byte(`{"message":1}`), []byte(`{"fire_at":"x","duration":-1}`),
		[]byte(`{"id":"","workflow":"torture-acts"}`), []byte(`{"target":"nobody","signal":"s","value":"AA=="}`),
		[]byte{0xff, 0x00}, []byte(`3`), []byte(`{"type":"NonDeterminism","details":"e30="}`)}
)

// mutate applies the mutations ops encodes, three bytes each: what to do,
// which event, an argument. Seqs are renumbered 1, 2, 3... afterwards,
// since the store accepts nothing else.
func mutate(evs []history.Event, ops, payload []byte) []history.Event {
	evs = slices.Clone(evs)
	for len(ops) >= 3 && len(evs) > 0 {
		op, i, arg := ops[0], int(ops[1])%len(evs), ops[2]
		ops = ops[3:]
		switch op % 10 {
		case 0:
			evs = evs[:i]
		case 1:
			evs[i].Type = history.EventType(arg % 23)
		case 2:
			evs[i].Ref = int64(arg) - 8
		case 3:
			evs[i].Name = fuzzNames[int(arg)%len(fuzzNames)]
		case 4:
			if int(arg)%(len(fuzzPayloads)+1) == len(fuzzPayloads) {
				evs[i].Payload = payload
			} else {
				evs[i].Payload = fuzzPayloads[int(arg)%len(fuzzPayloads)]
			}
		case 5:
			evs = slices.Delete(evs, i, i+1)
		case 6:
			evs = slices.Insert(evs, i+1, evs[i])
		case 7:
			if i+1 < len(evs) {
				evs[i], evs[i+1] = evs[i+1], evs[i]
			}
		case 8:
			switch arg % 3 {
			case 0:
				evs[i].Time = time.Time{}
			case 1:
				evs[i].Time = time.Unix(0, math.MaxInt64-int64(arg))
			default:
				evs[i].Time = evs[i].Time.Add(-time.Duration(arg) * time.Hour)
			}
		case 9:
			evs[i].Payload = payload
		}
	}
	for i := range evs {
		evs[i].Seq = int64(i + 1)
	}
	return evs
}

// FuzzReplayJournal writes mutated journals (types, names, refs, payloads,
// times changed; events cut, deleted, repeated, swapped) straight into an
// in-memory store, bypassing every check an export would get, and hands
// them to the engine twice: ReplayRun (the dry replay behind CheckUpgrade
// and package replay) and a Query, which loads the run the way the engine
// does live and lets it go on running. Neither may panic or hang, and
// every error must be one the engine documents.
//
//	go test -run '^$' -fuzz '^FuzzReplayJournal$' -fuzztime 60s ./internal/engine
func FuzzReplayJournal(f *testing.F) {
	journals, err := baseJournalsFor()
	require.NoError(f, err)
	for i := range journals {
		f.Add(uint8(i), []byte{}, []byte(nil))
	}
	f.Add(uint8(0), []byte{0, 3, 0}, []byte(nil))                           // cut after an activity was scheduled
	f.Add(uint8(0), []byte{2, 2, 20}, []byte(nil))                          // an outcome answering the wrong step
	f.Add(uint8(1), []byte{4, 2, 0xff}, []byte(`"other"`))                  // an activity result of the wrong value
	f.Add(uint8(3), []byte{1, 1, uint8(history.EventTimerFired)}, []byte{}) // a command turned into an input
	f.Add(uint8(5), []byte{6, 2, 0}, []byte(nil))                           // a signal received twice
	f.Add(uint8(len(journals)-1), []byte{9, 9, 0}, []byte(`{"message":7}`)) // a bad payload in the mixed workflow
	f.Add(uint8(len(journals)-1), []byte{3, 1, 9, 5, 4, 0}, []byte(nil))    // a renamed version marker, a lost event
	f.Add(uint8(len(journals)-1), []byte{7, 6, 0, 8, 3, 1}, []byte(`"x"`))  // swapped events, a time at the end of time
	f.Add(uint8(7), []byte{4, 1, 0xff}, []byte(`{"id":"","workflow":"x"}`)) // a child's payload
	defs, _, _ := fuzzDefs()
	f.Fuzz(func(t *testing.T, which uint8, ops, payload []byte) {
		if len(ops) > 30 || len(payload) > 4096 {
			return
		}
		base := journals[int(which)%len(journals)]
		evs := mutate(base.events, ops, payload)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st, err := sqlite.Open(ctx, ":memory:", nil)
		require.NoError(t, err)
		workflowName := "torture-acts"
		if len(evs) > 0 {
			workflowName = evs[0].Name
		}
		b := &history.Batch{RunID: base.id, Time: time.Unix(1_700_000_000, 0), Events: evs,
			Create: &history.RunInfo{Workflow: workflowName, Status: history.StatusRunning}}
		for _, ev := range evs[min(1, len(evs)):] {
			if ev.Type == history.EventRunStarted {
				b.Status = &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: ev.Seq}
			}
		}
		errs, err := st.Commit(ctx, []*history.Batch{b})
		if err != nil || errs[0] != nil {
			_ = st.Close()
			return // the store refuses the journal: nothing to replay
		}
		eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: defs, Clock: clock.NewMock()})
		require.NoError(t, err)
		defer func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer ccancel()
			require.NoError(t, eng.Close(cctx), "Close")
		}()
		done := make(chan error, 1)
		go func() { done <- hook.Core(eng).ReplayRun(ctx, base.id) }()
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("ReplayRun hangs on %v", evs)
		}
		checkReplayError(t, err, evs)

		_, err = chorus.Query(ctx, eng, base.id, fzState, struct{}{})
		require.NoError(t, ctx.Err(), "Query hangs on %v", evs)
		switch {
		case err == nil, errors.Is(err, chorus.ErrUnknownQuery), errors.Is(err, chorus.ErrRunBlocked),
			errors.Is(err, history.ErrCorrupt), errors.Is(err, chorus.ErrPayload), errors.Is(err, chorus.ErrNotRegistered):
		default:
			t.Fatalf("Query: untyped error %T: %v\njournal: %v", err, err, evs)
		}
		_, err = eng.Describe(ctx, base.id)
		require.NoError(t, err)
	})
}

// checkReplayError fails t unless err is nil or one of the errors a replay
// documents.
func checkReplayError(t *testing.T, err error, evs []history.Event) {
	t.Helper()
	var (
		nde *engine.NonDeterminismError
		pe  *engine.PanicError
		pl  *engine.PayloadError
		nr  *engine.NotRegisteredError
		ve  *engine.VersionError
		le  *engine.LimitError
	)
	switch {
	case err == nil, errors.Is(err, history.ErrCorrupt):
	case errors.As(err, &nde):
		require.Positive(t, nde.Step)
		require.LessOrEqual(t, nde.Step, int64(len(evs))+1, "the step of %v", nde)
	case errors.As(err, &pe), errors.As(err, &pl), errors.As(err, &nr), errors.As(err, &ve), errors.As(err, &le):
	default:
		t.Fatalf("ReplayRun: untyped error %T: %v\njournal: %v", err, err, evs)
	}
}
