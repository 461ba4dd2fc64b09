package chorus_test

// Crash-durability tests of durable timers. The child processes, the counter
// file and the checks they share are in crash_primitives_test.go.

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// ---------------------------------------------------------------------------
// 1. Timers.

type primTimerIn struct {
	Delay time.Duration
}

type primTimerOut struct {
	Start time.Time // workflow.Now when the run started
	Woke  time.Time // workflow.Now right after the timer fired
	After string    // result of the activity after the timer
}

type primTimerDefs struct {
	wf    *workflow.Definition[primTimerIn, primTimerOut]
	after *activity.Definition[string, string]
}

func (d primTimerDefs) all() []chorus.Definition { return []chorus.Definition{d.wf, d.after} }

// newPrimTimerDefs: the workflow sleeps for its input's delay, then runs
// prim-timer-after once.
func newPrimTimerDefs(env primEnv) primTimerDefs {
	var d primTimerDefs
	d.after = primActivity(env, "prim-timer-after", func(_ context.Context, info activity.Info, _ string) error {
		env.report("after %s", info.RunID)
		return nil
	}, appendName("prim-timer-after"))
	after := d.after
	d.wf = workflow.New("prim-timer-wf", func(ctx workflow.Context, in primTimerIn) (primTimerOut, error) {
		start := workflow.Now(ctx)
		if err := workflow.Sleep(ctx, in.Delay); err != nil {
			return primTimerOut{}, err
		}
		woke := workflow.Now(ctx)
		out, err := workflow.ExecuteActivity(ctx, after, workflow.GetInfo(ctx).RunID).Get(ctx)
		return primTimerOut{Start: start, Woke: woke, After: out}, err
	})
	return d
}

// primTimerChild starts one run per delay of CHORUS_PRIM_ARG (Go durations,
// comma-separated), printing "started <id>" after each Start returned (the
// run is then durably sleeping), and "ready" after the last.
func primTimerChild() {
	p := newPrimProc()
	var delays []time.Duration
	for _, f := range strings.Split(os.Getenv(envPrimArg), ",") {
		d, err := time.ParseDuration(f)
		if err != nil {
			p.Fail("%s: %v", envPrimArg, err)
		}
		delays = append(delays, d)
	}
	eng := p.open(nil)
	d := newPrimTimerDefs(p.env)
	p.register(eng, d.all()...)
	for i, id := range crashRunIDs(p.prefix, len(delays)) {
		if _, err := chorus.Start(p.ctx, eng, d.wf, primTimerIn{Delay: delays[i]}, &chorus.StartOptions{ID: id}); err != nil {
			p.Fail("start %s: %v", id, err)
		}
		p.Say("started %s", id)
	}
	p.Say("ready")
	p.awaitKill()
}

func primJoinDurations(ds []time.Duration) string {
	fs := make([]string, len(ds))
	for i, d := range ds {
		fs[i] = d.String()
	}
	return strings.Join(fs, ",")
}

// TestPrimCrashTimer kills a child while its runs sleep on durable timers.
//   - RealClock: 300 ms timers on the wall clock, still pending at the kill;
//     the engine that reopens the file arms them for the time they have
//     left.
//   - OverdueOnMockClock: the child's clock is a mock at T; the reopening
//     engine's mock is at T+1h, past every timer's deadline but one (2h):
//     the overdue ones (one due exactly at T+1h) must fire right after Open
//     without the clock moving, the 2h one only when the clock reaches it.
//
// Every run completes, no timer fires before its time, and the activity
// after the timer runs exactly once.
func TestPrimCrashTimer(t *testing.T) {
	t.Parallel()
	t.Run("RealClock", func(t *testing.T) {
		t.Parallel()
		s := newCrashSetup(t)
		delays := []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 350 * time.Millisecond, 400 * time.Millisecond}
		ids := crashRunIDs("prim-timer-real", len(delays))
		c := primStartChild(t, "prim-timer", s, "1", "prim-timer-real", envPrimArg+"="+primJoinDurations(delays))
		killed := primKillWhen(t, c, func(l string) bool { return l == "ready" })
		require.True(t, killed, c.Report())
		snap := s.snapshot(t)
		firedBeforeKill := map[string]bool{}
		for _, id := range ids {
			rj := snap[id]
			require.Len(t, primEvents(rj, history.EventTimerScheduled), 1, "Start(%s) returned, so its timer is durable: %v", id, rj)
			if len(primEvents(rj, history.EventTimerFired)) > 0 {
				firedBeforeKill[id] = true
				t.Logf("run %s: the timer fired before the kill (slow machine); only the general invariants apply", id)
			}
		}

		ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
		defer cancel()
		d := newPrimTimerDefs(primEnv{counter: s.counter, gen: "final"})
		eng, closeEng := primOpen(t, s, nil, d.all()...)
		for i, id := range ids {
			out, err := primResult(t, ctx, eng, s, d.wf, id)
			require.NoError(t, err, "run %s", id)
			require.Equal(t, id+"|prim-timer-after", out.After, "run %s", id)
			require.False(t, out.Woke.Before(out.Start.Add(delays[i])), "run %s: the timer of %v started at %v fired at %v, too early",
				id, delays[i], out.Start, out.Woke)
		}
		closeEng()

		final := readCrashJournal(t, s.db)
		recs, _ := primCheck(t, s, []crashGen{{"1", snap}, {"final", final}})
		for _, id := range ids {
			require.Len(t, primEvents(final[id], history.EventTimerFired), 1, "run %s: %v", id, final[id])
			if !firedBeforeKill[id] {
				require.Equal(t, map[string]int{"final": 1}, crashCountExecs(recs, id, "prim-timer-after"), "run %s\n%s", id, s.counterText(t))
			}
		}
	})

	t.Run("OverdueOnMockClock", func(t *testing.T) {
		t.Parallel()
		s := newCrashSetup(t)
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		delays := []time.Duration{time.Minute, 30 * time.Minute, 59 * time.Minute, time.Hour, 2 * time.Hour}
		const late = 4 // the run whose timer is not due at the reopen
		ids := crashRunIDs("prim-timer-mock", len(delays))
		c := primStartChild(t, "prim-timer", s, "1", "prim-timer-mock", envPrimArg+"="+primJoinDurations(delays),
			envPrimMockAt+"="+strconv.FormatInt(at.UnixNano(), 10))
		killed := primKillWhen(t, c, func(l string) bool { return l == "ready" })
		require.True(t, killed, c.Report())
		snap := s.snapshot(t)
		for _, id := range ids {
			rj := snap[id]
			require.Len(t, primEvents(rj, history.EventTimerScheduled), 1, "run %s: %v", id, rj)
			require.Empty(t, primEvents(rj, history.EventTimerFired), "run %s: the mock clock never moved in the child: %v", id, rj)
		}

		ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
		defer cancel()
		mock := clock.NewMock()
		reopenAt := at.Add(time.Hour)
		mock.Set(reopenAt)
		d := newPrimTimerDefs(primEnv{counter: s.counter, gen: "final"})
		eng, closeEng := primOpen(t, s, &chorus.Options{Clock: mock}, d.all()...)
		// The clock stays at T+1h until every overdue run has completed.
		for i, id := range ids {
			if i == late {
				continue
			}
			out, err := primResult(t, ctx, eng, s, d.wf, id)
			require.NoError(t, err, "run %s", id)
			require.Equal(t, id+"|prim-timer-after", out.After, "run %s", id)
			require.True(t, out.Start.Equal(at), "run %s started at %v", id, out.Start)
			require.True(t, out.Woke.Equal(reopenAt), "run %s: the overdue timer fired at %v; the clock stood at %v", id, out.Woke, reopenAt)
		}
		info, err := eng.Describe(ctx, ids[late])
		require.NoError(t, err)
		require.Equal(t, chorus.StatusRunning, info.Status, "the %v timer is not due at T+1h: %+v", delays[late], info)
		require.Empty(t, crashCountExecs(s.execs(t), ids[late], "prim-timer-after"), "the activity after the %v timer ran at T+1h", delays[late])
		mock.Add(time.Hour)
		out, err := primResult(t, ctx, eng, s, d.wf, ids[late])
		require.NoError(t, err)
		require.Equal(t, ids[late]+"|prim-timer-after", out.After)
		require.True(t, out.Woke.Equal(at.Add(delays[late])), "the %v timer fired at %v", delays[late], out.Woke)
		closeEng()

		final := readCrashJournal(t, s.db)
		recs, _ := primCheck(t, s, []crashGen{{"1", snap}, {"final", final}})
		for _, id := range ids {
			require.Len(t, primEvents(final[id], history.EventTimerFired), 1, "run %s: %v", id, final[id])
			require.Equal(t, map[string]int{"final": 1}, crashCountExecs(recs, id, "prim-timer-after"), "run %s\n%s", id, s.counterText(t))
		}
	})
}
