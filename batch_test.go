package chorus_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

// resetNotes returns the reset notes of a run's whole journal.
func resetNotes(t *testing.T, ctx context.Context, eng *chorus.Engine, id string) (notes []history.OperatorAction, starts int) {
	t.Helper()
	x, err := chorus.History(ctx, eng, id)
	require.NoError(t, err)
	for _, ev := range x.Events {
		switch {
		case ev.Type == history.EventRunStarted:
			starts++
		case ev.Type == history.EventOperatorAction && ev.Name == history.ActionReset:
			a, err := history.DecodeOperatorAction(ev.Payload)
			require.NoError(t, err)
			notes = append(notes, a)
		}
	}
	return notes, starts
}

func TestBatchResetDryRunRealAndAgain(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newResetFixture(t, "bt-reset")
	eng, _ := setup(t, nil, f.defs...)
	const n = 6
	for i := range n {
		run, err := chorus.Start(ctx, eng, f.wf, "x", &chorus.StartOptions{ID: fmt.Sprintf("bt-reset-%d", i)})
		require.NoError(t, err)
		_, err = run.Result(ctx)
		require.Error(t, err)
	}
	f.fixed.Store(true)
	opts := chorus.BatchOptions{
		ID:     "b-1",
		Action: chorus.BatchReset,
		Filter: chorus.ListOptions{Workflow: "bt-reset-wf", Statuses: []chorus.RunStatus{chorus.StatusFailed}},
		Reset:  chorus.ResetOptions{ToFirstFailure: true, Reason: "fixed"},
		DryRun: true,
	}
	dry, err := eng.Batch(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, n, dry.Would)
	require.Len(t, dry.Items, n)
	for _, it := range dry.Items {
		require.Equal(t, chorus.BatchWould, it.Outcome)
		require.NotNil(t, it.Reset)
		require.Positive(t, it.Reset.Step)
		notes, starts := resetNotes(t, ctx, eng, it.RunID)
		require.Empty(t, notes, "a dry run touches nothing")
		require.Equal(t, 1, starts)
	}
	require.Equal(t, 2*n, f.count("step3"), "a dry run runs nothing")

	opts.DryRun = false
	var progress []chorus.BatchProgress
	opts.Progress = func(p chorus.BatchProgress) { progress = append(progress, p) }
	res, err := eng.Batch(chorus.WithIdentity(ctx, "ops"), opts)
	require.NoError(t, err)
	require.Equal(t, n, res.Done)
	require.Len(t, progress, n)
	for i, p := range progress {
		require.Equal(t, i+1, p.Done)
		require.Equal(t, n, p.Total)
		require.Equal(t, chorus.BatchDone, p.Item.Outcome)
	}
	for i := range n {
		id := fmt.Sprintf("bt-reset-%d", i)
		require.NoError(t, testutil.AwaitStatus(ctx, eng, id, chorus.StatusCompleted))
		notes, starts := resetNotes(t, ctx, eng, id)
		require.Equal(t, []history.OperatorAction{{Action: "reset", Identity: "ops", Reason: "fixed", Step: notes[0].Step, From: 1, Batch: "b-1"}}, notes)
		require.Equal(t, 2, starts)
		checkReplays(t, ctx, eng, id, f.defs...)
	}
	require.Equal(t, n, f.count("step1"))
	require.Equal(t, n, f.count("step2"))

	// The same batch again: every run is passed over, even those the
	// filter still selects.
	opts.Filter.Statuses = nil
	again, err := eng.Batch(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, n, again.Skipped)
	require.Zero(t, again.Done)
	for _, it := range again.Items {
		require.True(t, it.Reset.AlreadyDone)
	}
	require.Equal(t, 3*n, f.count("step3"))
}

func TestBatchSignalCancelTerminate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	poke := workflow.NewSignal[string]("bt-sig-poke")
	wf := workflow.New("bt-sig-wf", func(ctx workflow.Context, in string) (int, error) {
		ch := workflow.GetSignalChannel(ctx, poke)
		n := 0
		for {
			if _, ok := ch.Receive(ctx); !ok {
				return n, ctx.Err()
			}
			n++
		}
	})
	eng, _ := setup(t, nil, wf)
	const n = 4
	for i := range n {
		_, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: fmt.Sprintf("bt-sig-%d", i)})
		require.NoError(t, err)
	}
	filter := chorus.ListOptions{Workflow: "bt-sig-wf"}
	for range 2 {
		res, err := eng.Batch(ctx, chorus.BatchOptions{ID: "sig-1", Action: chorus.BatchSignal, Signal: "bt-sig-poke", SignalValue: "hi", Filter: filter})
		require.NoError(t, err)
		require.Equal(t, n, res.Done+res.Skipped)
	}
	for i := range n {
		x, err := chorus.History(ctx, eng, fmt.Sprintf("bt-sig-%d", i))
		require.NoError(t, err)
		signals, notes := 0, 0
		for _, ev := range x.Events {
			switch ev.Type {
			case history.EventSignalReceived:
				signals++
			case history.EventOperatorAction:
				a, err := history.DecodeOperatorAction(ev.Payload)
				require.NoError(t, err)
				require.Equal(t, "sig-1", a.Batch)
				notes++
			}
		}
		require.Equal(t, 1, signals, "the batch run twice signaled once")
		require.Equal(t, 1, notes)
	}
	res, err := eng.Batch(ctx, chorus.BatchOptions{Action: chorus.BatchTerminate, Filter: filter, Reason: "cleanup", DryRun: true})
	require.NoError(t, err)
	require.Equal(t, n, res.Would)
	res, err = eng.Batch(ctx, chorus.BatchOptions{Action: chorus.BatchTerminate, Filter: chorus.ListOptions{Workflow: "bt-sig-wf", AfterID: "ignored"}, Reason: "cleanup"})
	require.NoError(t, err)
	require.Equal(t, n, res.Done)
	res, err = eng.Batch(ctx, chorus.BatchOptions{Action: chorus.BatchCancel, Filter: filter})
	require.NoError(t, err)
	require.Equal(t, n, res.Skipped, "ended runs have nothing to cancel")

	_, err = eng.Batch(ctx, chorus.BatchOptions{Action: "explode"})
	require.ErrorContains(t, err, "BatchOptions.Action")
	_, err = eng.Batch(ctx, chorus.BatchOptions{Action: chorus.BatchCancel, RPS: -1})
	require.ErrorContains(t, err, "RPS")
	_, err = eng.Batch(ctx, chorus.BatchOptions{Action: chorus.BatchSignal, Signal: ""})
	require.ErrorIs(t, err, chorus.ErrInvalidSignalName)
	_, err = eng.Batch(ctx, chorus.BatchOptions{Action: chorus.BatchReset})
	require.ErrorContains(t, err, "exactly one")
}

// The rate limit is kept on the engine's clock: with a fake clock, each
// run is acted on at least 1/RPS after the one before.
func TestBatchRateLimit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mock := clock.NewMock()
	mock.Set(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	wait := workflow.NewSignal[string]("bt-rate-go")
	wf := workflow.New("bt-rate-wf", func(ctx workflow.Context, in string) (string, error) {
		s, _ := workflow.GetSignalChannel(ctx, wait).Receive(ctx)
		return s, ctx.Err()
	})
	eng, _ := setup(t, &chorus.Options{Clock: mock}, wf)
	const n = 5
	for i := range n {
		_, err := chorus.Start(ctx, eng, wf, "x", &chorus.StartOptions{ID: fmt.Sprintf("bt-rate-%d", i)})
		require.NoError(t, err)
	}
	start := mock.Now()
	var mu sync.Mutex
	var at []time.Time
	done := make(chan chorus.BatchResult, 1)
	go func() {
		res, err := eng.Batch(ctx, chorus.BatchOptions{Action: chorus.BatchCancel, Filter: chorus.ListOptions{Workflow: "bt-rate-wf"}, RPS: 4,
			Progress: func(chorus.BatchProgress) {
				mu.Lock()
				at = append(at, mock.Now())
				mu.Unlock()
			}})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var res chorus.BatchResult
	for finished := false; !finished; {
		select {
		case res = <-done:
			finished = true
		case <-time.After(time.Millisecond):
			mock.Add(10 * time.Millisecond)
		}
	}
	require.Equal(t, n, res.Done)
	require.Len(t, at, n)
	// Run i is acted on no sooner than i/RPS after the batch began.
	for i := 1; i < n; i++ {
		require.GreaterOrEqual(t, at[i].Sub(start), time.Duration(i)*250*time.Millisecond, "run %d came %v after the start", i, at[i].Sub(start))
	}
}

// A batch reset killed half way: each run is either untouched or reset,
// and the same batch run again resets the others, each exactly once.
func init() { childModes["batch-reset"] = batchResetChild }

func batchResetChild() {
	ctx := context.Background()
	f := newResetFixture(nil, "bt-kill")
	f.fixed.Store(true)
	eng, err := chorus.Open(ctx, os.Getenv("CHORUS_BATCH_DB"), &chorus.Options{Definitions: f.defs})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	_, err = eng.Batch(ctx, chorus.BatchOptions{ID: "kill-batch", Action: chorus.BatchReset, RPS: 20,
		Filter: chorus.ListOptions{Workflow: "bt-kill-wf", Statuses: []chorus.RunStatus{chorus.StatusFailed}},
		Reset:  chorus.ResetOptions{ToFirstFailure: true},
		Progress: func(p chorus.BatchProgress) {
			fmt.Printf("%s %s\n", p.Item.Outcome, p.Item.RunID)
		}})
	if err != nil {
		fmt.Println("batch:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestBatchResetKilledMidwayResumes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	db := filepath.Join(t.TempDir(), "b.db")
	const n = 12
	f := newResetFixture(t, "bt-kill")
	{
		eng, err := chorus.Open(ctx, db, &chorus.Options{Definitions: f.defs})
		require.NoError(t, err)
		for i := range n {
			run, err := chorus.Start(ctx, eng, f.wf, "x", &chorus.StartOptions{ID: fmt.Sprintf("bt-kill-%02d", i)})
			require.NoError(t, err)
			_, err = run.Result(ctx)
			require.Error(t, err)
		}
		closeEngine(t, eng)
	}
	c := testutil.StartChild(t, "batch-reset", "CHORUS_BATCH_DB="+db)
	done := 0
	killed := c.KillWhen(time.Now().Add(testTimeout), func(line string) bool {
		if strings.HasPrefix(line, "done ") {
			done++
		}
		return done >= 4
	})
	require.True(t, killed, "the batch finished before the kill\n%s", c.Report())

	f2 := newResetFixture(t, "bt-kill")
	f2.fixed.Store(true)
	eng := openEngine(t, db, nil, f2.defs...)
	reset := 0
	for i := range n {
		id := fmt.Sprintf("bt-kill-%02d", i)
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err)
		notes, starts := resetNotes(t, ctx, eng, id)
		if len(notes) == 0 {
			require.Equal(t, 1, starts, "run %s is untouched", id)
			require.Equal(t, chorus.StatusFailed, info.Status)
			continue
		}
		reset++
		require.Len(t, notes, 1)
		require.Equal(t, "kill-batch", notes[0].Batch)
		require.Equal(t, 2, starts)
	}
	require.GreaterOrEqual(t, reset, 4)
	require.Less(t, reset, n)

	res, err := eng.Batch(ctx, chorus.BatchOptions{ID: "kill-batch", Action: chorus.BatchReset, RPS: 1000,
		Filter: chorus.ListOptions{Workflow: "bt-kill-wf"}, Reset: chorus.ResetOptions{ToFirstFailure: true}})
	require.NoError(t, err)
	require.Equal(t, n-reset, res.Done)
	require.Equal(t, reset, res.Skipped)
	for i := range n {
		id := fmt.Sprintf("bt-kill-%02d", i)
		require.NoError(t, testutil.AwaitStatus(ctx, eng, id, chorus.StatusCompleted))
		notes, starts := resetNotes(t, ctx, eng, id)
		require.Len(t, notes, 1, "run %s was reset once", id)
		require.Equal(t, 2, starts)
	}
	require.Zero(t, f2.count("step1"), "no step before the point ran again")
	require.Zero(t, f2.count("step2"))
}
