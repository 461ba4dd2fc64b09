package saga_test

// A real crash in the middle of compensation: the test binary re-executed as
// a child process runs a saga until its second compensation starts, and the
// test SIGKILLs it there. Every activity execution is counted in a file
// outside the journal, one line each: "<generation> <activity> <attempt>".

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
	"github.com/chorusdev/chorus/saga"
	"github.com/chorusdev/chorus/workflow"
)

// How the test configures a "saga-crash" child.
const (
	envCrashDB      = "SAGA_CRASH_DB"      // database path
	envCrashCounter = "SAGA_CRASH_COUNTER" // counter file path
	envCrashGen     = "SAGA_CRASH_GEN"     // generation name written to the counter file
)

const (
	crashRunID = "trip"
	crashBlock = "undo-1" // the compensation the child is killed in
)

func init() {
	childModes["saga-crash"] = crashChild
}

// newCrashDefs returns a trip of three steps and a failing last step whose
// activities count their executions in counter as generation gen, then
// call hook (if not nil). Every process builds its own, under the same
// names, as a restarted application would.
func newCrashDefs(counter, gen string, hook func(ctx context.Context, name string) error) (*workflow.Definition[string, string], []chorus.Definition) {
	count := func(ctx context.Context, name string) error {
		if err := testutil.AppendLine(counter, fmt.Sprintf("%s %s %d", gen, name, activity.GetInfo(ctx).Attempt)); err != nil {
			return activity.NonRetryable(fmt.Errorf("count execution: %w", err))
		}
		if hook != nil {
			return hook(ctx, name)
		}
		return nil
	}
	var books []*activity.Definition[string, string]
	var undos []*activity.Definition[string, struct{}]
	defs := []chorus.Definition{}
	for i := range 3 {
		b := activity.New(fmt.Sprintf("book-%d", i), func(ctx context.Context, in string) (string, error) {
			return fmt.Sprintf("%s/%d", in, i), count(ctx, fmt.Sprintf("book-%d", i))
		})
		u := activity.New(fmt.Sprintf("undo-%d", i), func(ctx context.Context, in string) (struct{}, error) {
			return struct{}{}, count(ctx, fmt.Sprintf("undo-%d", i))
		})
		books, undos = append(books, b), append(undos, u)
		defs = append(defs, b, u)
	}
	last := activity.New("last", func(ctx context.Context, in string) (string, error) {
		if err := count(ctx, "last"); err != nil {
			return "", err
		}
		return "", activity.NonRetryable(activity.NewError("unavailable", "no car left"))
	})
	wf := workflow.New("crash-trip", func(ctx workflow.Context, in string) (_ string, err error) {
		s := saga.New(ctx, nil)
		defer s.CompensateOnError(&err)
		for i := range books {
			id, err := workflow.ExecuteActivity(ctx, books[i], in).Get(ctx)
			if err != nil {
				return "", err
			}
			if err := saga.Add(s, undos[i], id); err != nil {
				return "", err
			}
		}
		_, err = workflow.ExecuteActivity(ctx, last, in).Get(ctx)
		return "", err
	})
	return wf, append(defs, wf, last)
}

// crashChild starts (or finds) the run and waits for it; crashBlock blocks
// until the process dies. It reports on stdout:
//
//	exec <activity> <attempt>   an execution began (and is counted)
//	blocked <activity>          it blocks until the process dies
func crashChild() {
	p := childproc.New("saga crash child")
	p.Require(envCrashDB, envCrashCounter, envCrashGen)
	db, counter, gen := os.Getenv(envCrashDB), os.Getenv(envCrashCounter), os.Getenv(envCrashGen)
	wf, defs := newCrashDefs(counter, gen, func(ctx context.Context, name string) error {
		p.Say("exec %s %d", name, activity.GetInfo(ctx).Attempt)
		if name == crashBlock {
			p.Say("blocked %s", name)
			<-ctx.Done() // only Close cancels it; the parent kills us first
			return ctx.Err()
		}
		return nil
	})
	ctx := context.Background()
	eng, err := chorus.Open(ctx, db, nil)
	if err != nil {
		p.Fail("open: %v", err)
	}
	if err := eng.Register(defs...); err != nil {
		p.Fail("register: %v", err)
	}
	run, err := chorus.Start(ctx, eng, wf, "t1", &chorus.StartOptions{ID: crashRunID, IfExists: chorus.AttachIfExists})
	if err != nil {
		p.Fail("start: %v", err)
	}
	_, err = run.Result(ctx)
	p.Fail("the run ended before the kill: %v", err)
}

func TestCrashDuringCompensationResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, counter := filepath.Join(dir, "chorus.db"), filepath.Join(dir, "executions.txt")
	deadline := time.Now().Add(testTimeout)

	// Generation g1: killed while the second compensation runs.
	c := testutil.StartChild(t, "saga-crash", envCrashDB+"="+db, envCrashCounter+"="+counter, envCrashGen+"=g1")
	killed := c.KillWhen(deadline, func(line string) bool { return line == "blocked "+crashBlock })
	require.True(t, killed, "the child did not die by SIGKILL\n%s", c.Report())

	// What g1 committed: the first compensation finished, the second began.
	evs := readEvents(t, copyDB(t, db), crashRunID)
	require.Equal(t, []string{"start 2 undo-2", "done 2 undo-2", "start 1 undo-1"}, markerStrings(markers(t, evs)))

	// Generation g2, in this process: the run resumes where it stopped.
	ctx := testContext(t)
	wf, defs := newCrashDefs(counter, "g2", nil)
	eng, err := chorus.Open(ctx, db, nil)
	require.NoError(t, err)
	require.NoError(t, eng.Register(defs...))
	run, err := chorus.Lookup(ctx, eng, wf, crashRunID)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.Equal(t, "unavailable", we.Type)
	require.Contains(t, we.Message, "saga compensated 3 step(s)")

	evs = journal(t, eng, db, crashRunID)
	require.Equal(t, []string{
		"start 2 undo-2", "done 2 undo-2", "start 1 undo-1", "done 1 undo-1", "start 0 undo-0", "done 0 undo-0",
	}, markerStrings(markers(t, evs)), "one start marker per compensation: the resumed one was not started again")

	lines, err := testutil.ReadLines(counter)
	require.NoError(t, err)
	require.Equal(t, []string{
		"g1 book-0 1", "g1 book-1 1", "g1 book-2 1", "g1 last 1", "g1 undo-2 1", "g1 undo-1 1",
		"g2 undo-1 1", "g2 undo-0 1",
	}, lines, "finished steps and compensations ran once; only the interrupted compensation ran again")
	executions := map[string]int{}
	for _, l := range lines {
		executions[strings.Fields(l)[1]]++
	}
	require.Equal(t, map[string]int{"book-0": 1, "book-1": 1, "book-2": 1, "last": 1, "undo-2": 1, "undo-1": 2, "undo-0": 1}, executions)
}
