package chorus_test

// Concurrency: many goroutines share one engine and hammer Start,
// SignalWithStart, Signal, Query, Cancel, Terminate, Describe and Lookup on
// a few overlapping run IDs, with a cache of two runs so that runs are
// evicted and rebuilt by replay all the time. Run it with -race:
//
//	go test -race -run TestReliabilityHammer -v .
//
// Every call must return nil or one of the errors its documentation names;
// at the end every run is made to end, and each journal must agree with
// what the callers were told: every acknowledged signal recorded once and
// nothing else, a cancellation recorded once if (and only if) one was
// acknowledged, a termination likewise, and a status that matches.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/workflow"
)

var (
	hammerOps  = flag.Int("hammer.ops", 250, "TestReliabilityHammer: calls per goroutine")
	hammerSeed = flag.Uint64("hammer.seed", 7, "TestReliabilityHammer: seed of the calls each goroutine makes")
)

// hammerTarget is how many signals end a run.
const hammerTarget = 40

type hammerStats struct {
	signals, cancels, terminates atomic.Int64
}

func TestReliabilityHammer(t *testing.T) {
	t.Parallel()
	// 4,000 calls under the race detector on a loaded CI machine can take
	// longer than the 20 s other tests get; a hang still fails.
	ctx, cancelCtx := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelCtx()
	sig := workflow.NewSignal[int]("hammer-sig")
	count := workflow.NewQuery[struct{}, int]("hammer-count")
	tick := activity.New("hammer-tick", func(ctx context.Context, n int) (int, error) { return n, nil })
	wf := workflow.New("hammer", func(ctx workflow.Context, target int) (int, error) {
		n, sum := 0, 0
		workflow.SetQueryHandler(ctx, count, func(struct{}) (int, error) { return n, nil })
		ch := workflow.GetSignalChannel(ctx, sig)
		for n < target {
			canceled := false
			workflow.NewSelector(ctx).
				AddReceive(ch, func() { v, _ := ch.ReceiveAsync(); n++; sum += v }).
				AddReceive(ctx.Done(), func() { canceled = true }).
				Select(ctx)
			if canceled {
				return sum, ctx.Err()
			}
			if n%8 == 0 {
				if _, err := workflow.ExecuteActivity(ctx, tick, n).Get(ctx); err != nil {
					return sum, err
				}
			}
		}
		return sum, nil
	})
	path := t.TempDir() + "/hammer.db"
	eng := openEngine(t, path, &chorus.Options{CacheSize: 2, Synchronous: sqlite.SynchronousNormal}, wf, tick)

	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("h-%d", i)
	}
	stats := map[string]*hammerStats{}
	for _, id := range ids {
		stats[id] = &hammerStats{}
	}
	var (
		mu       sync.Mutex
		problems []string
		calls    = map[string]int{}
	)
	report := func(op, id string, err error, allowed ...error) {
		mu.Lock()
		defer mu.Unlock()
		calls[op]++
		if err == nil || slices.ContainsFunc(allowed, func(a error) bool { return errors.Is(err, a) }) {
			return
		}
		problems = append(problems, fmt.Sprintf("%s %s: %T %v", op, id, err, err))
	}
	maxSeen := map[string]int{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(*hammerSeed, uint64(g)))
			for range *hammerOps {
				id := ids[rng.IntN(len(ids))]
				st := stats[id]
				switch op := rng.IntN(100); {
				case op < 10:
					_, err := chorus.Start(ctx, eng, wf, hammerTarget, &chorus.StartOptions{ID: id})
					report("Start", id, err, chorus.ErrRunExists)
				case op < 15:
					_, err := chorus.Start(ctx, eng, wf, hammerTarget, &chorus.StartOptions{ID: id, IfExists: chorus.AttachIfExists})
					report("Start/attach", id, err)
				case op < 25:
					// One run per ID: the checks below count one run's events.
					_, err := chorus.SignalWithStart(ctx, eng, wf, hammerTarget, &chorus.StartOptions{ID: id, IDReusePolicy: chorus.IDReuseRejectDuplicate}, sig, 1)
					if err == nil {
						st.signals.Add(1)
					}
					report("SignalWithStart", id, err, chorus.ErrRunEnded)
				case op < 55:
					err := chorus.Signal(ctx, eng, id, sig, 1)
					if err == nil {
						st.signals.Add(1)
					}
					report("Signal", id, err, chorus.ErrRunNotFound, chorus.ErrRunEnded)
				case op < 73:
					n, err := chorus.Query(ctx, eng, id, count, struct{}{})
					if err == nil {
						mu.Lock()
						maxSeen[id] = max(maxSeen[id], n)
						mu.Unlock()
					}
					report("Query", id, err, chorus.ErrRunNotFound)
				case op < 74:
					err := eng.Cancel(ctx, id)
					if err == nil {
						st.cancels.Add(1)
					}
					report("Cancel", id, err, chorus.ErrRunNotFound, chorus.ErrRunEnded)
				case op < 75 && rng.IntN(3) == 0:
					err := eng.Terminate(ctx, id, "hammer")
					if err == nil {
						st.terminates.Add(1)
					}
					report("Terminate", id, err, chorus.ErrRunNotFound, chorus.ErrRunEnded)
				case op < 90:
					info, err := eng.Describe(ctx, id)
					if err == nil && !info.Status.Valid() {
						err = fmt.Errorf("status %v", info.Status)
					}
					report("Describe", id, err, chorus.ErrRunNotFound)
				default:
					_, err := chorus.Lookup(ctx, eng, wf, id)
					report("Lookup", id, err, chorus.ErrRunNotFound)
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, problems, "calls that returned errors their documentation does not name")

	// Make every run end: start the missing ones, cancel the others.
	for _, id := range ids {
		_, err := chorus.Start(ctx, eng, wf, hammerTarget, &chorus.StartOptions{ID: id, IfExists: chorus.AttachIfExists})
		require.NoError(t, err)
		if err := eng.Cancel(ctx, id); err == nil {
			stats[id].cancels.Add(1)
		} else {
			require.ErrorIs(t, err, chorus.ErrRunEnded)
		}
		run, err := chorus.Lookup(ctx, eng, wf, id)
		require.NoError(t, err)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = run.Result(rctx)
		cancel()
		var we *chorus.WorkflowError
		if err != nil {
			require.ErrorAs(t, err, &we, "run %s", id)
		}
	}
	closeEngine(t, eng)

	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.IntegrityCheck(ctx))
	var summary []string
	for _, id := range ids {
		info, err := st.Run(ctx, id)
		require.NoError(t, err)
		evs, err := st.Events(ctx, id, 0)
		require.NoError(t, err)
		var received, cancelReq, terminated int
		for _, ev := range evs {
			switch ev.Type {
			case history.EventSignalReceived:
				received++
			case history.EventCancelRequested:
				cancelReq++
			case history.EventRunTerminated:
				terminated++
			}
		}
		s := stats[id]
		require.EqualValues(t, s.signals.Load(), received, "run %s: acknowledged signals vs SignalReceived events", id)
		require.Equal(t, min(s.cancels.Load(), 1), int64(cancelReq), "run %s: acknowledged cancellations vs CancelRequested events", id)
		require.Equal(t, min(s.terminates.Load(), 1), int64(terminated), "run %s: acknowledged terminations vs RunTerminated events", id)
		require.LessOrEqual(t, maxSeen[id], received, "run %s: a query saw more signals than were recorded", id)
		switch {
		case terminated > 0:
			require.Equal(t, history.StatusTerminated, info.Status, id)
		case info.Status == history.StatusCompleted:
			require.GreaterOrEqual(t, received, hammerTarget, id)
			require.JSONEq(t, fmt.Sprint(hammerTarget), string(info.Result), id)
		default:
			// Canceled, possibly after the last signal arrived while the
			// code still waited for an activity.
			require.Equal(t, history.StatusCanceled, info.Status, id)
			require.Equal(t, 1, cancelReq, id)
		}
		require.True(t, evs[len(evs)-1].Type.IsTerminal(), "run %s ends with %v", id, evs[len(evs)-1])
		summary = append(summary, fmt.Sprintf("%s %v (%d signals)", id, info.Status, received))
	}
	var ops []string
	for op, n := range calls {
		ops = append(ops, fmt.Sprintf("%s=%d", op, n))
	}
	slices.Sort(ops)
	t.Logf("calls: %s; runs: %s", strings.Join(ops, " "), strings.Join(summary, ", "))
}

// attachStore holds the first read of run "t" until both Starts sent
// meanwhile wait in the run's inbox, so that they reach it together; and it holds
// the commit that creates "t" until someone has read "t" as not found (or
// a second passes).
type attachStore struct {
	history.Store
	reads      atomic.Int32
	reading    chan struct{} // closed when the first read of "t" begins
	queued     func() int    // inputs waiting in the inbox of "t"
	creating   atomic.Bool
	notFound   chan struct{}
	notFoundMu sync.Once
}

func (s *attachStore) Run(ctx context.Context, id string) (history.RunInfo, error) {
	if id == "t" && s.reads.Add(1) == 1 {
		close(s.reading)
		for deadline := time.Now().Add(time.Second); s.queued() < 2 && time.Now().Before(deadline); {
			runtime.Gosched() // until both Starts were delivered
		}
	}
	info, err := s.Store.Run(ctx, id)
	if id == "t" && s.creating.Load() && errors.Is(err, history.ErrRunNotFound) {
		s.notFoundMu.Do(func() { close(s.notFound) })
	}
	return info, err
}

func (s *attachStore) Commit(ctx context.Context, batches []*history.Batch) ([]error, error) {
	for _, b := range batches {
		if b.RunID == "t" && b.Create != nil {
			s.creating.Store(true)
			select {
			case <-s.notFound:
			case <-time.After(time.Second):
			}
		}
	}
	return s.Store.Commit(ctx, batches)
}

// TestReliabilityReproAttachBeforeCommit reproduces B6 (RELIABILITY.md),
// fixed in ee4656e: TestReliabilityHammer saw Start with AttachIfExists
// fail with ErrRunNotFound (4 seeds in 40 under -race). Two Starts of one
// new ID that reach the run's inbox in the same drain: the first creates
// the run, and the second was answered ErrRunExists at once (handleOne:
// r.round.create), before the round that creates the run was committed;
// chorus.Start then called Lookup, which read the store and did not find
// the run. Expected: the second Start gets a handle (or, with
// FailIfExists, ErrRunExists only once the run is durable). Here a slow read lets two Starts with AttachIfExists queue
// behind a Signal, and the store holds the creating commit until the run
// was read as missing: the second Start fails with ErrRunNotFound.
func TestReliabilityReproAttachBeforeCommit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("attach-wf", func(ctx workflow.Context, s string) (string, error) {
		workflow.GetSignalChannel(ctx, workflow.NewSignal[string]("go")).Receive(ctx)
		return s, nil
	})
	inner, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	st := &attachStore{Store: keepOpen{inner}, reading: make(chan struct{}), notFound: make(chan struct{})}
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: []chorus.Definition{wf}})
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	st.queued = func() int { return hook.Core(eng).Queued("t") }

	sigErr := make(chan error, 1)
	go func() { sigErr <- chorus.Signal(ctx, eng, "t", workflow.NewSignal[string]("go"), "early") }()
	<-st.reading // the Signal's drain reads "t"; the Starts queue behind it
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: "t", IfExists: chorus.AttachIfExists})
		})
	}
	wg.Wait()
	require.ErrorIs(t, <-sigErr, chorus.ErrRunNotFound)
	require.NoError(t, errors.Join(errs...), "two Starts with AttachIfExists of one new run: one creates it, the other attaches")
}

// TestReliabilityHammerClose closes the engine while 8 goroutines hammer
// it (Start, Signal, Query, Cancel, Describe on shared IDs). Every call
// returns nil, a documented error, or ErrEngineClosed (ErrStoreClosed from
// the calls that read the store directly); Close returns nil;
// after a reopen every journal holds exactly the signals and
// cancellations that were acknowledged (none that a caller was told
// failed), and the file passes its integrity check.
func TestReliabilityHammerClose(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	sig := workflow.NewSignal[int]("hc-sig")
	count := workflow.NewQuery[struct{}, int]("hc-count")
	wf := workflow.New("hc", func(ctx workflow.Context, target int) (int, error) {
		n := 0
		workflow.SetQueryHandler(ctx, count, func(struct{}) (int, error) { return n, nil })
		ch := workflow.GetSignalChannel(ctx, sig)
		for n < target {
			canceled := false
			workflow.NewSelector(ctx).
				AddReceive(ch, func() { ch.ReceiveAsync(); n++ }).
				AddReceive(ctx.Done(), func() { canceled = true }).
				Select(ctx)
			if canceled {
				return n, ctx.Err()
			}
		}
		return n, nil
	})
	path := filepath.Join(t.TempDir(), "hc.db")
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: []chorus.Definition{wf}, CacheSize: 2, Synchronous: sqlite.SynchronousNormal})
	require.NoError(t, err)
	ids := []string{"hc-0", "hc-1", "hc-2", "hc-3"}
	var signals, cancels [4]atomic.Int64
	var calls atomic.Int64
	halfway := make(chan struct{})
	var halfOnce sync.Once
	var mu sync.Mutex
	var problems []string
	check := func(op string, err error, allowed ...error) {
		if n := calls.Add(1); n == 600 {
			halfOnce.Do(func() { close(halfway) })
		}
		// Calls that read the store directly (Describe, Lookup, and Start
		// with AttachIfExists, which looks the run up) report a closed
		// engine as history.ErrStoreClosed rather than ErrEngineClosed: F6.
		if err == nil || errors.Is(err, chorus.ErrEngineClosed) || errors.Is(err, history.ErrStoreClosed) ||
			slices.ContainsFunc(allowed, func(a error) bool { return errors.Is(err, a) }) {
			return
		}
		mu.Lock()
		problems = append(problems, fmt.Sprintf("%s: %T %v", op, err, err))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			closedSeen := 0
			for closedSeen < 20 {
				i := rng.IntN(len(ids))
				id := ids[i]
				var err error
				switch op := rng.IntN(10); {
				case op < 2:
					_, err = chorus.Start(ctx, eng, wf, 1000, &chorus.StartOptions{ID: id, IfExists: chorus.AttachIfExists})
					check("Start", err)
				case op < 6:
					err = chorus.Signal(ctx, eng, id, sig, 1)
					if err == nil {
						signals[i].Add(1)
					}
					check("Signal", err, chorus.ErrRunNotFound, chorus.ErrRunEnded)
				case op < 8:
					_, err = chorus.Query(ctx, eng, id, count, struct{}{})
					check("Query", err, chorus.ErrRunNotFound)
				case op < 9 && rng.IntN(20) == 0:
					err = eng.Cancel(ctx, id)
					if err == nil {
						cancels[i].Add(1)
					}
					check("Cancel", err, chorus.ErrRunNotFound, chorus.ErrRunEnded)
				default:
					_, err = eng.Describe(ctx, id)
					check("Describe", err, chorus.ErrRunNotFound)
				}
				if errors.Is(err, chorus.ErrEngineClosed) || errors.Is(err, history.ErrStoreClosed) {
					closedSeen++
				}
			}
		})
	}
	select {
	case <-halfway:
	case <-ctx.Done():
		t.Fatal("the hammer never got halfway")
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	require.NoError(t, eng.Close(cctx))
	cancel()
	wg.Wait()
	require.Empty(t, problems)

	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.IntegrityCheck(ctx))
	for i, id := range ids {
		evs, err := st.Events(ctx, id, 0)
		if errors.Is(err, history.ErrRunNotFound) {
			require.Zero(t, signals[i].Load(), id)
			continue
		}
		require.NoError(t, err)
		var received, cancelReq int64
		for _, ev := range evs {
			switch ev.Type {
			case history.EventSignalReceived:
				received++
			case history.EventCancelRequested:
				cancelReq++
			}
		}
		require.Equal(t, signals[i].Load(), received, "run %s: acknowledged signals vs SignalReceived events", id)
		require.Equal(t, min(cancels[i].Load(), 1), cancelReq, "run %s: acknowledged cancellations", id)
	}
	t.Logf("%d calls, Close in the middle", calls.Load())
}
