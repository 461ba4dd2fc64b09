package chorus_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

var (
	unregAct   = activity.New("unreg-act", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	unregChild = workflow.New("unreg-child", func(ctx workflow.Context, n int) (int, error) { return n * 10, nil })
	unregAll   = workflow.New("unreg-parent", func(ctx workflow.Context, n int) (int, error) {
		a := workflow.ExecuteActivity(ctx, unregAct, n)
		c := workflow.ExecuteChildWorkflow(ctx, unregChild, n, &workflow.ChildOptions{ID: "unreg-kid"})
		x, err := a.Get(ctx)
		if err != nil {
			return 0, err
		}
		y, err := c.Get(ctx)
		return x + y, err
	})
)

// warnSink is a slog handler that keeps the messages of records and tells
// when one containing a given text arrives.
type warnSink struct {
	seen  map[string]chan struct{} // closed once a record contains the key
	mu    sync.Mutex
	msgs  []string
	wants map[string]chan struct{} // the channels of seen not closed yet
}

func newWarnSink(wants ...string) *warnSink {
	s := &warnSink{seen: map[string]chan struct{}{}, wants: map[string]chan struct{}{}}
	for _, w := range wants {
		s.seen[w] = make(chan struct{})
		s.wants[w] = s.seen[w]
	}
	return s
}

func (s *warnSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *warnSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *warnSink) WithGroup(string) slog.Handler            { return s }

func (s *warnSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, b.String())
	for w, ch := range s.wants {
		if strings.Contains(b.String(), w) {
			close(ch)
			delete(s.wants, w)
		}
	}
	return nil
}

func (s *warnSink) logged() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.msgs, "\n")
}

// A run that waits for an activity or a child workflow that is not
// registered says so in Describe (and List), and stops saying so once the
// names are registered.
func TestDescribeShowsUnregisteredWaits(t *testing.T) {
	t.Parallel()
	sink := newWarnSink(`activity not registered`, `workflow is not registered`)
	eng, _ := setup(t, &chorus.Options{Logger: slog.New(sink)}, unregAll)
	ctx := testContext(t)
	run, err := chorus.Start(ctx, eng, unregAll, 1, &chorus.StartOptions{ID: "unreg"})
	require.NoError(t, err)
	recv(t, sink.seen[`activity not registered`], "the activity's warning")
	recv(t, sink.seen[`workflow is not registered`], "the child's warning")

	info, err := eng.Describe(ctx, "unreg")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status)
	require.Equal(t, []chorus.Unregistered{
		{Kind: "activity", Name: "unreg-act", Step: 2, Attempt: 1},
		{Kind: "workflow", Name: "unreg-child", Step: 3, Child: "unreg-kid"},
	}, info.Unregistered)
	require.Equal(t, `activity "unreg-act" (step 2, attempt 1) is not registered`, info.Unregistered[0].String())
	require.Equal(t, `workflow "unreg-child" of child run "unreg-kid" (step 3) is not registered`, info.Unregistered[1].String())
	list, err := eng.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, info.Unregistered, list[0].Unregistered)

	require.NoError(t, eng.Register(unregAct, unregChild))
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 12, got)
	info, err = eng.Describe(ctx, "unreg")
	require.NoError(t, err)
	require.Empty(t, info.Unregistered)
}

// A run whose own workflow is not registered (after a restart with code
// that lacks it) says so.
func TestDescribeShowsUnregisteredWorkflow(t *testing.T) {
	t.Parallel()
	eng, path := setup(t, nil, unregAll, unregAct)
	ctx := testContext(t)
	_, err := chorus.Start(ctx, eng, unregAll, 1, &chorus.StartOptions{ID: "unreg-own"})
	require.NoError(t, err)
	closeEngine(t, eng)

	eng = openEngine(t, path, &chorus.Options{Logger: slog.New(newWarnSink())})
	info, err := eng.Describe(ctx, "unreg-own")
	require.NoError(t, err)
	require.Contains(t, info.Unregistered, chorus.Unregistered{Kind: "workflow", Name: "unreg-parent"})
}

// An engine opened without a logger writes its warnings to slog.Default().
func TestDefaultLoggerWarns(t *testing.T) {
	// Not parallel: it changes slog's default logger.
	sink := newWarnSink(`activity not registered`)
	prev := slog.Default()
	slog.SetDefault(slog.New(sink))
	defer slog.SetDefault(prev)
	eng, _ := setup(t, nil, unregAll)
	ctx := testContext(t)
	_, err := chorus.Start(ctx, eng, unregAll, 1, &chorus.StartOptions{ID: "default-log"})
	require.NoError(t, err)
	recv(t, sink.seen[`activity not registered`], "the warning on the default logger")
	require.Contains(t, sink.logged(), `WARN chorus: activity not registered; its task waits until it is activity=unreg-act run=default-log`)
	require.NotContains(t, sink.logged(), "INFO", "only warnings and errors")
	require.NotContains(t, sink.logged(), "DEBUG")
}
