package kpi_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/kpi"
	"github.com/chorusdev/chorus/workflow"
)

// TestComputeEngineRuns computes the KPIs of runs the engine made, on a
// fake clock that only the activities move (a second per attempt, unless
// said otherwise), so that every duration is exact, and reads them while
// the engine still owns the file.
func TestComputeEngineRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mock := clock.NewMock()
	mock.Set(t0)
	path := filepath.Join(t.TempDir(), "chorus.db")

	// Retries follow at once: a backoff of 1ns loses its jitter.
	retry := func(ctx workflow.Context, attempts int) workflow.Context {
		return workflow.WithActivityOptions(ctx, activity.Options{RetryPolicy: &activity.RetryPolicy{
			InitialInterval: time.Nanosecond, BackoffCoefficient: 1, MaximumAttempts: attempts}})
	}
	work := activity.New("work", func(ctx context.Context, s int) (int, error) {
		mock.Add(time.Duration(s) * time.Second)
		return s, nil
	})
	// reserve fails twice, then succeeds.
	reserveCalls := 0
	reserve := activity.New("reserve", func(ctx context.Context, _ string) (string, error) {
		mock.Add(time.Second)
		if reserveCalls++; reserveCalls <= 2 {
			return "", errors.New("inventory service unavailable")
		}
		return "reserved", nil
	})
	charge := activity.New("charge", func(ctx context.Context, _ string) (string, error) {
		mock.Add(time.Second)
		return "", errors.New("payment gateway down")
	})
	check := activity.New("check", func(ctx context.Context, _ string) (string, error) {
		mock.Add(2 * time.Second)
		return "", activity.NonRetryable(errors.New("address unknown"))
	})

	// ok runs n steps of a second each.
	ok := workflow.New("ok", func(ctx workflow.Context, n int) (int, error) {
		for range n {
			if _, err := workflow.ExecuteActivity(ctx, work, 1).Get(ctx); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
	flaky := workflow.New("flaky", func(ctx workflow.Context, _ int) (string, error) {
		return workflow.ExecuteActivity(retry(ctx, 0), reserve, "chair").Get(ctx)
	})
	// doomed: charge fails 3 times; cleaning up takes 5 s; the run fails.
	doomed := workflow.New("doomed", func(ctx workflow.Context, _ int) (string, error) {
		_, err := workflow.ExecuteActivity(retry(ctx, 3), charge, "4242").Get(ctx)
		if _, cerr := workflow.ExecuteActivity(ctx, work, 5).Get(ctx); cerr != nil {
			return "", cerr
		}
		return "", err
	})
	// stuck: check fails for good; 4 s later the code panics.
	stuck := workflow.New("stuck", func(ctx workflow.Context, _ int) (int, error) {
		_, err := workflow.ExecuteActivity(ctx, check, "x").Get(ctx)
		if _, werr := workflow.ExecuteActivity(ctx, work, 4).Get(ctx); werr != nil {
			return 0, werr
		}
		if err != nil {
			panic("no fallback for " + err.Error())
		}
		return 0, nil
	})

	eng, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close(ctx)) }()
	require.NoError(t, eng.Register(ok, flaky, doomed, stuck, work, reserve, charge, check))

	// One run at a time: each moves the shared clock alone.
	r1, err := chorus.Start(ctx, eng, ok, 3, &chorus.StartOptions{ID: "ok-1"})
	require.NoError(t, err)
	_, err = r1.Result(ctx)
	require.NoError(t, err)
	r2, err := chorus.Start(ctx, eng, ok, 1, &chorus.StartOptions{ID: "ok-2"})
	require.NoError(t, err)
	_, err = r2.Result(ctx)
	require.NoError(t, err)
	rf, err := chorus.Start(ctx, eng, flaky, 0, &chorus.StartOptions{ID: "flaky-1"})
	require.NoError(t, err)
	_, err = rf.Result(ctx)
	require.NoError(t, err)
	rd, err := chorus.Start(ctx, eng, doomed, 0, &chorus.StartOptions{ID: "doomed-1"})
	require.NoError(t, err)
	_, err = rd.Result(ctx)
	require.ErrorContains(t, err, "payment gateway down")
	rs, err := chorus.Start(ctx, eng, stuck, 0, &chorus.StartOptions{ID: "stuck-1"})
	require.NoError(t, err)
	_, err = rs.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)

	ro, err := sqlite.OpenReadOnly(ctx, path, nil)
	require.NoError(t, err)
	defer ro.Close()
	ws, err := kpi.Compute(ctx, ro, kpi.Filter{})
	require.NoError(t, err)
	p := func(ds ...int) kpi.Percentiles { // ds sorted
		pc := kpi.Percentiles{N: len(ds)}
		d := make([]time.Duration, len(ds))
		for i, s := range ds {
			d[i] = sec(s)
		}
		pc.P50, pc.P90, pc.P95, pc.P99, pc.Max = kpi.Percentile(d, 50), kpi.Percentile(d, 90), kpi.Percentile(d, 95), kpi.Percentile(d, 99), d[len(d)-1]
		return pc
	}
	require.Equal(t, []kpi.Workflow{
		// charge: attempts fail at 1, 2 and 3 s; cleanup until 8 s; the run
		// fails at 8 s, 7 s after the first attempt failed.
		{Name: "doomed", Runs: 1, Failed: 1, Duration: p(8), Steps: 2, FailedSteps: 1, RetriedSteps: 1, Retries: 2,
			TimeToDetect: p(7)},
		// reserve: attempts fail at 1 and 2 s, the third succeeds at 3 s.
		{Name: "flaky", Runs: 1, Completed: 1, Duration: p(3), Steps: 1, RetriedSteps: 1, Retries: 2, TimeToRecover: p(2)},
		{Name: "ok", Runs: 2, Completed: 2, Duration: p(1, 3), Steps: 4},
		// check fails at 2 s; blocked at 6 s, when the code panicked on
		// the outcome of work, which is then not journaled: one step ended.
		{Name: "stuck", Runs: 1, Blocked: 1, Steps: 1, FailedSteps: 1, TimeToDetect: p(4)},
	}, ws)
}
