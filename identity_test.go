package chorus_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// eventsOf returns the run's journal, and checks that it replays.
func eventsOf(t *testing.T, ctx context.Context, eng *chorus.Engine, id string, defs ...chorus.Definition) []history.Event {
	t.Helper()
	h, err := chorus.History(ctx, eng, id)
	require.NoError(t, err)
	require.NoError(t, h.Validate(), "the journal with its notes is a valid export")
	require.NoError(t, replay.Run(ctx, h, defs...), "replay passes over the notes")
	return h.Events
}

// noteBefore returns the OperatorAction note right before the first event
// of type typ, failing if there is none.
func noteBefore(t *testing.T, events []history.Event, typ history.EventType) history.OperatorAction {
	t.Helper()
	for i, e := range events {
		if e.Type != typ {
			continue
		}
		require.Positive(t, i)
		prev := events[i-1]
		require.Equal(t, history.EventOperatorAction, prev.Type, "the event before the %v: %v", typ, prev)
		a, err := history.DecodeOperatorAction(prev.Payload)
		require.NoError(t, err)
		require.Equal(t, a.Action, prev.Name)
		return a
	}
	t.Fatalf("no %v in %v", typ, events)
	return history.OperatorAction{}
}

func countType(events []history.Event, typ history.EventType) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestIdentityJournalsWhoSignaledCanceledAndTerminated(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	goSig := workflow.NewSignal[string]("id-go")
	wf := workflow.New("id-wf", func(ctx workflow.Context, _ int) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, goSig).Receive(ctx)
		if err := workflow.Sleep(ctx, 1<<40); err != nil {
			return v, err
		}
		return v, nil
	})
	eng, _ := setup(t, nil, wf)

	_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "id-1"})
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(chorus.WithIdentity(ctx, "alice@example.com"), eng, "id-1", goSig, "hello"))
	require.NoError(t, eng.Cancel(chorus.WithIdentity(ctx, "bob"), "id-1"))
	_, err = chorus.Start(ctx, eng, wf, 2, &chorus.StartOptions{ID: "id-2"})
	require.NoError(t, err)
	require.NoError(t, eng.Terminate(chorus.WithIdentity(ctx, "carol (ops)"), "id-2", "stuck order"))

	events := eventsOf(t, ctx, eng, "id-1", wf)
	require.Equal(t, history.OperatorAction{Action: history.ActionSignal, Identity: "alice@example.com", Signal: "id-go"},
		noteBefore(t, events, history.EventSignalReceived))
	require.Equal(t, history.OperatorAction{Action: history.ActionCancel, Identity: "bob"},
		noteBefore(t, events, history.EventCancelRequested))
	require.Equal(t, history.OperatorAction{Action: history.ActionTerminate, Identity: "carol (ops)", Reason: "stuck order"},
		noteBefore(t, eventsOf(t, ctx, eng, "id-2", wf), history.EventRunTerminated))
}

func TestNoIdentityJournalsNoNote(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	goSig := workflow.NewSignal[string]("noid-go")
	wf := workflow.New("noid-wf", func(ctx workflow.Context, _ int) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, goSig).Receive(ctx)
		return v, workflow.Sleep(ctx, 1<<40)
	})
	eng, _ := setup(t, nil, wf)
	_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "noid"})
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, "noid", goSig, "x"))
	require.NoError(t, eng.Cancel(ctx, "noid"))
	require.Zero(t, countType(eventsOf(t, ctx, eng, "noid", wf), history.EventOperatorAction))
}

func TestInvalidIdentityIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	goSig := workflow.NewSignal[string]("badid-go")
	wf := workflow.New("badid-wf", func(ctx workflow.Context, _ int) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, goSig).Receive(ctx)
		return v, nil
	})
	eng, _ := setup(t, nil, wf)
	_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "badid"})
	require.NoError(t, err)
	before := eventsOf(t, ctx, eng, "badid", wf)
	long := make([]byte, history.MaxIdentity+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, who := range []string{"", "line\nbreak", string(long), "\xff"} {
		err := chorus.Signal(chorus.WithIdentity(ctx, who), eng, "badid", goSig, "x")
		require.ErrorIs(t, err, chorus.ErrInvalidIdentity, "identity %q", who)
		require.ErrorIs(t, eng.Cancel(chorus.WithIdentity(ctx, who), "badid"), chorus.ErrInvalidIdentity)
		require.ErrorIs(t, eng.Terminate(chorus.WithIdentity(ctx, who), "badid", "r"), chorus.ErrInvalidIdentity)
	}
	require.Equal(t, before, eventsOf(t, ctx, eng, "badid", wf), "a refused call journals nothing")
	require.Equal(t, "alice", chorus.IdentityFrom(chorus.WithIdentity(ctx, "alice")))
	require.Empty(t, chorus.IdentityFrom(ctx))
}

func TestRetriedActivityJournalsItsAttempts(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var calls atomic.Int32
	flaky := activity.New("retried-flaky", func(ctx context.Context, n int) (int, error) {
		if c := calls.Add(1); c < 3 {
			return 0, errors.New("attempt " + string(rune('0'+c)) + " failed")
		}
		return n * 2, nil
	})
	once := activity.New("retried-once", func(ctx context.Context, n int) (int, error) { return n, nil })
	wf := workflow.New("retried-wf", func(ctx workflow.Context, n int) (int, error) {
		a, err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: fastRetry(5)}), flaky, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		return workflow.ExecuteActivity(ctx, once, a).Get(ctx)
	})
	eng, _ := setup(t, nil, wf, flaky, once)
	run, err := chorus.Start(ctx, eng, wf, 21, &chorus.StartOptions{ID: "retried"})
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 42, out)

	events := eventsOf(t, ctx, eng, "retried", wf, flaky, once)
	require.Equal(t, 1, countType(events, history.EventActivityRetried), "one note, for the step that retried: %v", events)
	for i, e := range events {
		if e.Type != history.EventActivityRetried {
			continue
		}
		require.Equal(t, "retried-flaky", e.Name)
		next := events[i+1]
		require.Equal(t, history.EventActivityCompleted, next.Type)
		require.Equal(t, e.Ref, next.Ref)
		a, err := history.DecodeActivityRetried(e.Payload)
		require.NoError(t, err)
		require.Equal(t, 3, a.Attempts)
		require.NotNil(t, a.LastFailure)
		require.Equal(t, "attempt 2 failed", a.LastFailure.Message)
		require.Equal(t, 2, a.LastFailure.Attempt)
		require.False(t, a.FirstFailureAt.IsZero())
		require.False(t, a.FirstFailureAt.After(e.Time), "the first failure comes before the outcome")
	}
}

func TestRetryingActivityKeepsItsFailureAcrossRestart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var calls atomic.Int32
	second := make(chan struct{}, 1)
	mk := func(block bool) *activity.Definition[int, int] {
		return activity.New("restart-flaky", func(ctx context.Context, n int) (int, error) {
			if calls.Add(1) == 1 {
				return 0, errors.New("boom")
			}
			if block {
				second <- struct{}{}
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return n + 1, nil
		})
	}
	mkwf := func(a *activity.Definition[int, int]) *workflow.Definition[int, int] {
		return workflow.New("restart-wf", func(ctx workflow.Context, n int) (int, error) {
			return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: fastRetry(5)}), a, n).Get(ctx)
		})
	}
	a1 := mk(true)
	eng, path := setup(t, nil, mkwf(a1), a1)
	_, err := chorus.Start(ctx, eng, mkwf(a1), 1, &chorus.StartOptions{ID: "restart"})
	require.NoError(t, err)
	recv(t, second, "the second attempt")

	// While it retries, the task says why and since when.
	ro, err := sqlite.OpenReadOnly(ctx, path, nil)
	require.NoError(t, err)
	tasks, err := ro.Tasks(ctx)
	require.NoError(t, err)
	require.NoError(t, ro.Close())
	require.Len(t, tasks, 1)
	require.Equal(t, 2, tasks[0].Attempt)
	first := tasks[0].FirstFailureAt
	require.False(t, first.IsZero())
	var fl history.Failure
	require.NoError(t, history.JSONCodec{}.Unmarshal(tasks[0].LastFailure, &fl))
	require.Equal(t, "boom", fl.Message)
	require.Equal(t, 1, fl.Attempt)
	closeEngine(t, eng)

	a2 := mk(false)
	wf2 := mkwf(a2)
	eng2 := openEngine(t, path, nil, wf2, a2)
	run, err := chorus.Lookup(ctx, eng2, wf2, "restart")
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, out)
	events := eventsOf(t, ctx, eng2, "restart", mkwf(a2), a2)
	require.Equal(t, 1, countType(events, history.EventActivityRetried))
	for _, e := range events {
		if e.Type == history.EventActivityRetried {
			a, err := history.DecodeActivityRetried(e.Payload)
			require.NoError(t, err)
			require.Equal(t, 2, a.Attempts)
			require.True(t, first.Equal(a.FirstFailureAt), "the first failure's time survives the restart: %v, want %v", a.FirstFailureAt, first)
			require.Equal(t, "boom", a.LastFailure.Message)
		}
	}
}

func TestSignalNameWithNULIsRefused(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	goSig := workflow.NewSignal[string]("nul-go")
	wf := workflow.New("nul-wf", func(ctx workflow.Context, _ int) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, goSig).Receive(ctx)
		return v, nil
	})
	eng, _ := setup(t, nil, wf)
	_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "nul"})
	require.NoError(t, err)
	before := eventsOf(t, ctx, eng, "nul", wf)
	// A NUL would let a caller pose as another run's signal (name, NUL,
	// the sender's key) and have that run's real signal dropped as a
	// duplicate. The dashboard and the CLI signal by name.
	for _, name := range []string{"nul-go\x00other/3", "", "\xff", strings.Repeat("n", 1025)} {
		err := hook.Core(eng).Signal(ctx, "nul", name, []byte(`"x"`))
		require.ErrorIs(t, err, chorus.ErrInvalidSignalName, "name %q", name)
	}
	require.Equal(t, before, eventsOf(t, ctx, eng, "nul", wf), "a refused signal journals nothing")
	require.Panics(t, func() { workflow.NewSignal[string]("a\x00b") })
}

func TestIdentityJournalsWhoSentAnAcceptedUpdate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	add := workflow.NewUpdate[int, int]("id-add")
	wf := workflow.New("id-upd-wf", func(ctx workflow.Context, _ int) (int, error) {
		total := 0
		workflow.SetUpdateHandler(ctx, add, func(ctx workflow.Context, n int) (int, error) {
			total += n
			return total, nil
		}, &workflow.UpdateOptions[int]{Validator: func(n int) error {
			if n < 0 {
				return errors.New("negative")
			}
			return nil
		}})
		return total, workflow.Sleep(ctx, 1<<40)
	})
	eng, _ := setup(t, nil, wf)
	_, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "id-upd"})
	require.NoError(t, err)
	out, err := chorus.Update(chorus.WithIdentity(ctx, "dana"), eng, "id-upd", add, 5)
	require.NoError(t, err)
	require.Equal(t, 5, out)
	_, err = chorus.Update(chorus.WithIdentity(ctx, "eve"), eng, "id-upd", add, -1)
	require.Error(t, err, "refused by the validator: nothing journaled, no note")
	events := eventsOf(t, ctx, eng, "id-upd", wf)
	require.Equal(t, history.OperatorAction{Action: history.ActionUpdate, Identity: "dana", Update: "id-add"},
		noteBefore(t, events, history.EventUpdateAccepted))
	require.Equal(t, 1, countType(events, history.EventOperatorAction))
}
