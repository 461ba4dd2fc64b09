package chorus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// requireHistoryLimit checks that err is a blocked run's error whose cause
// is a *LimitError for limit.
func requireHistoryLimit(t *testing.T, err error, limit string) {
	t.Helper()
	var le *chorus.LimitError
	require.ErrorAs(t, err, &le, "%v", err)
	require.Equal(t, limit, le.Limit)
	require.ErrorIs(t, err, chorus.ErrLimitExceeded)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
}

// The events limit counts the outcome of every command issued: the run is
// blocked when its code issues the command that would leave no room for an
// outcome, never after an activity ran, so raising the limit runs no
// activity twice. Describe and Result (also after a reopen) report the
// typed *LimitError.
func TestHistoryLimitReservesRoomForOutcomes(t *testing.T) {
	t.Parallel()
	for _, max := range []int{9, 10, 11} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			var c counter
			step := addOne(&c, "step")
			loop := workflow.New("loop", func(ctx workflow.Context, n int) (int, error) {
				for i := range n {
					if _, err := workflow.ExecuteActivity(ctx, step, i).Get(ctx); err != nil {
						return 0, err
					}
				}
				return n, nil
			})
			eng, path := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxHistoryEvents: max}}, loop, step)
			run, err := chorus.Start(ctx, eng, loop, 10, &chorus.StartOptions{ID: "long"})
			require.NoError(t, err)
			_, err = run.Result(ctx)
			requireHistoryLimit(t, err, "MaxHistoryEvents")
			info, err := eng.Describe(ctx, "long")
			require.NoError(t, err)
			require.Equal(t, chorus.StatusBlocked, info.Status)
			require.LessOrEqual(t, info.Events, int64(max))
			requireHistoryLimit(t, info.Err, "MaxHistoryEvents")
			ran := c.get("long/step")
			require.EqualValues(t, (info.Events-1)/2, ran, "every activity that ran has its outcome recorded")
			closeEngine(t, eng)

			eng = openEngine(t, path, &chorus.Options{Limits: &chorus.Limits{MaxHistoryEvents: max}}, loop, step)
			run, err = chorus.Lookup(ctx, eng, loop, "long")
			require.NoError(t, err)
			_, err = run.Result(ctx)
			requireHistoryLimit(t, err, "MaxHistoryEvents")
			closeEngine(t, eng)

			eng = openEngine(t, path, &chorus.Options{Limits: &chorus.Limits{MaxHistoryEvents: -1}}, loop, step)
			run, err = chorus.Lookup(ctx, eng, loop, "long")
			require.NoError(t, err)
			got, err := waitResult(ctx, t, run)
			require.NoError(t, err)
			require.Equal(t, 10, got)
			require.Equal(t, 10, c.get("long/step"), "no activity ran twice")
		})
	}
}

// An outcome whose payload takes the run past MaxHistoryBytes is still
// recorded: the run is blocked at its next command, and resumes without
// running the activity again.
func TestHistoryBytesLimitKeepsOutcome(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var c counter
	big := activity.New("big", func(ctx context.Context, n int) (string, error) {
		c.inc("fat/big")
		return strings.Repeat("x", 1000), nil
	})
	fat := workflow.New("fat", func(ctx workflow.Context, n int) (int, error) {
		for i := range n {
			if _, err := workflow.ExecuteActivity(ctx, big, i).Get(ctx); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
	eng, path := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxHistoryBytes: 2500}}, fat, big)
	run, err := chorus.Start(ctx, eng, fat, 5, &chorus.StartOptions{ID: "fat"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	requireHistoryLimit(t, err, "MaxHistoryBytes")
	ran := c.get("fat/big")
	info, err := eng.Describe(ctx, "fat")
	require.NoError(t, err)
	require.EqualValues(t, 1+2*ran, info.Events, "the outcome of every activity that ran is recorded")
	closeEngine(t, eng)

	eng = openEngine(t, path, &chorus.Options{Limits: &chorus.Limits{MaxHistoryBytes: -1}}, fat, big)
	run, err = chorus.Lookup(ctx, eng, fat, "fat")
	require.NoError(t, err)
	_, err = waitResult(ctx, t, run)
	require.NoError(t, err)
	require.Equal(t, 5, c.get("fat/big"), "no activity ran twice")
}

// A signal that the events limit has no room for is refused with a
// *LimitError; the run itself goes on.
func TestHistoryLimitRefusesSignal(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	sig := workflow.NewSignal[int]("n")
	wf := workflow.New("sum", func(ctx workflow.Context, n int) (int, error) {
		ch := workflow.GetSignalChannel(ctx, sig)
		sum := 0
		for range n {
			v, _ := ch.Receive(ctx)
			sum += v
		}
		return sum, nil
	})
	eng, _ := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxHistoryEvents: 3}}, wf)
	run, err := chorus.Start(ctx, eng, wf, 5, &chorus.StartOptions{ID: "sum"})
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, "sum", sig, 1))
	require.NoError(t, chorus.Signal(ctx, eng, "sum", sig, 2))
	err = chorus.Signal(ctx, eng, "sum", sig, 3)
	var le *chorus.LimitError
	require.ErrorAs(t, err, &le, "%v", err)
	require.Equal(t, "MaxHistoryEvents", le.Limit)
	require.False(t, errors.Is(err, chorus.ErrRunBlocked), "the run is not blocked: %v", err)
	require.NoError(t, eng.Terminate(ctx, "sum", "test over"))
	_, err = run.Result(ctx)
	require.Error(t, err)
}
