package schedule_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
	"github.com/chorusdev/chorus/schedule"
)

const envCrashDB = "CHORUS_SCHEDULE_CRASH_DB"

var childModes = map[string]func(){"schedule-ticks": scheduleTicksChild}

// scheduleTicksChild creates a per-second schedule on the file (real
// clock) and prints "jobs N" each time the number of action runs grows,
// until it is killed.
func scheduleTicksChild() {
	p := childproc.New("schedule-ticks")
	ctx := context.Background()
	eng, err := chorus.Open(ctx, os.Getenv(envCrashDB), nil)
	if err != nil {
		p.Fail("open: %v", err)
	}
	if err := eng.Register(job); err != nil {
		p.Fail("register: %v", err)
	}
	if err := schedule.Create(ctx, eng, "k", schedule.Spec{Every: time.Second, Overlap: schedule.OverlapAllowAll}, job, false); err != nil {
		p.Fail("create: %v", err)
	}
	last := 0
	for {
		runs, err := eng.List(ctx, &chorus.ListOptions{Workflow: job.Name()})
		if err != nil {
			p.Fail("list: %v", err)
		}
		if len(runs) != last {
			last = len(runs)
			p.Say("jobs %d", last)
		}
		time.Sleep(20 * time.Millisecond) // polling in the child only; the test waits on its lines
	}
}

// TestTicksSurviveSIGKILL kills a process while its schedule ticks every
// second, reopens the file, and checks that the ticks form an unbroken
// series (none lost, the downtime's caught up) and that each was started
// once.
func TestTicksSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("real-clock crash test: skipped with -short")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	c := testutil.StartChild(t, "schedule-ticks", envCrashDB+"="+path)
	killed := c.KillWhen(time.Now().Add(30*time.Second), func(l string) bool { return l == "jobs 2" })
	require.True(t, killed, c.Report())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eng, err := chorus.Open(ctx, path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close(context.Background())) }()
	require.NoError(t, eng.Register(job))
	require.NoError(t, schedule.Register(eng, job))
	list := func() []string {
		runs, err := eng.List(ctx, &chorus.ListOptions{Workflow: job.Name()})
		require.NoError(t, err)
		var ids []string
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		sort.Strings(ids)
		return ids
	}
	require.NoError(t, testutil.Await(ctx, eng, "two more ticks after the restart", func() (bool, error) {
		return len(list()) >= 4, nil
	}))
	require.NoError(t, schedule.Pause(ctx, eng, "k", "stop"))
	d := (&env{t: t, ctx: ctx, eng: eng}).waitFor("k", "paused", func(d schedule.Description) bool { return d.Paused })

	ids := list()
	var ticks []time.Time
	for _, id := range ids {
		ts, ok := strings.CutPrefix(id, "k@")
		require.True(t, ok, id)
		tick, err := time.Parse(time.RFC3339Nano, ts)
		require.NoError(t, err)
		ticks = append(ticks, tick)
	}
	for i := 1; i < len(ticks); i++ {
		require.Equal(t, time.Second, ticks[i].Sub(ticks[i-1]), "ticks %v: none lost", ids)
	}
	already := 0
	for _, a := range d.Recent {
		if a.Outcome == "already-started" {
			already++
		}
	}
	// A tick whose start was cut by the kill is found started after the
	// restart: counted as already-started, never run twice.
	require.Equal(t, int64(len(ids)), d.Started+int64(already), fmt.Sprintf("%+v", d.Recent))
}
