package chorus_test

// Crash-durability tests of child workflows. The child processes, the counter
// file and the checks they share are in crash_primitives_test.go.

import (
	"context"
	"encoding/json"
	"errors"
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
// 3. Child workflows.

type primChildWFDefs struct {
	parent *workflow.Definition[string, string]
	child  *workflow.Definition[string, string]
	acts   []*activity.Definition[string, string] // pre, a, b, c, post
}

func (d primChildWFDefs) all() []chorus.Definition {
	defs := []chorus.Definition{d.parent, d.child}
	for _, a := range d.acts {
		defs = append(defs, a)
	}
	return defs
}

// newPrimChildWFDefs: the parent runs prim-parent-pre, then a child (with
// the ID its input names, or the default one when empty) that runs
// prim-child-a, -b and -c, then prim-parent-post on the child's result and
// ID. hooks are keyed by activity name.
func newPrimChildWFDefs(env primEnv, hooks map[string]func(context.Context, activity.Info, string) error) primChildWFDefs {
	var d primChildWFDefs
	for _, name := range []string{"prim-parent-pre", "prim-child-a", "prim-child-b", "prim-child-c", "prim-parent-post"} {
		d.acts = append(d.acts, primActivity(env, name, hooks[name], appendName(name)))
	}
	pre, a, b, c, post := d.acts[0], d.acts[1], d.acts[2], d.acts[3], d.acts[4]
	d.child = workflow.New("prim-child-wf", func(ctx workflow.Context, in string) (string, error) {
		v := in
		for _, act := range []*activity.Definition[string, string]{a, b, c} {
			var err error
			if v, err = workflow.ExecuteActivity(ctx, act, v).Get(ctx); err != nil {
				return "", err
			}
		}
		return v, nil
	})
	child := d.child
	d.parent = workflow.New("prim-parent-wf", func(ctx workflow.Context, childID string) (string, error) {
		v, err := workflow.ExecuteActivity(ctx, pre, workflow.GetInfo(ctx).RunID).Get(ctx)
		if err != nil {
			return "", err
		}
		f := workflow.ExecuteChildWorkflow(ctx, child, v, &workflow.ChildOptions{ID: childID})
		if v, err = f.Get(ctx); err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, post, v+"@"+f.RunID()).Get(ctx)
	})
	return d
}

// primChildExplicitID is the child ID that parent run i names, or "" for
// the default ID (odd i).
func primChildExplicitID(id string, i int) string {
	if i%2 == 0 {
		return id + "-kid"
	}
	return ""
}

// primChildWorkflowChild starts CHORUS_PRIM_RUNS parent runs; in each
// child run, prim-child-b prints "blocked <child run ID>" and blocks until
// the process dies.
//
// With CHORUS_PRIM_ARG=free nothing blocks: it looks up each parent run,
// starting the missing ones ("started <id>"), every activity prints "exec
// <run> <activity>", and once every parent's result is right it prints
// "alldone", closes the engine and exits 0 (unless it was killed first).
func primChildWorkflowChild() {
	p := newPrimProc()
	n := p.Num(envPrimRuns)
	free := os.Getenv(envPrimArg) == "free"
	eng := p.open(nil)
	hooks := map[string]func(context.Context, activity.Info, string) error{
		"prim-child-b": func(ctx context.Context, info activity.Info, _ string) error {
			return blockUntilDone(ctx, p.env, "blocked", info.RunID)
		},
	}
	if free {
		hooks = map[string]func(context.Context, activity.Info, string) error{}
		for _, name := range []string{"prim-parent-pre", "prim-child-a", "prim-child-b", "prim-child-c", "prim-parent-post"} {
			hooks[name] = func(_ context.Context, info activity.Info, _ string) error {
				p.Say("exec %s %s", info.RunID, name)
				return nil
			}
		}
	}
	d := newPrimChildWFDefs(p.env, hooks)
	p.register(eng, d.all()...)
	ids := crashRunIDs(p.prefix, n)
	runs := make([]*chorus.Run[string], n)
	for i, id := range ids {
		r, err := chorus.Lookup(p.ctx, eng, d.parent, id)
		if errors.Is(err, chorus.ErrRunNotFound) || !free {
			r, err = chorus.Start(p.ctx, eng, d.parent, primChildExplicitID(id, i), &chorus.StartOptions{ID: id})
			if err == nil {
				p.Say("started %s", id)
			}
		}
		if err != nil {
			p.Fail("run %s: %v", id, err)
		}
		runs[i] = r
	}
	if !free {
		p.awaitKill()
	}
	rctx, rcancel := context.WithTimeout(p.ctx, primDeadline*2/3)
	defer rcancel()
	for _, r := range runs {
		out, err := r.Result(rctx)
		if err != nil || !strings.HasPrefix(out, r.ID()+"|prim-parent-pre|") {
			p.dumpRuns(eng)
			p.dumpGoroutines()
			p.Fail("run %s: Result = %q, %v", r.ID(), out, err)
		}
	}
	p.Say("alldone")
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(p.ctx, primDeadline/8)
		defer cancel()
		closed <- eng.Close(ctx)
	}()
	select {
	case err := <-closed:
		if err != nil {
			p.Fail("close: %v", err)
		}
	case <-time.After(primDeadline / 4):
		p.dumpGoroutines()
		p.Fail("Close did not return")
	}
	os.Exit(0)
}

// primChildIDOf returns the ID of the child that the journal of a parent
// started, from its ChildStarted event.
func primChildIDOf(t *testing.T, rj crashRunJournal) (string, history.Event) {
	t.Helper()
	evs := primEvents(rj, history.EventChildStarted)
	require.Len(t, evs, 1, "the parent started one child: %v", rj)
	var cp struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(evs[0].Payload, &cp), "ChildStarted payload %s", evs[0].Payload)
	return cp.ID, evs[0]
}

// TestPrimCrashChildWorkflow kills a child process while 4 parent runs
// wait on their child workflows, each child blocked in its second activity
// (two children have explicit IDs, two the default one). After reopening,
// each child's interrupted activity runs again, the child finishes, and
// the parent gets its result and finishes; no activity of parent or child
// whose completion was durable runs again, and no child run is started
// twice.
func TestPrimCrashChildWorkflow(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const n = 4
	ids := crashRunIDs("prim-cw", n)
	c := primStartChild(t, "prim-childwf", s, "1", "prim-cw", envPrimRuns+"="+strconv.Itoa(n))
	blocked := map[string]bool{}
	killed := primKillWhen(t, c, func(l string) bool {
		if id, ok := strings.CutPrefix(l, "blocked "); ok {
			blocked[id] = true
		}
		return len(blocked) == n
	})
	require.True(t, killed, c.Report())
	snap := s.snapshot(t)
	childOf := map[string]string{}
	for i, id := range ids {
		prj := snap[id]
		require.True(t, prj.completed("prim-parent-pre"), "run %s: %v", id, prj)
		kid, started := primChildIDOf(t, prj)
		if want := primChildExplicitID(id, i); want != "" {
			require.Equal(t, want, kid, "run %s", id)
		} else {
			require.Equal(t, fmt.Sprintf("%s/%d", id, started.Seq), kid, "run %s: the default child ID is the parent's ID, \"/\", and the step", id)
		}
		childOf[id] = kid
		require.True(t, blocked[kid], "child %s of %s was seen blocked in prim-child-b", kid, id)
		require.Empty(t, primEvents(prj, history.EventChildCompleted), "run %s: %v", id, prj)
		crj, ok := snap[kid]
		require.True(t, ok, "child %s is in the journal", kid)
		require.Equal(t, id, crj.info.Parent, "child %s", kid)
		require.Equal(t, started.Seq, crj.info.ParentStep, "child %s", kid)
		require.True(t, crj.completed("prim-child-a"), "child %s: %v", kid, crj)
		require.False(t, crj.completed("prim-child-b"), "child %s: %v", kid, crj)
	}

	ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
	defer cancel()
	d := newPrimChildWFDefs(primEnv{counter: s.counter, gen: "final"}, nil)
	eng, closeEng := primOpen(t, s, nil, d.all()...)
	for _, id := range ids {
		out, err := primResult(t, ctx, eng, s, d.parent, id)
		require.NoError(t, err, "run %s", id)
		want := id + "|prim-parent-pre|prim-child-a|prim-child-b|prim-child-c@" + childOf[id] + "|prim-parent-post"
		require.Equal(t, want, out, "run %s", id)
		kid, err := chorus.Lookup(ctx, eng, d.child, childOf[id])
		require.NoError(t, err)
		kout, err := kid.Result(ctx)
		require.NoError(t, err, "child %s", childOf[id])
		require.Equal(t, id+"|prim-parent-pre|prim-child-a|prim-child-b|prim-child-c", kout)
	}
	all, err := eng.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, all, 2*n, "one child per parent: %+v", all)
	closeEng()

	final := readCrashJournal(t, s.db)
	recs, _ := primCheck(t, s, []crashGen{{"1", snap}, {"final", final}})
	for _, id := range ids {
		kid := childOf[id]
		_, started := primChildIDOf(t, final[id])
		done := primEvents(final[id], history.EventChildCompleted)
		require.Len(t, done, 1, "run %s: %v", id, final[id])
		require.Equal(t, started.Seq, done[0].Ref, "run %s", id)
		require.Equal(t, map[string]int{"1": 1}, crashCountExecs(recs, id, "prim-parent-pre"), "run %s\n%s", id, s.counterText(t))
		require.Equal(t, map[string]int{"final": 1}, crashCountExecs(recs, id, "prim-parent-post"), "run %s\n%s", id, s.counterText(t))
		require.Equal(t, map[string]int{"1": 1}, crashCountExecs(recs, kid, "prim-child-a"), "child %s\n%s", kid, s.counterText(t))
		require.Equal(t, map[string]int{"1": 1, "final": 1}, crashCountExecs(recs, kid, "prim-child-b"), "child %s\n%s", kid, s.counterText(t))
		require.Equal(t, map[string]int{"final": 1}, crashCountExecs(recs, kid, "prim-child-c"), "child %s\n%s", kid, s.counterText(t))
	}
}

// primChildWant is the result of parent run id whose child has ID kid.
func primChildWant(id, kid string) string {
	return id + "|prim-parent-pre|prim-child-a|prim-child-b|prim-child-c@" + kid + "|prim-parent-post"
}

// TestPrimCrashChildWorkflowKillCycles drives 6 parent runs, each with a
// child workflow, through 3 child processes, each killed at a random
// moment (after a random number of Starts and activity executions, so
// between any two steps of parents and children: before a child exists,
// while it runs, while its parent is being told how it ended), then
// finishes them in this process. Every parent gets its child's result,
// exactly one child run exists per parent, and no activity of parent or
// child whose completion was durable when a process was killed ran again.
// The seed is logged.
func TestPrimCrashChildWorkflowKillCycles(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const n, cycles = 6, 3
	ids := crashRunIDs("prim-cwk", n)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	var gens []crashGen
	for g := 1; g <= cycles; g++ {
		gen := strconv.Itoa(g)
		c := primStartChild(t, "prim-childwf", s, gen, "prim-cwk", envPrimRuns+"="+strconv.Itoa(n), envPrimArg+"=free")
		seen := 0
		killed := primKillWhen(t, c, crashAfterSteps(1+rng.IntN(30), &seen))
		snap := s.snapshot(t)
		gens = append(gens, crashGen{gen, snap})
		t.Logf("cycle %d: killed=%v after %d starts and executions; %d runs in the journal", g, killed, seen, len(snap))
	}

	ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
	defer cancel()
	d := newPrimChildWFDefs(primEnv{counter: s.counter, gen: "final"}, nil)
	eng, closeEng := primOpen(t, s, nil, d.all()...)
	for i, id := range ids {
		if _, err := chorus.Lookup(ctx, eng, d.parent, id); errors.Is(err, chorus.ErrRunNotFound) {
			_, err = chorus.Start(ctx, eng, d.parent, primChildExplicitID(id, i), &chorus.StartOptions{ID: id})
			require.NoError(t, err)
		}
	}
	outs := map[string]string{}
	for _, id := range ids {
		out, err := primResult(t, ctx, eng, s, d.parent, id)
		require.NoError(t, err, "run %s", id)
		outs[id] = out
	}
	all, err := eng.List(ctx, nil)
	require.NoError(t, err)
	closeEng()

	final := readCrashJournal(t, s.db)
	gens = append(gens, crashGen{"final", final})
	recs, _ := primCheck(t, s, gens)
	require.Len(t, all, 2*n, "one child run per parent: %+v", all)
	for i, id := range ids {
		kid, started := primChildIDOf(t, final[id])
		if want := primChildExplicitID(id, i); want != "" {
			require.Equal(t, want, kid)
		} else {
			require.Equal(t, fmt.Sprintf("%s/%d", id, started.Seq), kid)
		}
		require.Equal(t, primChildWant(id, kid), outs[id], "run %s", id)
		require.Len(t, primEvents(final[id], history.EventChildCompleted), 1, "run %s: %v", id, final[id])
		require.Equal(t, history.StatusCompleted, final[kid].info.Status, "child %s: %v", kid, final[kid])
		require.Equal(t, id, final[kid].info.Parent, "child %s", kid)
		for _, pair := range [][2]string{{id, "prim-parent-pre"}, {id, "prim-parent-post"}, {kid, "prim-child-a"}, {kid, "prim-child-b"}, {kid, "prim-child-c"}} {
			require.Len(t, primScheduled(final[pair[0]], pair[1]), 1, "run %s scheduled %s once: %v", pair[0], pair[1], final[pair[0]])
			require.NotEmpty(t, crashCountExecs(recs, pair[0], pair[1]), "run %s: %s never ran", pair[0], pair[1])
		}
	}
}
