package chorus_test

// A SIGKILL test of queues: a child enqueues runs to a queue of
// concurrency 2 whose activities never return, and is killed while it is
// still enqueuing; a restarted engine loses no enqueued run, never runs more
// than 2 at once, and starts the waiting runs by priority, then in the order
// they were enqueued.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
	"github.com/chorusdev/chorus/workflow"
)

const (
	envQueueDB = "CHORUS_QUEUE_DB"
	envQueueN  = "CHORUS_QUEUE_N"
)

func init() { childModes["queue-kill"] = queueKillChild }

var queueKillOpts = &chorus.Options{Queues: []chorus.Queue{{Name: "kill", Concurrency: 2}}}

// queueKillPriority is the priority of the i-th run enqueued.
func queueKillPriority(i int) int { return i % 3 }

// queueKillChild enqueues runs whose activity reports it started and then
// waits forever, reporting each enqueue, until it is killed.
func queueKillChild() {
	p := childproc.New("queue-kill")
	p.Require(envQueueDB, envQueueN)
	n, err := strconv.Atoi(os.Getenv(envQueueN))
	if err != nil {
		p.Fail("%s: %v", envQueueN, err)
	}
	act := activity.New("qk-act", func(ctx context.Context, key string) (string, error) {
		p.Say("exec %s", key)
		<-ctx.Done()
		return "", ctx.Err()
	})
	wf := workflow.New("qk-wf", func(ctx workflow.Context, key string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, key).Get(ctx)
	})
	o := *queueKillOpts
	o.Definitions = []chorus.Definition{wf, act}
	ctx := context.Background()
	eng, err := chorus.Open(ctx, os.Getenv(envQueueDB), &o)
	if err != nil {
		p.Fail("open: %v", err)
	}
	for i := range n {
		key := strconv.Itoa(i)
		if _, err := chorus.Start(ctx, eng, wf, key, &chorus.StartOptions{ID: "qk-" + key, Queue: "kill", Priority: queueKillPriority(i)}); err != nil {
			p.Fail("enqueue %s: %v", key, err)
		}
		p.Say("enqueued %s", key)
	}
	p.Say("all enqueued")
	select {}
}

func TestCrashKillQueue(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	db := filepath.Join(t.TempDir(), "queue.db")
	const n = 30
	c := testutil.StartChild(t, "queue-kill", envQueueDB+"="+db, envQueueN+"="+strconv.Itoa(n))
	var enqueued, execs []string
	killed := c.KillWhen(time.Now().Add(60*time.Second), func(line string) bool {
		if k, ok := strings.CutPrefix(line, "enqueued "); ok {
			enqueued = append(enqueued, k)
		}
		if k, ok := strings.CutPrefix(line, "exec "); ok {
			execs = append(execs, k)
		}
		return len(execs) >= 2 && len(enqueued) >= n/3
	})
	require.True(t, killed, c.Report())
	// Lines the pipe still held count: each followed a durable enqueue.
	enqueued, execs = nil, nil
	for _, l := range c.Lines() {
		if k, ok := strings.CutPrefix(l, "enqueued "); ok {
			enqueued = append(enqueued, k)
		}
		if k, ok := strings.CutPrefix(l, "exec "); ok {
			execs = append(execs, k)
		}
	}
	require.Len(t, execs, 2, "the queue ran at most 2 in the child\n%s", c.Report())
	t.Logf("killed after %d enqueues, with %v running", len(enqueued), execs)

	g := newGateRecorder()
	act := activity.New("qk-act", func(ctx context.Context, key string) (string, error) {
		return key, g.enter(ctx, key)
	})
	wf := workflow.New("qk-wf", func(ctx workflow.Context, key string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, key).Get(ctx)
	})
	eng := openEngine(t, db, queueKillOpts, wf, act)
	runs, err := eng.List(ctx, nil)
	require.NoError(t, err)
	var inDB []string
	for _, r := range runs {
		inDB = append(inDB, strings.TrimPrefix(r.ID, "qk-"))
	}
	for _, k := range enqueued {
		require.Contains(t, inDB, k, "an acknowledged enqueue was lost")
	}
	g.drive(t, len(inDB), 2)
	for _, k := range inDB {
		require.NoError(t, testutil.AwaitStatus(ctx, eng, "qk-"+k, chorus.StatusCompleted))
	}
	require.LessOrEqual(t, g.max.Load(), int64(2), "concurrency exceeded after the restart")
	got := g.entries()
	require.ElementsMatch(t, execs, got[:2], "the runs that had started resume first")
	var waiting []int
	for _, k := range inDB {
		if !slices.Contains(execs, k) {
			i, _ := strconv.Atoi(k)
			waiting = append(waiting, i)
		}
	}
	slices.SortFunc(waiting, func(a, b int) int {
		if pa, pb := queueKillPriority(a), queueKillPriority(b); pa != pb {
			return pa - pb
		}
		return a - b
	})
	var want []string
	for _, i := range waiting {
		want = append(want, fmt.Sprint(i))
	}
	require.Equal(t, want, got[2:], "waiting runs start by priority, then first in first out")
}
