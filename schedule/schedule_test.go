package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
	"github.com/chorusdev/chorus/schedule"
	"github.com/chorusdev/chorus/workflow"
)

func TestMain(m *testing.M) {
	childproc.RunMode(childModes)
	goleak.VerifyTestMain(m)
}

var release = workflow.NewSignal[struct{}]("release")

// job is the scheduled action: it runs until released (or returns at once
// when its input says so), and ends canceled when canceled.
var job = workflow.New("job", func(ctx workflow.Context, wait bool) (string, error) {
	if !wait {
		return "done", nil
	}
	released := false
	workflow.NewSelector(ctx).
		AddReceive(workflow.GetSignalChannel(ctx, release), func() { released = true }).
		AddReceive(ctx.Done(), func() {}).
		Select(ctx)
	if !released {
		return "", workflow.ErrCanceled
	}
	return "released", nil
})

var t0 = time.Date(2026, 3, 1, 0, 0, 30, 0, time.UTC)

type env struct {
	t    *testing.T
	ctx  context.Context
	mock *clock.Mock
	path string
	eng  *chorus.Engine
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	mock := clock.NewMock()
	mock.Set(t0)
	e := &env{t: t, ctx: ctx, mock: mock, path: filepath.Join(t.TempDir(), "chorus.db")}
	e.open()
	return e
}

func (e *env) open() {
	e.t.Helper()
	eng, err := chorus.Open(e.ctx, e.path, &chorus.Options{Clock: e.mock})
	require.NoError(e.t, err)
	require.NoError(e.t, eng.Register(job))
	require.NoError(e.t, schedule.Enable(eng))
	require.NoError(e.t, schedule.Register(eng, job))
	e.eng = eng
	e.t.Cleanup(func() { e.close() })
}

func (e *env) close() {
	if e.eng == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(e.t, e.eng.Close(ctx))
	e.eng = nil
}

// memo reads the schedule's description from its memo, as the CLI does.
func (e *env) memo(id string) (schedule.Description, bool) {
	info, err := e.eng.Describe(e.ctx, schedule.RunID(id))
	if err != nil {
		return schedule.Description{}, false
	}
	var d schedule.Description
	return d, json.Unmarshal(info.Memo[schedule.MemoKey], &d) == nil
}

// waitIdle waits until schedule id waits for the tick at next.
func (e *env) waitIdle(id string, next time.Time) schedule.Description {
	e.t.Helper()
	var d schedule.Description
	require.NoError(e.t, testutil.Await(e.ctx, e.eng, "schedule waiting for "+next.String(), func() (bool, error) {
		var ok bool
		d, ok = e.memo(id)
		return ok && len(d.Next) > 0 && d.Next[0].Equal(next), nil
	}))
	return d
}

// waitFor waits until cond holds of the schedule's memo.
func (e *env) waitFor(id, what string, cond func(schedule.Description) bool) schedule.Description {
	e.t.Helper()
	var d schedule.Description
	require.NoError(e.t, testutil.Await(e.ctx, e.eng, what, func() (bool, error) {
		var ok bool
		d, ok = e.memo(id)
		return ok && cond(d), nil
	}))
	return d
}

// jobs lists the action runs, sorted by ID.
func (e *env) jobs() []string {
	runs, err := e.eng.List(e.ctx, &chorus.ListOptions{Workflow: job.Name()})
	require.NoError(e.t, err)
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return ids
}

func minute(n int) time.Time { return time.Date(2026, 3, 1, 0, n, 0, 0, time.UTC) }

func ids(id string, minutes ...int) []string {
	var out []string
	for _, m := range minutes {
		out = append(out, schedule.ActionRunID(id, minute(m)))
	}
	return out
}

func TestEveryMinuteAcrossARestart(t *testing.T) {
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "m", schedule.Spec{Every: time.Minute}, job, false))
	e.waitIdle("m", minute(1))
	for n := 1; n <= 2; n++ {
		e.mock.Add(time.Minute)
		e.waitIdle("m", minute(n+1))
	}
	require.Equal(t, ids("m", 1, 2), e.jobs())

	// Down for three minutes: the missed ticks start after the reopen,
	// each once, and the schedule goes on.
	e.close()
	e.mock.Add(3 * time.Minute) // now 00:05:30
	e.open()
	d := e.waitIdle("m", minute(6))
	require.Equal(t, ids("m", 1, 2, 3, 4, 5), e.jobs())
	e.mock.Add(time.Minute)
	d = e.waitIdle("m", minute(7))
	require.Equal(t, ids("m", 1, 2, 3, 4, 5, 6), e.jobs())
	require.EqualValues(t, 6, d.Started, "no tick lost, none doubled")
	for _, a := range d.Recent {
		require.Equal(t, "started", a.Outcome, "%+v", a)
	}
}

func TestCatchupWindow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "c", schedule.Spec{Every: time.Minute, CatchupWindow: 2 * time.Minute}, job, false))
	e.waitIdle("c", minute(1))
	e.close()
	e.mock.Add(10 * time.Minute) // now 00:10:30: ticks 1..7 are older than the window
	e.open()
	d := e.waitIdle("c", minute(11))
	require.Equal(t, ids("c", 9, 10), e.jobs())
	require.EqualValues(t, 8, d.Missed)
	require.EqualValues(t, 2, d.Started)
}

func TestCronInTimeZone(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// 01:00 in Paris is 00:00 UTC in March.
	require.NoError(t, schedule.Create(e.ctx, e.eng, "tz", schedule.Spec{Cron: "0 1 * * *", TimeZone: "Europe/Paris"}, job, false))
	next := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	e.waitIdle("tz", next)
	e.mock.Add(24 * time.Hour)
	e.waitIdle("tz", next.Add(24*time.Hour))
	require.Equal(t, []string{schedule.ActionRunID("tz", next)}, e.jobs())
}

func TestOverlapSkip(t *testing.T) {
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "s", schedule.Spec{Every: time.Minute}, job, true))
	e.waitIdle("s", minute(1))
	e.mock.Add(time.Minute)
	e.waitIdle("s", minute(2))
	e.mock.Add(time.Minute)
	d := e.waitIdle("s", minute(3))
	require.Equal(t, ids("s", 1), e.jobs(), "tick 2 skipped while tick 1 runs")
	require.EqualValues(t, 1, d.Skipped)
	require.NoError(t, chorus.Signal(e.ctx, e.eng, ids("s", 1)[0], release, struct{}{}))
	require.NoError(t, testutil.AwaitStatus(e.ctx, e.eng, ids("s", 1)[0], chorus.StatusCompleted))
	e.mock.Add(time.Minute)
	e.waitIdle("s", minute(4))
	require.Equal(t, ids("s", 1, 3), e.jobs())
}

func TestOverlapBufferOne(t *testing.T) {
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "b", schedule.Spec{Every: time.Minute, Overlap: schedule.OverlapBufferOne}, job, true))
	e.waitIdle("b", minute(1))
	for n := 1; n <= 3; n++ {
		e.mock.Add(time.Minute)
		e.waitIdle("b", minute(n+1))
	}
	d, _ := e.memo("b")
	require.Equal(t, ids("b", 1), e.jobs())
	require.True(t, d.Buffered.Equal(minute(2)), "tick 2 kept: %v", d.Buffered)
	require.EqualValues(t, 1, d.Skipped, "tick 3 skipped: one is kept already")
	require.NoError(t, chorus.Signal(e.ctx, e.eng, ids("b", 1)[0], release, struct{}{}))
	e.waitFor("b", "the buffered tick to start", func(d schedule.Description) bool { return d.Buffered.IsZero() && d.Started == 2 })
	require.Equal(t, ids("b", 1, 2), e.jobs(), "the kept tick starts when the previous action ends")
}

func TestOverlapAllowAll(t *testing.T) {
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "a", schedule.Spec{Every: time.Minute, Overlap: schedule.OverlapAllowAll}, job, true))
	e.waitIdle("a", minute(1))
	for n := 1; n <= 2; n++ {
		e.mock.Add(time.Minute)
		e.waitIdle("a", minute(n+1))
	}
	require.Equal(t, ids("a", 1, 2), e.jobs())
}

func TestOverlapCancelPrevious(t *testing.T) {
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "x", schedule.Spec{Every: time.Minute, Overlap: schedule.OverlapCancelPrevious}, job, true))
	e.waitIdle("x", minute(1))
	for n := 1; n <= 2; n++ {
		e.mock.Add(time.Minute)
		e.waitIdle("x", minute(n+1))
	}
	require.Equal(t, ids("x", 1, 2), e.jobs())
	require.NoError(t, testutil.AwaitStatus(e.ctx, e.eng, ids("x", 1)[0], chorus.StatusCanceled))
	info, err := e.eng.Describe(e.ctx, ids("x", 2)[0])
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status)
}

func TestPauseResumeTriggerBackfillUpdateDelete(t *testing.T) {
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "p", schedule.Spec{Every: time.Minute}, job, false))
	e.waitIdle("p", minute(1))
	require.ErrorIs(t, schedule.Create(e.ctx, e.eng, "p", schedule.Spec{Every: time.Minute}, job, false), schedule.ErrExists)

	require.NoError(t, schedule.Pause(e.ctx, e.eng, "p", "maintenance"))
	e.waitFor("p", "paused", func(d schedule.Description) bool { return d.Paused })
	e.mock.Add(3 * time.Minute) // 00:03:30, paused: nothing starts
	d, err := schedule.Describe(e.ctx, e.eng, "p")
	require.NoError(t, err)
	require.True(t, d.Paused)
	require.Equal(t, "maintenance", d.Note)
	require.Empty(t, d.Next)
	require.Empty(t, e.jobs())

	require.NoError(t, schedule.Trigger(e.ctx, e.eng, "p"))
	e.waitFor("p", "triggered", func(d schedule.Description) bool { return d.Started == 1 })
	require.Equal(t, []string{"p@trigger-" + minute(3).Add(30*time.Second).Format(time.RFC3339Nano)}, e.jobs())

	require.NoError(t, schedule.Resume(e.ctx, e.eng, "p", ""))
	e.waitIdle("p", minute(4)) // the paused ticks are not caught up

	require.NoError(t, schedule.Backfill(e.ctx, e.eng, "p", minute(1), minute(3)))
	e.waitFor("p", "backfilled", func(d schedule.Description) bool { return d.Started == 3 })
	require.NoError(t, schedule.Backfill(e.ctx, e.eng, "p", minute(2), minute(3)))
	d = e.waitFor("p", "backfilled twice", func(d schedule.Description) bool {
		return len(d.Recent) > 0 && d.Recent[len(d.Recent)-1].Outcome == "already-started"
	})
	require.EqualValues(t, 3, d.Started, "a backfilled tick is not started twice")

	require.NoError(t, schedule.Update(e.ctx, e.eng, "p", schedule.Spec{Every: time.Hour}))
	e.waitIdle("p", time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC))

	list, err := schedule.List(e.ctx, e.eng)
	require.NoError(t, err)
	require.Equal(t, []string{"p"}, list)
	require.NoError(t, schedule.Delete(e.ctx, e.eng, "p"))
	require.NoError(t, testutil.AwaitStatus(e.ctx, e.eng, schedule.RunID("p"), chorus.StatusCompleted))
	_, err = schedule.Describe(e.ctx, e.eng, "p")
	require.ErrorIs(t, err, schedule.ErrNotFound)
	require.ErrorIs(t, schedule.Pause(e.ctx, e.eng, "p", ""), schedule.ErrNotFound)
	// A deleted schedule's ID can be used again.
	require.NoError(t, schedule.Create(e.ctx, e.eng, "p", schedule.Spec{Every: time.Minute}, job, false))
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tc := range []struct {
		spec schedule.Spec
		want string
	}{
		{schedule.Spec{}, "Cron or Every"},
		{schedule.Spec{Cron: "* * * * *", Every: time.Minute}, "both"},
		{schedule.Spec{Cron: "61 * * * *"}, "Spec.Cron"},
		{schedule.Spec{Cron: "CRON_TZ=UTC * * * * *"}, "TimeZone"},
		{schedule.Spec{Every: time.Millisecond}, "under a second"},
		{schedule.Spec{Every: time.Minute, TimeZone: "Mars/Olympus"}, "Spec.TimeZone"},
		{schedule.Spec{Every: time.Minute, Jitter: -1}, "Spec.Jitter"},
		{schedule.Spec{Every: time.Minute, Overlap: 9}, "Spec.Overlap"},
	} {
		err := schedule.Create(e.ctx, e.eng, "bad", tc.spec, job, false)
		require.ErrorContains(t, err, tc.want)
	}
	require.ErrorContains(t, schedule.Create(e.ctx, e.eng, "", schedule.Spec{Every: time.Minute}, job, false), "empty ID")
	require.ErrorContains(t, schedule.Send(e.ctx, e.eng, "x", schedule.Control{Op: "explode"}), "unknown op")
	require.ErrorContains(t, schedule.Backfill(e.ctx, e.eng, "x", minute(2), minute(1)), "From before To")
	require.True(t, errors.Is(schedule.Trigger(e.ctx, e.eng, "missing"), schedule.ErrNotFound))
	_, err := schedule.ParseOverlap("sometimes")
	require.ErrorContains(t, err, "sometimes")
}

func TestJitterIsStableAndBounded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "j", schedule.Spec{Every: time.Hour, Jitter: 10 * time.Minute}, job, false))
	e.waitIdle("j", time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC))
	e.mock.Add(time.Hour) // 01:00:30: the jittered start may still be ahead
	if len(e.jobs()) == 0 {
		e.mock.Add(10 * time.Minute)
	}
	e.waitIdle("j", time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC))
	require.Equal(t, []string{schedule.ActionRunID("j", time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC))}, e.jobs(), "the run ID names the scheduled time, not the jittered one")
}

func TestContinuesAsNewToBoundItsHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("230 ticks: skipped with -short")
	}
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "long", schedule.Spec{Every: time.Minute}, job, false))
	e.waitIdle("long", minute(1))
	const ticks = 230
	for n := 1; n <= ticks; n++ {
		e.mock.Add(time.Minute)
		e.waitIdle("long", minute(n+1))
	}
	d, err := schedule.Describe(e.ctx, e.eng, "long")
	require.NoError(t, err)
	require.EqualValues(t, ticks, d.Started, "the counts carry over")
	require.Len(t, e.jobs(), ticks)
	info, err := e.eng.Describe(e.ctx, schedule.RunID("long"))
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status)
	// A wake-up journals four events or more (timer started and fired,
	// activity scheduled and completed, memo): 230 of them in one history
	// would be over 900. Continue-as-new after 200 wake-ups keeps only the
	// current generation's.
	t.Logf("events of the schedule's run: %d", info.Events)
	require.Less(t, info.Events, int64(2*ticks))
}

// TestTickStartedElsewhereIsNotStartedAgain has the run of a tick exist
// before the schedule reaches it, as when another process (or this one
// before a crash) started it: the schedule finds it and starts no second
// run.
func TestTickStartedElsewhereIsNotStartedAgain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	elsewhere := ids("o", 1)[0]
	_, err := chorus.Start(e.ctx, e.eng, job, false, &chorus.StartOptions{ID: elsewhere})
	require.NoError(t, err)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "o", schedule.Spec{Every: time.Minute, Overlap: schedule.OverlapAllowAll}, job, false))
	e.waitIdle("o", minute(1))
	e.mock.Add(time.Minute)
	e.waitIdle("o", minute(2))
	e.mock.Add(time.Minute)
	d := e.waitIdle("o", minute(3))
	require.Equal(t, ids("o", 1, 2), e.jobs(), "one run per tick")
	require.EqualValues(t, 1, d.Started, "only tick 2 was started by the schedule")
	require.Len(t, d.Recent, 2)
	require.Equal(t, schedule.Action{Scheduled: minute(1), At: minute(1), RunID: elsewhere, Outcome: "already-started"}, d.Recent[0])
	require.Equal(t, "started", d.Recent[1].Outcome)
}
