package chorus_test

// The replay-aware workflow logger; the pm* helpers are in
// primitives_more_test.go.

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// ---------------------------------------------------------------------------
// Replay-aware logger

// pmLogBuffer collects log output for concurrent writers.
type pmLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *pmLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many lines have message msg and attribute run_id=runID.
func (b *pmLogBuffer) count(msg, runID string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for line := range strings.Lines(b.buf.String()) {
		fields := strings.Fields(line)
		if slices.Contains(fields, "msg="+msg) && slices.Contains(fields, "run_id="+runID) {
			n++
		}
	}
	return n
}

func (b *pmLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestWorkflowLoggerLogsOnceAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	logs := &pmLogBuffer{}
	opts := &chorus.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))}
	var c counter
	ranA := make(chan string, 4)
	a := pmReporter(&c, "pm-log-a", ranA)
	b := addOne(&c, "pm-log-b")
	extra := workflow.NewSignal[int]("pm-log-extra")
	var entries atomic.Int32
	wf := workflow.New("pm-logged", func(ctx workflow.Context, n int) (int, error) {
		entries.Add(1)
		log := workflow.Logger(ctx)
		log.Info("pm-log-start", "n", n)
		n, err := workflow.ExecuteActivity(ctx, a, n).Get(ctx)
		if err != nil {
			return 0, err
		}
		log.Info("pm-log-after-a", "n", n)
		x, _ := workflow.GetSignalChannel(ctx, extra).Receive(ctx)
		log.Info("pm-log-after-signal", "x", x)
		n, err = workflow.ExecuteActivity(ctx, b, n+x).Get(ctx)
		log.Info("pm-log-done", "n", n)
		return n, err
	})
	eng, path := setup(t, opts, wf, a, b)
	_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "pm-lg-1"})
	require.NoError(t, err)
	recv(t, ranA, "A to run")
	pmCloseGracefully(t, eng) // A's result recorded; the run logged pm-log-after-a and waits for the signal

	eng = openEngine(t, path, opts, wf, a, b)
	require.NoError(t, chorus.Signal(ctx, eng, "pm-lg-1", extra, 10))
	got, err := pmResult(ctx, t, eng, wf, "pm-lg-1")
	require.NoError(t, err)
	require.Equal(t, 13, got)
	require.EqualValues(t, 2, entries.Load(), "the reopened engine replayed the run")
	for _, msg := range []string{"pm-log-start", "pm-log-after-a", "pm-log-after-signal", "pm-log-done"} {
		require.Equal(t, 1, logs.count(msg, "pm-lg-1"), "%s is logged exactly once with run_id; the log:\n%s", msg, logs)
	}
}

func TestWorkflowLoggerLogsOnceUnderCacheEviction(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	logs := &pmLogBuffer{}
	opts := &chorus.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), CacheSize: 1}
	var c counter
	ran := make(chan string, 16)
	a := pmReporter(&c, "pm-lc-a", ran)
	next := workflow.NewSignal[int]("pm-lc-next")
	const rounds = 3
	var entries atomic.Int32
	wf := workflow.New("pm-lc", func(ctx workflow.Context, n int) (int, error) {
		entries.Add(1)
		log := workflow.Logger(ctx)
		for i := 1; i <= rounds; i++ {
			v, _ := workflow.GetSignalChannel(ctx, next).Receive(ctx)
			log.Info(fmt.Sprintf("pm-lc-got-%d", i), "v", v)
			var err error
			if n, err = workflow.ExecuteActivity(ctx, a, n+v).Get(ctx); err != nil {
				return 0, err
			}
			log.Info(fmt.Sprintf("pm-lc-step-%d-done", i), "n", n)
		}
		return n, nil
	})
	eng, _ := setup(t, opts, wf, a)
	ids := []string{"pm-lc-1", "pm-lc-2"}
	pmStart(ctx, t, eng, wf, 0, ids...)
	// The runs take turns, so with room for one idle run in memory each is
	// usually evicted before its next signal and rebuilt by replay.
	for i := 1; i <= rounds; i++ {
		for _, id := range ids {
			require.NoError(t, chorus.Signal(ctx, eng, id, next, 10))
			require.Equal(t, id, recv(t, ran, "A of "+id))
		}
	}
	for _, id := range ids {
		got, err := pmResult(ctx, t, eng, wf, id)
		require.NoError(t, err)
		require.Equal(t, rounds*11, got)
	}
	require.Greater(t, int(entries.Load()), len(ids), "some run was replayed after eviction")
	for _, id := range ids {
		for i := 1; i <= rounds; i++ {
			for _, msg := range []string{fmt.Sprintf("pm-lc-got-%d", i), fmt.Sprintf("pm-lc-step-%d-done", i)} {
				require.Equal(t, 1, logs.count(msg, id), "%s of %s is logged exactly once; the log:\n%s", msg, id, logs)
			}
		}
	}
}
