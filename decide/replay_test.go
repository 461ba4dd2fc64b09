package decide_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/replay"
	chorustest "github.com/chorusdev/chorus/testing"
)

var update = flag.Bool("update", false, "rewrite the golden histories in testdata/")

// creditModelV2 is the model after a swap: another vendor, another version,
// other scores. Registering it is the whole change.
var creditModelV2 = Credit.Activity(func(_ context.Context, a App) (decide.Score, error) {
	return decide.Score{Value: 1 - a.Risk, Confidence: 0.5, Model: "nn-credit", Version: "v2"}, nil
})

// TestReplayAfterModelSwap replays histories recorded with model v1 (a
// golden file from testdata/, and one recorded now) against the code with
// model v2 registered: the recorded scores, versions and outcomes are
// used, so replay matches.
func TestReplayAfterModelSwap(t *testing.T) {
	golden := filepath.Join("testdata", "histories", "watched-loan-v1.json")
	if *update {
		env := newEnv(t)
		decideCase(t, env, WatchedLoan, App{ID: "golden-1", Risk: 0.5, Confidence: 0.9, Version: "v1"},
			&decide.Answer{Outcome: "approve", By: "uw:bob"})
		h, err := chorus.History(context.Background(), env.Engine(), "golden-1")
		require.NoError(t, err)
		b, err := h.Marshal()
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
		require.NoError(t, os.WriteFile(golden, b, 0o644))

		// A watch that switched the model off, then was enabled by an operator.
		for i := 1; i <= 3; i++ {
			decideCase(t, env, WatchedLoan, App{ID: fmt.Sprintf("golden-w%d", i), Risk: 0.5, Confidence: 0.9, Version: "v1"},
				&decide.Answer{Outcome: "decline", By: "uw:bob"})
		}
		_, err = decide.Enable(context.Background(), env.Engine(), "credit-score", "ops:ann")
		require.NoError(t, err)
		env.Settle()
		h, err = chorus.History(context.Background(), env.Engine(), decide.WatchID("credit-score"))
		require.NoError(t, err)
		b, err = h.Marshal()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(golden), "watch.json"), b, 0o644))
	}
	// The golden history holds model v1's record.
	f, err := os.Open(golden)
	require.NoError(t, err)
	h, err := history.DecodeExport(f)
	f.Close()
	require.NoError(t, err)
	env := newEnv(t)
	recs, err := decide.FromEvents(env.Engine(), h.Events)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "v1", recs[0].ModelVersion)
	require.Equal(t, "gbm-credit", recs[0].ModelName)

	// The watch is long-lived: its code must keep replaying its journal.
	replay.Test(t, filepath.Join("testdata", "histories"), append(decide.Definitions(nil), WatchedLoan, Loan, creditModelV2)...)

	// A run recorded now with v1, replayed with v2 registered.
	d, _ := decideCase(t, env, Loan, App{ID: "r1", Risk: 0.1, Confidence: 0.9, Version: "v1"}, nil)
	require.Equal(t, "v1", d.ModelVersion)
	h, err = chorus.History(context.Background(), env.Engine(), "r1")
	require.NoError(t, err)
	require.NoError(t, replay.Run(context.Background(), h, Loan, creditModelV2))

	// A new run after the swap records v2 and the new model's score.
	env2 := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Loan, creditModelV2}})
	run := chorustest.Start(env2, Loan, App{ID: "r2", Risk: 0.1}, &chorus.StartOptions{ID: "r2"})
	env2.Advance(0)
	chorustest.Signal(env2, "r2", Verdict, decide.Answer{Outcome: "decline", By: "senior:eve"})
	d2, err := chorustest.Result(env2, run)
	require.NoError(t, err)
	require.Equal(t, "v2", d2.ModelVersion)
	require.Equal(t, "nn-credit", d2.ModelName)
	require.Equal(t, "high", d2.Band)
}
