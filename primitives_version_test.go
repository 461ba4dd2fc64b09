package chorus_test

// GetVersion and the upgrade check; the pm* helpers are in
// primitives_more_test.go.

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// ---------------------------------------------------------------------------
// Versioning

// TestGetVersionKeepsReplayedRunsOnTheOldPath: runs that recorded the old
// code's activity B before the deploy replay past the new GetVersion call on
// the old path; runs started under the new code take the new path.
func TestGetVersionKeepsReplayedRunsOnTheOldPath(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	ranB, ranC := make(chan string, 16), make(chan string, 16)
	a := addOne(&c, "pm-v-a")
	b := pmReporter(&c, "pm-v-b", ranB)
	cAct := pmReporter(&c, "pm-v-c", ranC)
	bonus := workflow.NewSignal[int]("pm-v-go")
	oldCode := workflow.New("pm-versioned", func(ctx workflow.Context, n int) (string, error) {
		n, err := workflow.ExecuteActivity(ctx, a, n).Get(ctx)
		if err != nil {
			return "", err
		}
		if n, err = workflow.ExecuteActivity(ctx, b, n).Get(ctx); err != nil {
			return "", err
		}
		x, _ := workflow.GetSignalChannel(ctx, bonus).Receive(ctx)
		return fmt.Sprintf("old n=%d", n+x), nil
	})
	newCode := workflow.New("pm-versioned", func(ctx workflow.Context, n int) (string, error) {
		n, err := workflow.ExecuteActivity(ctx, a, n).Get(ctx)
		if err != nil {
			return "", err
		}
		v := workflow.GetVersion(ctx, "pm-use-c", workflow.DefaultVersion, 1)
		next := b
		if v == 1 {
			next = cAct
		}
		if n, err = workflow.ExecuteActivity(ctx, next, n).Get(ctx); err != nil {
			return "", err
		}
		x, _ := workflow.GetSignalChannel(ctx, bonus).Receive(ctx)
		return fmt.Sprintf("v=%d n=%d", v, n+x), nil
	})
	olds := []string{"pm-v-old-1", "pm-v-old-2", "pm-v-old-3"}
	news := []string{"pm-v-new-1", "pm-v-new-2", "pm-v-new-3"}

	eng, path := setup(t, nil, oldCode, a, b)
	pmStart(ctx, t, eng, oldCode, 1, olds...)
	for range olds {
		recv(t, ranB, "an old run to run B")
	}
	pmCloseGracefully(t, eng) // B's results are recorded; the runs wait for the signal

	eng = openEngine(t, path, nil, newCode, a, b, cAct)
	pmStart(ctx, t, eng, newCode, 1, news...)
	for _, id := range append(slices.Clone(olds), news...) {
		require.NoError(t, chorus.Signal(ctx, eng, id, bonus, 100), id)
	}
	for _, id := range olds {
		got, err := pmResult(ctx, t, eng, newCode, id)
		require.NoError(t, err, id)
		require.Equal(t, "v=-1 n=103", got, "%s replays the old path: GetVersion returns DefaultVersion", id)
		require.Equal(t, 1, c.get(id+"/pm-v-b"), "%s: B ran once, before the deploy", id)
		require.Zero(t, c.get(id+"/pm-v-c"), "%s: C never ran", id)
	}
	for _, id := range news {
		got, err := pmResult(ctx, t, eng, newCode, id)
		require.NoError(t, err, id)
		require.Equal(t, "v=1 n=103", got, "%s takes the new path", id)
		require.Equal(t, 1, c.get(id+"/pm-v-c"), id)
		require.Zero(t, c.get(id+"/pm-v-b"), id)
	}
	for _, id := range append(slices.Clone(olds), news...) {
		require.Equal(t, 1, c.get(id+"/pm-v-a"), id)
		require.Equal(t, chorus.StatusCompleted, pmStatus(ctx, t, eng, id), "%s is not blocked", id)
	}
}

// TestGetVersionRunParkedBeforeTheChangeTakesTheNewPath pins down what
// GetVersion does for a run that was parked (here on a signal) before the
// changed code when the new code was deployed: its journal holds nothing
// past the park point, so it reaches GetVersion for the first time, live,
// records maxSupported and takes the new path (as Temporal's GetVersion
// does). Nothing diverges and no run is blocked.
func TestGetVersionRunParkedBeforeTheChangeTakesTheNewPath(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	ranA := make(chan string, 16)
	a := pmReporter(&c, "pm-vp-a", ranA)
	b, cAct := addOne(&c, "pm-vp-b"), addOne(&c, "pm-vp-c")
	bonus := workflow.NewSignal[int]("pm-vp-go")
	oldCode := workflow.New("pm-vparked", func(ctx workflow.Context, n int) (string, error) {
		n, err := workflow.ExecuteActivity(ctx, a, n).Get(ctx)
		if err != nil {
			return "", err
		}
		x, _ := workflow.GetSignalChannel(ctx, bonus).Receive(ctx)
		n, err = workflow.ExecuteActivity(ctx, b, n+x).Get(ctx)
		return fmt.Sprintf("old n=%d", n), err
	})
	newCode := workflow.New("pm-vparked", func(ctx workflow.Context, n int) (string, error) {
		n, err := workflow.ExecuteActivity(ctx, a, n).Get(ctx)
		if err != nil {
			return "", err
		}
		x, _ := workflow.GetSignalChannel(ctx, bonus).Receive(ctx)
		v := workflow.GetVersion(ctx, "pm-vp-use-c", workflow.DefaultVersion, 1)
		next := b
		if v == 1 {
			next = cAct
		}
		n, err = workflow.ExecuteActivity(ctx, next, n+x).Get(ctx)
		return fmt.Sprintf("v=%d n=%d", v, n), err
	})
	olds := []string{"pm-vp-old-1", "pm-vp-old-2", "pm-vp-old-3"}
	news := []string{"pm-vp-new-1", "pm-vp-new-2", "pm-vp-new-3"}

	eng, path := setup(t, nil, oldCode, a, b)
	pmStart(ctx, t, eng, oldCode, 1, olds...)
	for range olds {
		recv(t, ranA, "an old run to run A")
	}
	pmCloseGracefully(t, eng) // A's results are recorded; the runs wait for the signal

	eng = openEngine(t, path, nil, newCode, a, b, cAct)
	pmStart(ctx, t, eng, newCode, 1, news...)
	all := append(slices.Clone(olds), news...)
	for _, id := range all {
		require.NoError(t, chorus.Signal(ctx, eng, id, bonus, 100), id)
	}
	for _, id := range all {
		got, err := pmResult(ctx, t, eng, newCode, id)
		require.NoError(t, err, id)
		require.Equal(t, "v=1 n=103", got, "%s reached GetVersion live and took the new path", id)
		require.Equal(t, 1, c.get(id+"/pm-vp-a"), id)
		require.Equal(t, 1, c.get(id+"/pm-vp-c"), id)
		require.Zero(t, c.get(id+"/pm-vp-b"), id)
		require.Equal(t, chorus.StatusCompleted, pmStatus(ctx, t, eng, id), "%s is not blocked", id)
	}
}

func TestGetVersionBelowMinSupportedBlocksRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	ran := make(chan string, 16)
	a := addOne(&c, "pm-vm-a")
	b := pmReporter(&c, "pm-vm-b", ran)
	cAct := pmReporter(&c, "pm-vm-c", ran)
	d := addOne(&c, "pm-vm-d")
	done := workflow.NewSignal[int]("pm-vm-done")
	const change = "pm-vm-change"
	// finish waits for the signal and reports the version followed.
	finish := func(ctx workflow.Context, v int) (string, error) {
		workflow.GetSignalChannel(ctx, done).Receive(ctx)
		return fmt.Sprintf("v=%d", v), nil
	}
	v0 := workflow.New("pm-vmin", func(ctx workflow.Context, n int) (string, error) {
		n, _ = workflow.ExecuteActivity(ctx, a, n).Get(ctx)
		workflow.ExecuteActivity(ctx, b, n).Get(ctx)
		return finish(ctx, workflow.DefaultVersion)
	})
	v1 := workflow.New("pm-vmin", func(ctx workflow.Context, n int) (string, error) {
		n, _ = workflow.ExecuteActivity(ctx, a, n).Get(ctx)
		v := workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1)
		if v == 1 {
			workflow.ExecuteActivity(ctx, cAct, n).Get(ctx)
		} else {
			workflow.ExecuteActivity(ctx, b, n).Get(ctx)
		}
		return finish(ctx, v)
	})
	v2 := workflow.New("pm-vmin", func(ctx workflow.Context, n int) (string, error) {
		n, _ = workflow.ExecuteActivity(ctx, a, n).Get(ctx)
		v := workflow.GetVersion(ctx, change, 2, 2) // the branches for versions -1 and 1 were deleted
		workflow.ExecuteActivity(ctx, d, n).Get(ctx)
		return finish(ctx, v)
	})

	// Code without the change records "pm-vmin-default"; code with version
	// 1 records "pm-vmin-one".
	eng, path := setup(t, nil, v0, a, b)
	pmStart(ctx, t, eng, v0, 1, "pm-vmin-default")
	recv(t, ran, "B of pm-vmin-default")
	pmCloseGracefully(t, eng)
	eng = openEngine(t, path, nil, v1, a, b, cAct)
	pmStart(ctx, t, eng, v1, 1, "pm-vmin-one")
	recv(t, ran, "C of pm-vmin-one")
	pmCloseGracefully(t, eng)
	events := map[string]int64{}

	eng = openEngine(t, path, nil, v2, a, b, cAct, d)
	for _, id := range []string{"pm-vmin-default", "pm-vmin-one"} {
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err)
		events[id] = info.Events
	}
	pmStart(ctx, t, eng, v2, 1, "pm-vmin-two")
	for id, want := range map[string]string{"pm-vmin-default": "version -1", "pm-vmin-one": "version 1"} {
		err := chorus.Signal(ctx, eng, id, done, 0)
		require.ErrorIs(t, err, chorus.ErrRunBlocked, id)
		require.ErrorContains(t, err, change, "%s: the error names the change", id)
		require.ErrorContains(t, err, want, id)
		// Result waits for the blocked status to be recorded (Signal may
		// answer before; see TestSignalThatBlocksRunAnswersAfterBlockedStatusIsDurable).
		_, err = pmResult(ctx, t, eng, v2, id)
		var be *chorus.BlockedError
		require.ErrorAs(t, err, &be, id)
		require.Contains(t, be.Reason, change, id)
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err)
		require.Equal(t, chorus.StatusBlocked, info.Status, id)
		require.ErrorContains(t, info.Err, change, id)
		require.Equal(t, events[id], info.Events, "%s: the journal is untouched", id)
	}
	require.NoError(t, chorus.Signal(ctx, eng, "pm-vmin-two", done, 0))
	got, err := pmResult(ctx, t, eng, v2, "pm-vmin-two")
	require.NoError(t, err)
	require.Equal(t, "v=2", got)
	require.Zero(t, c.get("pm-vmin-default/pm-vm-d"))
	require.Zero(t, c.get("pm-vmin-one/pm-vm-d"))
}

// ---------------------------------------------------------------------------
// Upgrade check

func TestCheckUpgradeListsDivergingRunsAndBlocksThemAtOpen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	bStarted := make(chan string, 16)
	a := addOne(&c, "pm-up-a")
	// b blocks in the first execution of each run (until Close interrupts
	// it) and returns at once after that, or for input 100.
	b := activity.New("pm-up-b", func(ctx context.Context, n int) (int, error) {
		id := activity.GetInfo(ctx).RunID
		if c.inc(id+"/pm-up-b") == 1 && n != 100 {
			bStarted <- id
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return n + 1, nil
	})
	cAct := addOne(&c, "pm-up-c")
	twoSteps := func(name string, first, second *activity.Definition[int, int]) *workflow.Definition[int, int] {
		return workflow.New(name, func(ctx workflow.Context, n int) (int, error) {
			n, err := workflow.ExecuteActivity(ctx, first, n).Get(ctx)
			if err != nil {
				return 0, err
			}
			return workflow.ExecuteActivity(ctx, second, n).Get(ctx)
		})
	}
	order, other := twoSteps("pm-up-order", a, b), twoSteps("pm-up-other", a, b)
	changedOrder := twoSteps("pm-up-order", a, cAct) // schedules C where the journals hold B

	eng, path := setup(t, nil, order, other, a, b)
	pmStart(ctx, t, eng, order, 1, "pm-up-div-1", "pm-up-div-2")
	pmStart(ctx, t, eng, other, 1, "pm-up-ok-1")
	done, err := chorus.Start(ctx, eng, order, 99, &chorus.StartOptions{ID: "pm-up-done"})
	require.NoError(t, err)
	v, err := done.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 101, v)
	for range 3 {
		recv(t, bStarted, "B to start")
	}
	closeEngine(t, eng) // B is interrupted: the three runs are left waiting for it

	checkDivergences := func(divs []chorus.Divergence) {
		t.Helper()
		require.Len(t, divs, 2, "%v", divs)
		for i, id := range []string{"pm-up-div-1", "pm-up-div-2"} {
			require.Equal(t, id, divs[i].RunID)
			require.Equal(t, "pm-up-order", divs[i].Workflow)
			var nde *chorus.NonDeterminismError
			require.ErrorAs(t, divs[i].Err, &nde, id)
			require.Equal(t, id, nde.RunID)
			require.EqualValues(t, 4, nde.Step)
			require.Equal(t, `ActivityScheduled "pm-up-b"`, nde.Recorded)
			require.Equal(t, `issues ActivityScheduled "pm-up-c"`, nde.Issued)
		}
	}

	// Incompatible code, workflows only (so no activity runs): the check
	// lists exactly the diverging runs and changes nothing.
	eng = openEngine(t, path, nil, changedOrder, other)
	divs, err := eng.CheckUpgrade(ctx)
	require.NoError(t, err)
	checkDivergences(divs)
	for _, id := range []string{"pm-up-div-1", "pm-up-div-2", "pm-up-ok-1"} {
		require.Equal(t, chorus.StatusRunning, pmStatus(ctx, t, eng, id), "CheckUpgrade changes nothing (%s)", id)
	}
	closeEngine(t, eng)

	// Compatible code: nothing diverges.
	eng = openEngine(t, path, nil, order, other)
	divs, err = eng.CheckUpgrade(ctx)
	require.NoError(t, err)
	require.Empty(t, divs)
	closeEngine(t, eng)

	// CheckUpgrade at Open blocks the diverging runs before any of their
	// work starts; the compatible run goes on.
	eng = openEngine(t, path, &chorus.Options{Definitions: []chorus.Definition{changedOrder, other, a, b, cAct}, CheckUpgrade: true})
	for _, id := range []string{"pm-up-div-1", "pm-up-div-2"} {
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err)
		require.Equal(t, chorus.StatusBlocked, info.Status, id)
		var nde *chorus.NonDeterminismError
		require.ErrorAs(t, info.Err, &nde, id)
		require.EqualValues(t, 4, nde.Step)
	}
	got, err := pmResult(ctx, t, eng, other, "pm-up-ok-1")
	require.NoError(t, err)
	require.Equal(t, 3, got)
	require.Equal(t, 2, c.get("pm-up-ok-1/pm-up-b"), "the compatible run's interrupted B ran again")
	divs, err = eng.CheckUpgrade(ctx)
	require.NoError(t, err)
	checkDivergences(divs)
	closeEngine(t, eng) // waits for any activity attempt still running
	for _, id := range []string{"pm-up-div-1", "pm-up-div-2"} {
		require.Equal(t, 1, c.get(id+"/pm-up-b"), "the blocked run %s did not run its pending B", id)
		require.Zero(t, c.get(id+"/pm-up-c"), id)
	}
}
