package human_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

type Claim struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

type Decision struct {
	Outcome string `json:"outcome"`
	Note    string `json:"note,omitempty"`
}

var Review = human.NewTask[Claim, Decision]("claim-review")

// reviewFlow is a workflow that asks Review once with opts.
func reviewFlow(name string, opts human.Options) *workflow.Definition[Claim, Decision] {
	return workflow.New(name, func(ctx workflow.Context, c Claim) (Decision, error) {
		ctx = human.Enable(ctx)
		return human.Ask(ctx, Review, c, &opts)
	})
}

// people is the directory of the tests.
func people() *human.MemoryDirectory {
	return human.NewMemoryDirectory().Add(
		human.User{ID: "ann", Groups: []string{"adjusters"}, Skills: []string{"fraud"}},
		human.User{ID: "bob", Groups: []string{"adjusters"}},
		human.User{ID: "cyd", Groups: []string{"adjusters"}, Skills: []string{"fraud"}},
		human.User{ID: "sue", Groups: []string{"senior-adjusters"}},
		human.User{ID: "tom", Groups: []string{"senior-adjusters"}},
		human.User{ID: "zed", Groups: []string{"marketing"}},
	)
}

// recorder is a Notifier that keeps what it was told.
type recorder struct{ notices chan human.Notice }

func newRecorder() *recorder { return &recorder{notices: make(chan human.Notice, 100)} }

func (r *recorder) Notify(_ context.Context, n human.Notice) error {
	r.notices <- n
	return nil
}

func (r *recorder) all() []human.Notice {
	var out []human.Notice
	for {
		select {
		case n := <-r.notices:
			out = append(out, n)
		default:
			return out
		}
	}
}

// newEnv returns a test env with the package's activities and wf
// registered, and an inbox on it.
func newEnv(t *testing.T, dir human.Directory, n human.Notifier, wf ...chorus.Definition) (*chorustest.Env, *human.Inbox) {
	t.Helper()
	defs := append(human.Definitions(dir, n), wf...)
	env := chorustest.New(t, &chorustest.Options{Definitions: defs, FailOnUnfinished: false})
	return env, human.NewInbox(env.Engine(), dir)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// onlyTask returns the run's single task.
func onlyTask(t *testing.T, in *human.Inbox, env *chorustest.Env, runID string) human.TaskView {
	t.Helper()
	views, err := chorustest.Query(env, runID, human.TasksQuery, struct{}{})
	require.NoError(t, err)
	require.Len(t, views, 1)
	return views[0]
}

func actions(v human.TaskView) []string {
	var out []string
	for _, a := range v.Audit {
		out = append(out, a.Action)
	}
	return out
}
