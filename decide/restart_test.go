package decide_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/workflow"
)

func openEngine(t *testing.T, path string, clk clock.Clock) *chorus.Engine {
	t.Helper()
	eng, err := chorus.Open(context.Background(), path, &chorus.Options{
		Clock:  clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	require.NoError(t, eng.Register(append(decide.Definitions(eng), Loan, WatchedLoan, creditModel)...))
	return eng
}

func closeEngine(t *testing.T, eng *chorus.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, eng.Close(ctx))
}

// A case waiting for a person, and the watch's switch, survive a restart:
// the person's answer after the reopen completes the decision, and the
// model stays off until an operator enables it.
func TestDecisionsSurviveRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "loans.db")
	clk := clock.NewMock()
	eng := openEngine(t, path, clk)

	answer := func(eng *chorus.Engine, id, outcome string) decide.Decision {
		t.Helper()
		require.NoError(t, chorus.Signal(ctx, eng, id, Verdict, decide.Answer{Outcome: outcome, By: "uw:bob"}))
		run, err := chorus.Lookup(ctx, eng, WatchedLoan, id)
		require.NoError(t, err)
		d, err := run.Result(ctx)
		require.NoError(t, err)
		return d
	}
	for i := 1; i <= 3; i++ { // three disagreements switch the model off
		id := fmt.Sprintf("d%d", i)
		_, err := chorus.Start(ctx, eng, WatchedLoan, App{ID: id, Risk: 0.5, Confidence: 0.9, Version: "v1"}, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		answer(eng, id, "decline")
	}
	// An open case, waiting for its person when the process stops.
	asked := make(chan string, 1)
	onAskMu.Lock()
	onAsk = func(id string) { asked <- id }
	onAskMu.Unlock()
	t.Cleanup(func() { onAskMu.Lock(); onAsk = nil; onAskMu.Unlock() })
	_, err := chorus.Start(ctx, eng, WatchedLoan, App{ID: "open", Risk: 0.1, Confidence: 0.9, Version: "v1"}, &chorus.StartOptions{ID: "open"})
	require.NoError(t, err)
	select {
	case id := <-asked:
		require.Equal(t, "open", id)
	case <-ctx.Done():
		t.Fatal("the open case never asked a person")
	}
	onAskMu.Lock()
	onAsk = nil
	onAskMu.Unlock()
	closeEngine(t, eng)

	eng = openEngine(t, path, clk)
	defer closeEngine(t, eng)
	st, err := decide.WatchStatus(ctx, eng, "credit-score")
	require.NoError(t, err)
	require.False(t, st.Enabled, "the switch is durable")
	d := answer(eng, "open", "approve")
	require.Equal(t, decide.FallbackModelOff, d.Fallback)
	require.Equal(t, decide.ByPerson, d.DecidedBy)
	require.Equal(t, "uw:bob", d.Person)
	recs, err := decide.Records(ctx, eng, "open")
	require.NoError(t, err)
	require.Equal(t, []decide.Decision{d}, recs)

	st, err = decide.Enable(ctx, eng, "credit-score", "ops:ann")
	require.NoError(t, err)
	require.True(t, st.Enabled)
	require.Equal(t, 4, st.Counters.Decisions)
	run, err := chorus.Start(ctx, eng, WatchedLoan, App{ID: "after", Risk: 0.1, Confidence: 0.9, Version: "v1"}, &chorus.StartOptions{ID: "after"})
	require.NoError(t, err)
	d, err = run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, decide.ByModel, d.DecidedBy)
}

// configured is a policy the application loads from its configuration;
// ConfiguredLoan reads it each time its code runs.
var (
	configuredMu sync.Mutex
	configured   = policy(nil)
)

var ConfiguredLoan = workflow.New("configured-loan", func(ctx workflow.Context, a App) (decide.Decision, error) {
	configuredMu.Lock()
	p := configured
	configuredMu.Unlock()
	return decide.Decide(ctx, Credit, a, p, askBySignal)
})

// A run in flight keeps the route it was given when the bands change under
// it: after a restart rebuilds it with the new bands (which would approve
// the case automatically), it still waits for its person.
func TestRouteSurvivesPolicyChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "loans.db")
	clk := clock.NewMock()
	eng := openEngine(t, path, clk)
	require.NoError(t, eng.Register(ConfiguredLoan))

	asked := make(chan string, 1)
	onAskMu.Lock()
	onAsk = func(id string) { asked <- id }
	onAskMu.Unlock()
	t.Cleanup(func() { onAskMu.Lock(); onAsk = nil; onAskMu.Unlock() })
	_, err := chorus.Start(ctx, eng, ConfiguredLoan, App{ID: "p1", Risk: 0.5, Confidence: 0.9, Version: "v1"}, &chorus.StartOptions{ID: "p1"})
	require.NoError(t, err)
	select {
	case <-asked:
	case <-ctx.Done():
		t.Fatal("the case never asked a person")
	}
	onAskMu.Lock()
	onAsk = nil
	onAskMu.Unlock()
	closeEngine(t, eng)

	configuredMu.Lock()
	old := configured
	configured = decide.Policy{Bands: []decide.Band{{Below: 0.9, Route: decide.Auto("approve")}, {Route: decide.Human("senior-underwriter")}}, Timeout: 2 * time.Second}
	configuredMu.Unlock()
	t.Cleanup(func() { configuredMu.Lock(); configured = old; configuredMu.Unlock() })

	eng = openEngine(t, path, clk)
	defer closeEngine(t, eng)
	require.NoError(t, eng.Register(ConfiguredLoan))
	require.NoError(t, chorus.Signal(ctx, eng, "p1", Verdict, decide.Answer{Outcome: "decline", By: "uw:bob"}))
	run, err := chorus.Lookup(ctx, eng, ConfiguredLoan, "p1")
	require.NoError(t, err)
	d, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, decide.ByPerson, d.DecidedBy)
	require.Equal(t, "decline", d.Outcome)
	require.Equal(t, "underwriter", d.Queue)
	require.Equal(t, "medium", d.Band)
}
