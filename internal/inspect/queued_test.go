package inspect_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/inspect"
	"github.com/chorusdev/chorus/workflow"
)

// A signal queued by a process without the workflow registered shows as
// queued until a process with the workflow delivers it.
func TestDescribeShowsQueuedInputs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "q.db")
	sig := workflow.NewSignal[string]("q-approve")
	wf := workflow.New("q-wf", func(ctx workflow.Context, _ int) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, sig).Receive(ctx)
		return v, nil
	})
	open := func(defs ...chorus.Definition) *chorus.Engine {
		eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: defs})
		require.NoError(t, err)
		return eng
	}
	queuedItem := func(st *sqlite.Store) inspect.Item {
		tl, err := inspect.BuildTimeline(ctx, st, "q-1", nil)
		require.NoError(t, err)
		for _, it := range tl.Items {
			if it.Kind == "queued-input" {
				return it
			}
		}
		t.Fatalf("no queued input in %+v", tl.Items)
		return inspect.Item{}
	}
	var item inspect.Item
	describe := func() *inspect.Run {
		st, err := sqlite.OpenReadOnly(ctx, path, nil)
		require.NoError(t, err)
		defer st.Close()
		v, err := inspect.Describe(ctx, st, "q-1", nil)
		require.NoError(t, err)
		item = queuedItem(st)
		return v
	}

	eng := open(wf)
	_, err := chorus.Start(ctx, eng, wf, 1, &chorus.StartOptions{ID: "q-1"})
	require.NoError(t, err)
	require.NoError(t, eng.Close(ctx))

	op := open()
	require.NoError(t, chorus.Signal(chorus.WithIdentity(ctx, "ann"), op, "q-1", sig, "yes"))
	require.NoError(t, op.Close(ctx))
	v := describe()
	require.Len(t, v.Queued, 1)
	q := v.Queued[0]
	require.Equal(t, "signal", q.Action)
	require.Equal(t, "q-approve", q.Signal)
	require.JSONEq(t, `"yes"`, string(q.Value))
	require.Equal(t, "ann", q.Identity)
	require.Empty(t, v.Signals, "not received by the code yet")
	require.Equal(t, "queued", item.Status)
	require.Equal(t, `signal "q-approve" by ann, for the workflow's code`, item.Detail)

	app := open(wf)
	run, err := chorus.Lookup(ctx, app, wf, "q-1")
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "yes", out)
	require.NoError(t, app.Close(ctx))
	v = describe()
	require.Empty(t, v.Queued)
	require.Len(t, v.Signals, 1)
	require.Equal(t, "delivered", item.Status)
}
