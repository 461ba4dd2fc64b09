package decide_test

// A real crash: the test binary re-executed as a child process switches the
// model off through its drift watch, opens a case that waits for a person,
// and is SIGKILLed there. The test then opens the database and finishes the
// case.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
)

const envCrashDB = "DECIDE_CRASH_DB"

func init() {
	childModes["decide-crash"] = crashChild
}

func crashChild() {
	p := childproc.New("decide crash child")
	p.Require(envCrashDB)
	ctx := context.Background()
	eng, err := chorus.Open(ctx, os.Getenv(envCrashDB), nil)
	if err != nil {
		p.Fail("open: %v", err)
	}
	if err := eng.Register(append(decide.Definitions(eng), WatchedLoan, creditModel)...); err != nil {
		p.Fail("register: %v", err)
	}
	for i := 1; i <= 3; i++ { // three disagreements switch the model off
		id := fmt.Sprintf("k%d", i)
		run, err := chorus.Start(ctx, eng, WatchedLoan, App{ID: id, Risk: 0.5, Confidence: 0.9, Version: "v1"}, &chorus.StartOptions{ID: id})
		if err != nil {
			p.Fail("start %s: %v", id, err)
		}
		if err := chorus.Signal(ctx, eng, id, Verdict, decide.Answer{Outcome: "decline", By: "uw:bob"}); err != nil {
			p.Fail("signal %s: %v", id, err)
		}
		if _, err := run.Result(ctx); err != nil {
			p.Fail("result %s: %v", id, err)
		}
	}
	onAskMu.Lock()
	onAsk = func(id string) { p.Say("asked %s", id) }
	onAskMu.Unlock()
	if _, err := chorus.Start(ctx, eng, WatchedLoan, App{ID: "open", Risk: 0.1, Confidence: 0.9, Version: "v1"}, &chorus.StartOptions{ID: "open"}); err != nil {
		p.Fail("start open: %v", err)
	}
	select {} // until the parent kills us
}

func TestDecisionSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "loans.db")
	deadline := time.Now().Add(time.Minute)
	c := testutil.StartChild(t, "decide-crash", envCrashDB+"="+db)
	killed := c.KillWhen(deadline, func(line string) bool { return line == "asked open" })
	require.True(t, killed, "the child did not die by SIGKILL\n%s", c.Report())

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	eng, err := chorus.Open(ctx, db, nil)
	require.NoError(t, err)
	defer closeEngine(t, eng)
	require.NoError(t, eng.Register(append(decide.Definitions(eng), WatchedLoan, creditModel)...))

	st, err := decide.WatchStatus(ctx, eng, "credit-score")
	require.NoError(t, err)
	require.False(t, st.Enabled, "the switch survived the crash")
	require.Equal(t, "watch", st.Switches[0].By)

	require.NoError(t, chorus.Signal(ctx, eng, "open", Verdict, decide.Answer{Outcome: "approve", By: "uw:carol"}))
	run, err := chorus.Lookup(ctx, eng, WatchedLoan, "open")
	require.NoError(t, err)
	d, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, decide.FallbackModelOff, d.Fallback)
	require.Equal(t, decide.ByPerson, d.DecidedBy)
	require.Equal(t, "uw:carol", d.Person)
	recs, err := decide.Records(ctx, eng, "open")
	require.NoError(t, err)
	require.Equal(t, []decide.Decision{d}, recs)
	st, err = decide.WatchStatus(ctx, eng, "credit-score")
	require.NoError(t, err)
	require.Equal(t, 4, st.Counters.Decisions, "each decision counted once")
}
