package chorus_test

// Crash-durability tests of signals. The child processes, the counter
// file and the checks they share are in crash_primitives_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// ---------------------------------------------------------------------------
// 2. Signals.

var primSignal = workflow.NewSignal[string]("prim-sig")

type primSignalDefs struct {
	wf  *workflow.Definition[int, []string]
	ack *activity.Definition[string, string]
}

func (d primSignalDefs) all() []chorus.Definition { return []chorus.Definition{d.wf, d.ack} }

// newPrimSignalDefs: the workflow receives as many prim-sig signals as its
// input says, one at a time, running prim-sig-ack on each before waiting
// for the next, and returns the acknowledged values in order.
func newPrimSignalDefs(env primEnv) primSignalDefs {
	var d primSignalDefs
	d.ack = primActivity(env, "prim-sig-ack", nil, appendName("ack"))
	ack := d.ack
	d.wf = workflow.New("prim-sig-wf", func(ctx workflow.Context, n int) ([]string, error) {
		ch := workflow.GetSignalChannel(ctx, primSignal)
		got := make([]string, 0, n)
		for range n {
			v, _ := ch.Receive(ctx)
			a, err := workflow.ExecuteActivity(ctx, ack, v).Get(ctx)
			if err != nil {
				return nil, err
			}
			got = append(got, a)
		}
		return got, nil
	})
	return d
}

func primSignalValue(id string, i int) string { return fmt.Sprintf("%s:v%d", id, i) }

// primSignalChild: CHORUS_PRIM_ARG is "<signals per run>,<signals to send
// per run>". It starts the runs (unless CHORUS_PRIM_LATE=1: the runs exist,
// and it signals before registering anything), then sends each run its
// share of signals, one goroutine per run, printing "signaled <id> <i>"
// after each Signal returned (or "refused <id> <i> <err>", after which it
// stops sending to that run), and "sent" at the end.
func primSignalChild() {
	p := newPrimProc()
	n := p.Num(envPrimRuns)
	var k, share int
	if _, err := fmt.Sscanf(os.Getenv(envPrimArg), "%d,%d", &k, &share); err != nil {
		p.Fail("%s: %v", envPrimArg, err)
	}
	late := os.Getenv(envPrimLate) == "1"
	eng := p.open(nil)
	d := newPrimSignalDefs(p.env)
	ids := crashRunIDs(p.prefix, n)
	if !late {
		p.register(eng, d.all()...)
		for _, id := range ids {
			if _, err := chorus.Start(p.ctx, eng, d.wf, k, &chorus.StartOptions{ID: id}); err != nil {
				p.Fail("start %s: %v", id, err)
			}
			p.Say("started %s", id)
		}
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			for i := range share {
				ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
				err := chorus.Signal(ctx, eng, id, primSignal, primSignalValue(id, i))
				cancel()
				if err != nil {
					if !late {
						p.Fail("signal %s %d: %v", id, i, err)
					}
					p.Say("refused %s %d %v", id, i, err)
					return
				}
				p.Say("signaled %s %d", id, i)
			}
		})
	}
	wg.Wait()
	p.Say("sent")
	p.awaitKill()
}

// primSignalsIn returns the values of the prim-sig signals rj accepted, in
// the order it accepted them: those received, and those queued for
// delivery (by an engine that had not registered the workflow yet) at
// their place in the queue, once whether or not delivered since.
func primSignalsIn(t *testing.T, rj crashRunJournal) []string {
	var out []string
	queued := map[int64]bool{}
	for _, ev := range rj.events {
		var b []byte
		switch {
		case ev.Type == history.EventInputQueued:
			q, err := history.DecodeInputQueued(ev.Payload)
			require.NoError(t, err)
			if q.Signal != primSignal.Name() {
				continue
			}
			queued[ev.Seq] = true
			b = q.Value
		case ev.Type == history.EventSignalReceived && ev.Name == primSignal.Name() && !queued[ev.Ref]:
			b = ev.Payload
		default:
			continue
		}
		var v string
		require.NoError(t, json.Unmarshal(b, &v), "signal payload %s", b)
		out = append(out, v)
	}
	return out
}

// primCheckSignalsDurable checks, against the journal a killed child left,
// that every signal whose chorus.Signal returned nil there (its line is in
// lines) is durable, and that each run's signals are a prefix of the sent
// sequence. It returns how many signals each run holds.
func primCheckSignalsDurable(t *testing.T, snap crashJournal, ids []string, lines []string) map[string]int {
	t.Helper()
	acked := map[string]int{} // run -> how many Signal calls returned nil
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "signaled" {
			i, err := strconv.Atoi(f[2])
			require.NoError(t, err, l)
			acked[f[1]] = max(acked[f[1]], i+1)
		}
	}
	held := map[string]int{}
	for _, id := range ids {
		got := primSignalsIn(t, snap[id])
		var want []string
		for i := range got {
			want = append(want, primSignalValue(id, i))
		}
		require.Equal(t, want, got, "run %s: the journal holds signals that are not a prefix of those sent, in order", id)
		held[id] = len(got)
		if acked[id] > len(got) {
			t.Errorf("run %s: chorus.Signal returned nil for %d signals (%q to %q) in the killed process, but the journal it left holds only %d of them: %d acknowledged signal(s) were lost",
				id, acked[id], primSignalValue(id, 0), primSignalValue(id, acked[id]-1), len(got), acked[id]-len(got))
		}
	}
	return held
}

// primFinishSignals opens the database in this process, sends each run the
// signals its journal does not hold yet (up to k in all), and checks that
// every run received each of its k signals exactly once, in send order,
// and acknowledged each with one execution (two at most for one that was
// in flight at a kill).
func primFinishSignals(t *testing.T, s crashSetup, ids []string, k int, held map[string]int, gens []crashGen) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
	defer cancel()
	d := newPrimSignalDefs(primEnv{counter: s.counter, gen: "final"})
	eng, closeEng := primOpen(t, s, nil, d.all()...)
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Go(func() {
			for i := held[id]; i < k; i++ {
				if err := chorus.Signal(ctx, eng, id, primSignal, primSignalValue(id, i)); err != nil {
					errs <- fmt.Errorf("signal %s %d: %w", id, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, id := range ids {
		got, err := primResult(t, ctx, eng, s, d.wf, id)
		require.NoError(t, err, "run %s", id)
		want := make([]string, k)
		for i := range want {
			want[i] = primSignalValue(id, i) + "|ack"
		}
		require.Equal(t, want, got, "run %s received its signals", id)
	}
	closeEng()

	final := readCrashJournal(t, s.db)
	gens = append(gens, crashGen{"final", final})
	_, runs := primCheck(t, s, gens)
	for _, id := range ids {
		want := make([]string, k)
		for i := range want {
			want[i] = primSignalValue(id, i)
		}
		require.Equal(t, want, primSignalsIn(t, final[id]), "run %s: every signal journaled once, in send order", id)
		counts := primStepCounts(final, runs, id, "prim-sig-ack")
		require.Len(t, counts, k, "run %s acknowledged every signal once in its journal", id)
		for i, m := range counts {
			total := 0
			for _, n := range m {
				total += n
			}
			require.True(t, total == 1 || total == 2 && m["final"] == 1,
				"run %s: the ack of signal %d ran %v times per generation\n%s", id, i, m, s.counterText(t))
		}
	}
}

// TestPrimCrashSignals starts 6 runs that each wait for 8 signals, and has
// a child send 5 of them to each run, concurrently, killing it after a
// random number of Signal calls returned. Each signal acknowledged before
// the kill is in the journal; after reopening, this process sends each run
// the signals its journal lacks, and each run receives all 8 exactly once,
// in order, with no acknowledging activity whose completion was durable
// run again. The seed is logged.
func TestPrimCrashSignals(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const n, k, share = 6, 8, 5
	ids := crashRunIDs("prim-sig", n)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	limit := 1 + rand.New(rand.NewPCG(seed, 0)).IntN(n*share)
	c := primStartChild(t, "prim-signal", s, "1", "prim-sig", envPrimRuns+"="+strconv.Itoa(n), fmt.Sprintf("%s=%d,%d", envPrimArg, k, share))
	seen := 0
	killed := primKillWhen(t, c, func(l string) bool {
		if strings.HasPrefix(l, "signaled ") {
			seen++
		}
		return seen >= limit || l == "sent"
	})
	require.True(t, killed, c.Report())
	snap := s.snapshot(t)
	require.Len(t, snap, n, "every Start returned before the first signal\n%s", c.Report())
	held := primCheckSignalsDurable(t, snap, ids, c.Lines())
	t.Logf("killed after %d acknowledged signals (limit %d); the journal holds %v", seen, limit, held)
	primFinishSignals(t, s, ids, k, held, []crashGen{{"1", snap}})
}

// TestPrimCrashSignalBeforeRegister starts 3 runs that wait for 4 signals,
// then has a child open the database and send each run 2 signals before
// it registers anything (an application serving requests while it is still
// starting up), and kills it once every Signal call returned. chorus.Signal
// documents that it returns once the signal is journaled; each signal
// whose call returned nil must therefore be in the journal the killed child
// left (refusing the signal with an error is fine). After reopening, the
// runs get the signals their journals lack and must complete. (Before
// commit 0aac29e the engine parked such a signal in memory until Register
// and acknowledged it at once: Signal returned nil, and the kill lost every
// one of them; this test reproduced that every time.)
func TestPrimCrashSignalBeforeRegister(t *testing.T) {
	t.Parallel()
	s := newCrashSetup(t)
	const n, k, share = 3, 4, 2
	ids := crashRunIDs("prim-sig-late", n)
	ctx, cancel := context.WithTimeout(context.Background(), primDeadline)
	defer cancel()
	d := newPrimSignalDefs(primEnv{counter: s.counter, gen: "0"})
	eng, closeEng := primOpen(t, s, nil, d.all()...)
	for _, id := range ids {
		_, err := chorus.Start(ctx, eng, d.wf, k, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	closeEng()
	gen0 := readCrashJournal(t, s.db)

	c := primStartChild(t, "prim-signal", s, "1", "prim-sig-late", envPrimRuns+"="+strconv.Itoa(n),
		fmt.Sprintf("%s=%d,%d", envPrimArg, k, share), envPrimLate+"=1")
	killed := primKillWhen(t, c, func(l string) bool { return l == "sent" })
	require.True(t, killed, c.Report())
	for _, l := range c.Lines() {
		if strings.HasPrefix(l, "refused ") {
			t.Logf("child: %s", l)
		}
	}
	snap := s.snapshot(t)
	held := primCheckSignalsDurable(t, snap, ids, c.Lines())
	primFinishSignals(t, s, ids, k, held, []crashGen{{"0", gen0}, {"1", snap}})
}
