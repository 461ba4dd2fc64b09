package chorus_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// maxQuotedError bounds the length of an error text about a bad run ID:
// it quotes a bounded prefix of the ID, never all of it.
const maxQuotedError = 400

// A child's ID follows the rules of Start's: a bad one fails the child's
// future at once with a typed, non-retryable error, and no run is created.
func TestChildRunIDIsValidated(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	child := workflow.New("child", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	type result struct {
		Is, As, NonRetryable bool
		Reason               string
		ErrLen               int
	}
	ids := map[string]string{
		"long":     strings.Repeat("x", 1<<20),
		"nul":      "a\x00b",
		"not-utf8": "caf\xe9", // built here: a JSON input would have rewritten it
	}
	parent := workflow.New("parent", func(ctx workflow.Context, key string) (result, error) {
		id := ids[key]
		_, err := workflow.ExecuteChildWorkflow(ctx, child, 1, &workflow.ChildOptions{ID: id}).Get(ctx)
		if err == nil {
			return result{}, nil
		}
		var re *chorus.RunIDError
		var ae *activity.Error
		r := result{Is: errors.Is(err, chorus.ErrInvalidRunID), As: errors.As(err, &re), ErrLen: len(err.Error())}
		if r.As {
			r.Reason = re.Reason
		}
		r.NonRetryable = errors.As(err, &ae) && ae.NonRetryable && ae.Type == chorus.FailureTypeInvalidRunID
		return r, nil
	})
	eng, _ := setup(t, nil, parent, child)
	for name := range ids {
		run, err := chorus.Start(ctx, eng, parent, name, &chorus.StartOptions{ID: name})
		require.NoError(t, err)
		got, err := run.Result(ctx)
		require.NoError(t, err, name)
		require.True(t, got.Is && got.As && got.NonRetryable, "%s: %+v", name, got)
		require.NotEmpty(t, got.Reason, name)
		require.Less(t, got.ErrLen, maxQuotedError, name)
		runs, err := eng.List(ctx, &chorus.ListOptions{Workflow: "child"})
		require.NoError(t, err)
		require.Empty(t, runs, "%s: no child run was created", name)
	}
}

// The default child ID of a parent whose ID is as long as allowed still
// fits, is valid, and leaves the parent's history readable.
func TestDefaultChildIDFits(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	child := workflow.New("child", func(ctx workflow.Context, n int) (int, error) { return n + 1, nil })
	parent := workflow.New("parent", func(ctx workflow.Context, n int) (string, error) {
		f := workflow.ExecuteChildWorkflow(ctx, child, n, nil)
		_, err := f.Get(ctx)
		return f.RunID(), err
	})
	eng, _ := setup(t, nil, parent, child)
	for _, id := range []string{
		strings.Repeat("p", chorus.MaxRunIDLength),
		strings.Repeat("é", chorus.MaxRunIDLength/2), // 254 bytes of two-byte runes
		strings.Repeat("q", chorus.MaxRunIDLength-3),
	} {
		run, err := chorus.Start(ctx, eng, parent, 1, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		childID, err := run.Result(ctx)
		require.NoError(t, err)
		require.LessOrEqual(t, len(childID), chorus.MaxRunIDLength)
		require.True(t, utf8.ValidString(childID))
		_, err = chorus.History(ctx, eng, id)
		require.NoError(t, err, "the parent's history is readable")
		_, err = chorus.History(ctx, eng, childID)
		require.NoError(t, err, "the child's history is readable")
	}
	// Two parents that share a long prefix get different children.
	a, b := strings.Repeat("r", chorus.MaxRunIDLength-1)+"a", strings.Repeat("r", chorus.MaxRunIDLength-1)+"b"
	ra, err := chorus.Start(ctx, eng, parent, 1, &chorus.StartOptions{ID: a})
	require.NoError(t, err)
	rb, err := chorus.Start(ctx, eng, parent, 1, &chorus.StartOptions{ID: b})
	require.NoError(t, err)
	ca, err := ra.Result(ctx)
	require.NoError(t, err)
	cb, err := rb.Result(ctx)
	require.NoError(t, err)
	require.NotEqual(t, ca, cb)
}

// Start's errors about a bad ID quote a bounded prefix of it.
func TestRunIDErrorsQuoteABoundedPrefix(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("wf", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	eng, _ := setup(t, nil, wf)
	for _, id := range []string{strings.Repeat("x", 1<<20), strings.Repeat("\xff", 250), strings.Repeat("y", 200) + "\x00"} {
		_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: id})
		require.ErrorIs(t, err, chorus.ErrInvalidRunID)
		var re *chorus.RunIDError
		require.ErrorAs(t, err, &re)
		require.Less(t, len(err.Error()), maxQuotedError, err.Error())
	}
}

// Every call that names a run answers a bad ID with ErrRunNotFound (no run
// can have it) and an error text that quotes a bounded prefix of it.
func TestCallsWithBadRunIDQuoteABoundedPrefix(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wf := workflow.New("wf", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	q := workflow.NewQuery[int, int]("q")
	sig := workflow.NewSignal[int]("s")
	eng, _ := setup(t, nil, wf)
	id := strings.Repeat("z", 1<<20)
	calls := map[string]func() error{
		"Describe":  func() error { _, err := eng.Describe(ctx, id); return err },
		"History":   func() error { _, err := chorus.History(ctx, eng, id); return err },
		"Lookup":    func() error { _, err := chorus.Lookup(ctx, eng, wf, id); return err },
		"Signal":    func() error { return chorus.Signal(ctx, eng, id, sig, 1) },
		"Query":     func() error { _, err := chorus.Query(ctx, eng, id, q, 1); return err },
		"Cancel":    func() error { return eng.Cancel(ctx, id) },
		"Terminate": func() error { return eng.Terminate(ctx, id, "no") },
	}
	for name, call := range calls {
		err := call()
		require.ErrorIs(t, err, chorus.ErrRunNotFound, name)
		require.ErrorIs(t, err, chorus.ErrInvalidRunID, name)
		require.Less(t, len(err.Error()), maxQuotedError, "%s: %.500s", name, err.Error())
	}
}

// A signal that workflow code sends to an ID no run can have fails as
// RunNotFound, with a text that quotes a bounded prefix of the ID.
func TestSignalExternalToBadIDQuotesABoundedPrefix(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	sig := workflow.NewSignal[int]("s")
	type result struct {
		NotFound bool
		ErrLen   int
	}
	sender := workflow.New("sender", func(ctx workflow.Context, _ int) (result, error) {
		_, err := workflow.SignalExternal(ctx, strings.Repeat("t", 1<<20), sig, 1).Get(ctx)
		return result{NotFound: errors.Is(err, chorus.ErrRunNotFound), ErrLen: len(err.Error())}, nil
	})
	eng, _ := setup(t, nil, sender)
	run, err := chorus.Start(ctx, eng, sender, 0, nil)
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.True(t, got.NotFound)
	require.Less(t, got.ErrLen, maxQuotedError)
}

// A run recorded before child IDs were checked, which started a child with
// an ID that breaks today's rules, still replays: the recorded child is
// kept, not refused.
func TestRecordedChildWithOldIDStillReplays(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	child := workflow.New("child", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	sig := workflow.NewSignal[int]("s")
	parentWith := func(id string) *workflow.Definition[int, int] {
		return workflow.New("parent", func(ctx workflow.Context, n int) (int, error) {
			if _, err := workflow.SignalExternal(ctx, id, sig, 1).Get(ctx); err != nil {
				return 0, err
			}
			return workflow.ExecuteChildWorkflow(ctx, child, n, &workflow.ChildOptions{ID: id}).Get(ctx)
		})
	}
	target := workflow.New("target", func(ctx workflow.Context, n int) (int, error) {
		v, _ := workflow.GetSignalChannel(ctx, sig).Receive(ctx)
		return v, nil
	})
	eng, _ := setup(t, nil, parentWith("short"), child, target)
	_, err := chorus.Start(ctx, eng, target, 0, &chorus.StartOptions{ID: "short"})
	require.NoError(t, err)
	run, err := chorus.Start(ctx, eng, parentWith("short"), 1, &chorus.StartOptions{ID: "p"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.Error(t, err, "the child's ID is the signal target's: in use")
	x, err := chorus.History(ctx, eng, "p")
	require.NoError(t, err)

	// Rewrite the journal as an older engine would have written it for an
	// ID of 300 bytes.
	long := strings.Repeat("l", 300)
	for i, ev := range x.Events {
		var p map[string]any
		if json.Unmarshal(ev.Payload, &p) != nil {
			continue
		}
		for _, k := range []string{"id", "target"} {
			if p[k] == "short" {
				p[k] = long
				b, err := json.Marshal(p)
				require.NoError(t, err)
				x.Events[i].Payload = b
			}
		}
	}
	require.NoError(t, replay.Run(ctx, x, parentWith(long), child))
}
