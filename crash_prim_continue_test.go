package chorus_test

// Crash-durability tests of continue-as-new. The child processes, the counter
// file and the checks they share are in crash_primitives_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// ---------------------------------------------------------------------------
// 4. Continue-as-new.

type primCANIn struct {
	I, N, Total int
}

// primCANValue is what prim-can-step returns for iteration i.
func primCANValue(i int) int { return i*i + 1 }

func primCANTotal(n int) int {
	t := 0
	for i := range n {
		t += primCANValue(i)
	}
	return t
}

type primCANDefs struct {
	wf   *workflow.Definition[primCANIn, int]
	step *activity.Definition[int, int]
}

// newPrimCANDefs: each generation of the workflow runs prim-can-step once
// for its iteration, then continues as new with the next one, until
// iteration N returns the sum of the steps' results.
func newPrimCANDefs(env primEnv, hook func(ctx context.Context, info activity.Info, i int) error) primCANDefs {
	var d primCANDefs
	d.step = primActivity(env, "prim-can-step", hook, primCANValue)
	step := d.step
	var wf *workflow.Definition[primCANIn, int]
	wf = workflow.New("prim-can-wf", func(ctx workflow.Context, in primCANIn) (int, error) {
		if in.I == in.N {
			return in.Total, nil
		}
		v, err := workflow.ExecuteActivity(ctx, step, in.I).Get(ctx)
		if err != nil {
			return 0, err
		}
		return 0, workflow.ContinueAsNew(ctx, wf, primCANIn{I: in.I + 1, N: in.N, Total: in.Total + v})
	})
	d.wf = wf
	return d
}

// primContinueChild: CHORUS_PRIM_ARG is "<iterations>:<k0>,<k1>,...", one
// run per k; run r's step of iteration k_r prints "blocked <id> <k>" and
// blocks until the process dies (k < 0: it never blocks). Every step prints
// "exec <id> <i>".
func primContinueChild() {
	p := newPrimProc()
	itersS, ksS, ok := strings.Cut(os.Getenv(envPrimArg), ":")
	iters, err := strconv.Atoi(itersS)
	if !ok || err != nil {
		p.Fail("%s=%q", envPrimArg, os.Getenv(envPrimArg))
	}
	var ks []int
	for _, f := range strings.Split(ksS, ",") {
		k, err := strconv.Atoi(f)
		if err != nil {
			p.Fail("%s: %v", envPrimArg, err)
		}
		ks = append(ks, k)
	}
	ids := crashRunIDs(p.prefix, len(ks))
	blockAt := map[string]int{}
	for i, id := range ids {
		blockAt[id] = ks[i]
	}
	eng := p.open(nil)
	d := newPrimCANDefs(p.env, func(ctx context.Context, info activity.Info, i int) error {
		p.Say("exec %s %d", info.RunID, i)
		if i == blockAt[info.RunID] {
			return blockUntilDone(ctx, p.env, "blocked", fmt.Sprintf("%s %d", info.RunID, i))
		}
		return nil
	})
	p.register(eng, d.wf, d.step)
	for _, id := range ids {
		if _, err := chorus.Start(p.ctx, eng, d.wf, primCANIn{N: iters}, &chorus.StartOptions{ID: id}); err != nil {
			p.Fail("start %s: %v", id, err)
		}
		p.Say("started %s", id)
	}
	p.awaitKill()
}

// primCANIterations maps each step of prim-can-step in rj to its
// iteration (the activity's input).
func primCANIterations(t *testing.T, rj crashRunJournal) map[int64]int {
	t.Helper()
	out := map[int64]int{}
	for _, ev := range primEvents(rj, history.EventActivityScheduled) {
		var i int
		require.NoError(t, json.Unmarshal(ev.Payload, &i), "input of %v: %s", ev, ev.Payload)
		out[ev.Seq] = i
	}
	return out
}

// TestPrimCrashContinueAsNew runs 3 loops that continue as new at every
// iteration (one activity per generation, 20 iterations), in a child
// killed once two of them are blocked in the activity of a random
// iteration; the third runs free and is killed wherever it is. After
// reopening, every loop finishes with the right total, its journal holds
// one generation per iteration, and every iteration's activity ran exactly
// once, except the one in flight at the kill, which ran once more. The
// seed is logged.
func TestPrimCrashContinueAsNew(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const iters = 20
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	ks := []int{1 + rng.IntN(iters-2), 1 + rng.IntN(iters-2), -1}
	t.Logf("blocking iterations %v", ks)
	ids := crashRunIDs("prim-can", len(ks))
	ksS := make([]string, len(ks))
	for i, k := range ks {
		ksS[i] = strconv.Itoa(k)
	}
	c := primStartChild(t, "prim-can", s, "1", "prim-can", fmt.Sprintf("%s=%d:%s", envPrimArg, iters, strings.Join(ksS, ",")))
	blocked := 0
	killed := primKillWhen(t, c, func(l string) bool {
		if strings.HasPrefix(l, "blocked ") {
			blocked++
		}
		return blocked == 2
	})
	require.True(t, killed, c.Report())
	snap := s.snapshot(t)
	for r, id := range ids {
		rj := snap[id]
		starts := primEvents(rj, history.EventRunStarted)
		require.NotEmpty(t, starts, "run %s", id)
		var cur primCANIn
		require.NoError(t, json.Unmarshal(starts[len(starts)-1].Payload, &cur))
		require.Equal(t, starts[len(starts)-1].Seq, rj.info.FirstSeq, "run %s: FirstSeq names the current generation", id)
		if ks[r] >= 0 {
			require.Equal(t, ks[r], cur.I, "run %s is blocked in generation %d: %v", id, ks[r], rj)
			require.Equal(t, history.StatusRunning, rj.info.Status)
		} else {
			t.Logf("run %s (free) was at iteration %d at the kill, status %v", id, cur.I, rj.info.Status)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
	defer cancel()
	d := newPrimCANDefs(primEnv{counter: s.counter, gen: "final"}, nil)
	eng, closeEng := primOpen(t, s, nil, d.wf, d.step)
	for _, id := range ids {
		total, err := primResult(t, ctx, eng, s, d.wf, id)
		require.NoError(t, err, "run %s", id)
		require.Equal(t, primCANTotal(iters), total, "run %s", id)
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 2, info.Events, "run %s: the last generation is RunStarted and RunCompleted", id)
	}
	closeEng()

	final := readCrashJournal(t, s.db)
	_, runs := primCheck(t, s, []crashGen{{"1", snap}, {"final", final}})
	for r, id := range ids {
		rj := final[id]
		var inputs []int
		for _, ev := range primEvents(rj, history.EventRunStarted) {
			var in primCANIn
			require.NoError(t, json.Unmarshal(ev.Payload, &in))
			inputs = append(inputs, in.I)
		}
		want := make([]int, iters+1)
		for i := range want {
			want[i] = i
		}
		require.Equal(t, want, inputs, "run %s: one generation per iteration, in order", id)
		require.Len(t, primEvents(rj, history.EventRunContinuedAsNew), iters, "run %s", id)

		iterOf := primCANIterations(t, rj)
		require.Len(t, iterOf, iters, "run %s: one step scheduled per iteration", id)
		twice := 0
		for step, i := range iterOf {
			got := runs[primStep{id, step}]
			switch {
			case ks[r] < 0:
				if len(got) == 2 {
					twice++
					require.False(t, primSettled(snap[id], step), "run %s: iteration %d ran again though its completion was durable", id, i)
				}
				require.NotEmpty(t, got, "run %s: iteration %d never ran", id, i)
			case i < ks[r]:
				require.Equal(t, map[string]int{"1": 1}, got, "run %s, iteration %d\n%s", id, i, s.counterText(t))
			case i == ks[r]:
				require.Equal(t, map[string]int{"1": 1, "final": 1}, got, "run %s, iteration %d (in flight at the kill)\n%s", id, i, s.counterText(t))
			default:
				require.Equal(t, map[string]int{"final": 1}, got, "run %s, iteration %d\n%s", id, i, s.counterText(t))
			}
		}
		require.LessOrEqual(t, twice, 1, "run %s: only the step in flight at the kill may run twice\n%s", id, s.counterText(t))
	}
}
