package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []chorus.Event
}

type obsKey struct{}

func (r *recorder) Observe(ctx context.Context, ev chorus.Event) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if ev.Kind == chorus.EventActivityStarted {
		return context.WithValue(ctx, obsKey{}, fmt.Sprintf("%s#%d", ev.Name, ev.Attempt))
	}
	if ev.Kind == chorus.EventActivityEnded && ctx.Value(obsKey{}) != fmt.Sprintf("%s#%d", ev.Name, ev.Attempt) {
		panic("the end of an attempt does not get the context its start returned")
	}
	return ctx
}

func (r *recorder) of(kind chorus.EventKind, run string) []chorus.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []chorus.Event
	for _, ev := range r.events {
		if ev.Kind == kind && (run == "" || ev.RunID == run) {
			out = append(out, ev)
		}
	}
	return out
}

var (
	obsSeen = sync.Map{} // attempt -> the value the observer put in its ctx
	obsStep = activity.New("obs-step", func(ctx context.Context, n int) (int, error) {
		info := activity.GetInfo(ctx)
		obsSeen.Store(fmt.Sprintf("%s/%d", info.RunID, info.Attempt), ctx.Value(obsKey{}))
		if info.Attempt == 1 && n == 1 {
			return 0, errors.New("once")
		}
		return n + 1, nil
	})
	obsSig = workflow.NewSignal[int]("obs-go")
	obsWF  = workflow.New("obs-wf", func(ctx workflow.Context, n int) (int, error) {
		for range 3 {
			v, _ := workflow.GetSignalChannel(ctx, obsSig).Receive(ctx)
			n += v
		}
		return workflow.ExecuteActivity(ctx, obsStep, n).Get(ctx)
	})
	obsSleep = workflow.New("obs-sleep", func(ctx workflow.Context, n int) (int, error) {
		return n, workflow.Sleep(ctx, time.Hour)
	})
	obsPanic = workflow.New("obs-panic", func(ctx workflow.Context, n int) (int, error) {
		workflow.GetSignalChannel(ctx, obsSig).Receive(ctx)
		panic("obs-panic")
	})
)

// TestObserverReplayReportsOnce runs two runs through a run cache of one,
// so each signal evicts the other run and rebuilds this one by replay:
// the observer hears of each start, signal, attempt and end once, the
// evictions and reloads, and the run's start as its journal has it.
func TestObserverReplayReportsOnce(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	eng, err := chorus.Open(ctx, filepath.Join(t.TempDir(), "obs.db"), &chorus.Options{
		Observer: rec, CacheSize: 1,
		DefaultActivityOptions: &activity.Options{RetryPolicy: &activity.RetryPolicy{InitialInterval: 1, MaximumInterval: 1}},
	})
	require.NoError(t, err)
	defer eng.Close(ctx)
	require.NoError(t, eng.Register(obsWF, obsStep))
	a, err := chorus.Start(ctx, eng, obsWF, 0, &chorus.StartOptions{ID: "obs-a"})
	require.NoError(t, err)
	b, err := chorus.Start(ctx, eng, obsWF, 1, &chorus.StartOptions{ID: "obs-b"})
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, chorus.Signal(ctx, eng, "obs-a", obsSig, 0))
		require.NoError(t, chorus.Signal(ctx, eng, "obs-b", obsSig, 0))
	}
	ra, err := a.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, ra)
	rb, err := b.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, rb)

	for _, id := range []string{"obs-a", "obs-b"} {
		require.Len(t, rec.of(chorus.EventRunStarted, id), 1, id)
		require.Len(t, rec.of(chorus.EventSignalReceived, id), 3, id)
		ended := rec.of(chorus.EventRunEnded, id)
		require.Len(t, ended, 1, id)
		require.Equal(t, chorus.StatusCompleted, ended[0].Status)
		require.Equal(t, "obs-wf", ended[0].Workflow)
		h, err := chorus.History(ctx, eng, id)
		require.NoError(t, err)
		require.True(t, ended[0].Start.Equal(h.Events[0].Time), "%s: the run's start from its journal: %v, %v", id, ended[0].Start, h.Events[0].Time)
		require.Positive(t, len(rec.of(chorus.EventRunLoaded, id)), "%s was rebuilt by replay", id)
	}
	require.Len(t, rec.of(chorus.EventActivityStarted, "obs-a"), 1)
	require.Len(t, rec.of(chorus.EventActivityEnded, "obs-a"), 1)
	bEnds := rec.of(chorus.EventActivityEnded, "obs-b")
	require.Len(t, bEnds, 2)
	require.True(t, bEnds[0].Retry)
	require.EqualError(t, bEnds[0].Err, "once")
	require.Equal(t, 1, bEnds[0].Attempt)
	require.False(t, bEnds[1].Retry)
	require.NoError(t, bEnds[1].Err)
	require.Equal(t, 2, bEnds[1].Attempt)
	v, _ := obsSeen.Load("obs-b/2")
	require.Equal(t, "obs-step#2", v, "the activity runs with the context the observer returned")
	require.Positive(t, len(rec.of(chorus.EventCacheEviction, "")))
	commits := rec.of(chorus.EventCommit, "")
	require.NotEmpty(t, commits)
	for _, c := range commits {
		require.Positive(t, c.BatchSize)
	}
}

// TestObserverRunBlockedAndCanceled reports a run blocked by a panic in
// its code with its *BlockedError, and a canceled run with its
// *WorkflowError.
func TestObserverRunBlockedAndCanceled(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	eng, err := chorus.Open(ctx, filepath.Join(t.TempDir(), "obs.db"), &chorus.Options{Observer: rec, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer eng.Close(ctx)
	require.NoError(t, eng.Register(obsPanic, obsSleep))

	p, err := chorus.Start(ctx, eng, obsPanic, 0, &chorus.StartOptions{ID: "obs-panics"})
	require.NoError(t, err)
	require.ErrorIs(t, chorus.Signal(ctx, eng, "obs-panics", obsSig, 1), chorus.ErrRunBlocked)
	_, err = p.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
	blocked := rec.of(chorus.EventRunBlocked, "obs-panics")
	require.Len(t, blocked, 1)
	require.Equal(t, chorus.StatusBlocked, blocked[0].Status)
	var be *chorus.BlockedError
	require.ErrorAs(t, blocked[0].Err, &be)
	require.Contains(t, be.Reason, "obs-panic")
	require.Empty(t, rec.of(chorus.EventRunEnded, "obs-panics"))

	run, err := chorus.Start(ctx, eng, obsSleep, 5, &chorus.StartOptions{ID: "obs-canceled"})
	require.NoError(t, err)
	require.NoError(t, run.Cancel(ctx))
	_, err = run.Result(ctx)
	require.Error(t, err)
	ended := rec.of(chorus.EventRunEnded, "obs-canceled")
	require.Len(t, ended, 1)
	require.Equal(t, chorus.StatusCanceled, ended[0].Status)
	var we *chorus.WorkflowError
	require.ErrorAs(t, ended[0].Err, &we)
	require.True(t, we.Canceled)
}

// TestObserverSignalWithStart reports the signal a SignalWithStart
// delivers with the start of a new run, and the one it delivers to a run
// that exists, once each.
func TestObserverSignalWithStart(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	eng, err := chorus.Open(ctx, filepath.Join(t.TempDir(), "obs.db"), &chorus.Options{Observer: rec})
	require.NoError(t, err)
	defer eng.Close(ctx)
	require.NoError(t, eng.Register(obsWF, obsStep))
	opts := &chorus.StartOptions{ID: "obs-sws"}
	run, err := chorus.SignalWithStart(ctx, eng, obsWF, 2, opts, obsSig, 1)
	require.NoError(t, err)
	_, err = chorus.SignalWithStart(ctx, eng, obsWF, 2, opts, obsSig, 1)
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, "obs-sws", obsSig, 1))
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 6, got)
	sigs := rec.of(chorus.EventSignalReceived, "obs-sws")
	require.Len(t, sigs, 3)
	for _, s := range sigs {
		require.Equal(t, "obs-go", s.Name)
		require.Equal(t, "obs-wf", s.Workflow)
	}
	require.Len(t, rec.of(chorus.EventRunStarted, "obs-sws"), 1)
}
