package inspect_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/internal/inspect"
	"github.com/chorusdev/chorus/workflow"
)

// runs show (inspect.Describe) lists a run's human tasks and their audit
// trail from the journal alone.
func TestDescribeShowsHumanTasks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "h.db")
	review := human.NewTask[string, string]("review")
	wf := workflow.New("h-wf", func(ctx workflow.Context, s string) (string, error) {
		ctx = human.Enable(ctx)
		return human.Ask(ctx, review, s, &human.Options{Assign: human.ToGroup("ops"), Deadline: time.Hour})
	})
	dir := human.NewMemoryDirectory()
	dir.Add(human.User{ID: "ann", Groups: []string{"ops"}})
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	defs := append([]chorus.Definition{wf}, human.Definitions(dir, nil)...)
	eng, err := chorus.Open(ctx, path, &chorus.Options{Definitions: defs, Clock: clk})
	require.NoError(t, err)
	run, err := chorus.Start(ctx, eng, wf, "case 1", &chorus.StartOptions{ID: "h-1"})
	require.NoError(t, err)
	inbox := human.NewInbox(eng, dir)
	var tasks []human.TaskView
	require.Eventually(t, func() bool {
		tasks, err = inbox.List(ctx, "ann")
		return err == nil && len(tasks) == 1
	}, 10*time.Second, 5*time.Millisecond, "the task reaches ann's inbox")
	_, err = inbox.Claim(ctx, "ann", "h-1", tasks[0].ID)
	require.NoError(t, err)
	_, err = inbox.Complete(ctx, "ann", "h-1", tasks[0].ID, "ok")
	require.NoError(t, err)
	out, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "ok", out)
	require.NoError(t, eng.Close(ctx))

	st, err := sqlite.OpenReadOnly(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	v, err := inspect.Describe(ctx, st, "h-1", nil)
	require.NoError(t, err)
	require.Len(t, v.HumanTasks, 1)
	h := v.HumanTasks[0]
	require.Equal(t, tasks[0].ID, h.ID)
	require.Equal(t, "completed", h.State)
	require.Equal(t, "ann", h.By)
	var actions []string
	for _, a := range h.Audit {
		actions = append(actions, a.Action)
	}
	require.Subset(t, actions, []string{"created", "claimed", "completed"})
	require.Equal(t, "created", actions[0])
}
