package chorus_test

// Continue-as-new; the pm* helpers are in primitives_more_test.go.

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// ---------------------------------------------------------------------------
// Continue-as-new

func TestContinueAsNewRunsEachGenerationOnce(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	step := activity.New("pm-can-step", func(ctx context.Context, n int) (int, error) {
		c.inc(fmt.Sprintf("input-%d", n))
		return n + 1, nil
	})
	var counterWF *workflow.Definition[int, int]
	counterWF = workflow.New("pm-can-counter", func(ctx workflow.Context, n int) (int, error) {
		n, err := workflow.ExecuteActivity(ctx, step, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		if n < 6 {
			return 0, workflow.ContinueAsNew(ctx, counterWF, n)
		}
		return n * 100, nil
	})
	eng, _ := setup(t, nil, counterWF, step)

	run, err := chorus.Start(ctx, eng, counterWF, 0, &chorus.StartOptions{ID: "pm-can"})
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err, "Result of the original handle follows the run to its last generation")
	require.Equal(t, 600, got)
	for n := range 6 {
		require.Equal(t, 1, c.get(fmt.Sprintf("input-%d", n)), "the activity of generation %d ran exactly once", n+1)
	}
	require.Zero(t, c.get("input-6"))
	info, err := eng.Describe(ctx, "pm-can")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusCompleted, info.Status)
	require.NoError(t, info.Err)
	require.EqualValues(t, 4, info.Events,
		"Describe counts the last generation's journal: started, scheduled, completed, run completed")
}

type pmGen struct {
	Gen int
	Got []string
}

// pmGenerations continues as new after each signal until it received last
// of them. Each generation first runs report (so a test knows the
// generation is current), then waits for one signal.
func pmGenerations(name string, report *activity.Definition[int, int], sig *workflow.Signal[string], last int) *workflow.Definition[pmGen, pmGen] {
	var wf *workflow.Definition[pmGen, pmGen]
	wf = workflow.New(name, func(ctx workflow.Context, st pmGen) (pmGen, error) {
		st.Gen++
		if _, err := workflow.ExecuteActivity(ctx, report, st.Gen).Get(ctx); err != nil {
			return st, err
		}
		v, _ := workflow.GetSignalChannel(ctx, sig).Receive(ctx)
		st.Got = append(st.Got, fmt.Sprintf("gen%d:%s", st.Gen, v))
		if st.Gen < last {
			return pmGen{}, workflow.ContinueAsNew(ctx, wf, st)
		}
		return st, nil
	})
	return wf
}

func TestContinueAsNewSignalReachesCurrentGeneration(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	gens := make(chan int, 8)
	report := activity.New("pm-cans-report", func(ctx context.Context, gen int) (int, error) {
		c.inc(fmt.Sprintf("gen-%d", gen))
		gens <- gen
		return gen, nil
	})
	sig := workflow.NewSignal[string]("pm-cans-next")
	wf := pmGenerations("pm-cans", report, sig, 3)
	eng, _ := setup(t, nil, wf, report)

	run, err := chorus.Start(ctx, eng, wf, pmGen{}, &chorus.StartOptions{ID: "pm-cans"})
	require.NoError(t, err)
	for g := 1; g <= 3; g++ {
		require.Equal(t, g, recv(t, gens, fmt.Sprintf("generation %d to start", g)))
		// Generation g is current: the previous one ended when it got its
		// signal, and this one has not received one yet.
		require.NoError(t, chorus.Signal(ctx, eng, "pm-cans", sig, fmt.Sprintf("s%d", g)))
	}
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, pmGen{Gen: 3, Got: []string{"gen1:s1", "gen2:s2", "gen3:s3"}}, got)
	for g := 1; g <= 3; g++ {
		require.Equal(t, 1, c.get(fmt.Sprintf("gen-%d", g)))
	}
	require.Equal(t, chorus.StatusCompleted, pmStatus(ctx, t, eng, "pm-cans"))
}

func TestContinueAsNewResumesCurrentGenerationAfterReopen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	gens := make(chan int, 8)
	report := activity.New("pm-canr-report", func(ctx context.Context, gen int) (int, error) {
		c.inc(fmt.Sprintf("gen-%d", gen))
		gens <- gen
		return gen, nil
	})
	sig := workflow.NewSignal[string]("pm-canr-next")
	wf := pmGenerations("pm-canr", report, sig, 3)
	eng, path := setup(t, nil, wf, report)

	_, err := chorus.Start(ctx, eng, wf, pmGen{}, &chorus.StartOptions{ID: "pm-canr"})
	require.NoError(t, err)
	require.Equal(t, 1, recv(t, gens, "generation 1 to start"))
	require.NoError(t, chorus.Signal(ctx, eng, "pm-canr", sig, "a"))
	require.Equal(t, 2, recv(t, gens, "generation 2 to start"))
	pmCloseGracefully(t, eng) // generation 2's activity result is recorded; it waits for a signal

	eng = openEngine(t, path, nil, wf, report)
	require.NoError(t, chorus.Signal(ctx, eng, "pm-canr", sig, "b"),
		"after reopen the run replays from the start of its current generation (needs the store to keep FirstSeq)")
	require.Equal(t, 3, recv(t, gens, "generation 3 to start"))
	require.NoError(t, chorus.Signal(ctx, eng, "pm-canr", sig, "c"))
	got, err := pmResult(ctx, t, eng, wf, "pm-canr")
	require.NoError(t, err)
	require.Equal(t, pmGen{Gen: 3, Got: []string{"gen1:a", "gen2:b", "gen3:c"}}, got)
	for g := 1; g <= 3; g++ {
		require.Equal(t, 1, c.get(fmt.Sprintf("gen-%d", g)), "generation %d's activity ran once", g)
	}
}
