package chorus_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// TestFixedCodeIsSeenRightAfterOpen blocks a run with a panic, reopens the
// database with fixed code and asks at once: neither Describe, Signal nor
// Result may report the old block, whether the code is registered through
// Options.Definitions or with Register right after Open.
func TestFixedCodeIsSeenRightAfterOpen(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"Definitions", "Register"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			var broken atomic.Bool
			broken.Store(true)
			next := workflow.NewSignal[string]("next")
			wf := workflow.New("fix-me", func(ctx workflow.Context, _ int) (string, error) {
				v, _ := workflow.GetSignalChannel(ctx, next).Receive(ctx)
				if broken.Load() {
					panic("bug: " + v)
				}
				return v, nil
			})
			path := filepath.Join(t.TempDir(), "chorus.db")
			eng := openEngine(t, path, nil, wf)
			run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: "fix-me"})
			require.NoError(t, err)
			var be *chorus.BlockedError
			require.ErrorAs(t, chorus.Signal(ctx, eng, run.ID(), next, "boom"), &be)
			info, err := run.Describe(ctx)
			require.NoError(t, err)
			require.Equal(t, chorus.StatusBlocked, info.Status)
			closeEngine(t, eng)

			broken.Store(false)
			if how == "Definitions" {
				eng, err = chorus.Open(context.Background(), path, &chorus.Options{Definitions: []chorus.Definition{wf}})
				require.NoError(t, err)
				t.Cleanup(func() { closeEngine(t, eng) })
			} else {
				eng = openEngine(t, path, nil, wf)
			}
			info, err = eng.Describe(ctx, "fix-me")
			require.NoError(t, err)
			require.Equal(t, chorus.StatusRunning, info.Status, "Describe right after the fix")
			run, err = chorus.Lookup(ctx, eng, wf, "fix-me")
			require.NoError(t, err)
			require.NoError(t, chorus.Signal(ctx, eng, run.ID(), next, "ok"), "Signal right after the fix")
			got, err := run.Result(ctx)
			require.NoError(t, err, "Result right after the fix")
			require.Equal(t, "ok", got)
		})
	}
}

// TestFixedCodeResultRightAfterOpen asks Result first, before anything
// else touched the run.
func TestFixedCodeResultRightAfterOpen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var broken atomic.Bool
	broken.Store(true)
	wf := workflow.New("fix-me-result", func(ctx workflow.Context, n int) (int, error) {
		if err := workflow.Sleep(ctx, 1); err != nil {
			return 0, err
		}
		if broken.Load() {
			panic("bug")
		}
		return n + 1, nil
	})
	path := filepath.Join(t.TempDir(), "chorus.db")
	eng := openEngine(t, path, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 41, &chorus.StartOptions{ID: "r"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var be *chorus.BlockedError
	require.ErrorAs(t, err, &be)
	closeEngine(t, eng)

	broken.Store(false)
	eng = openEngine(t, path, nil, wf)
	run, err = chorus.Lookup(ctx, eng, wf, "r")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err, "Result right after the fix")
	require.Equal(t, 42, got)
}
