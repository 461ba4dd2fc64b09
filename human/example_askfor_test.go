package human_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/workflow"
)

// The workflow records who approved an expense, and how long it took,
// from AskFor's result: the user the inbox let complete the task, whatever
// the answer says. The engine runs on a fake clock moved by the example.
func ExampleAskFor() {
	type Expense struct {
		ID     string
		Amount int
	}
	type Approval struct {
		Approved bool
		Note     string
	}
	approve := human.NewTask[Expense, Approval]("expense-approval")
	expenseFlow := workflow.New("expense", func(ctx workflow.Context, e Expense) (string, error) {
		ctx = human.Enable(ctx)
		r, err := human.AskFor(ctx, approve, e, &human.Options{Assign: human.ToGroup("managers"), Deadline: 72 * time.Hour})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s approved=%v by %s (task %s, %v after it was asked, %d escalations)",
			e.ID, r.Value.Approved, r.By, r.TaskID, r.DecidedAt.Sub(r.CreatedAt), r.Escalations), nil
	})

	dir := human.NewMemoryDirectory().Add(human.User{ID: "meg", Groups: []string{"managers"}})
	assigned := make(chan human.Notice, 1)
	notifier := human.NotifierFunc(func(_ context.Context, n human.Notice) error {
		assigned <- n
		return nil
	})
	tmp, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	mock := clock.NewMock()
	eng, err := chorus.Open(ctx, filepath.Join(tmp, "example.db"), &chorus.Options{
		Clock:       mock,
		Definitions: append(human.Definitions(dir, notifier), expenseFlow),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	inbox := human.NewInbox(eng, dir)

	run, err := chorus.Start(ctx, eng, expenseFlow, Expense{ID: "EXP-9", Amount: 120}, &chorus.StartOptions{ID: "exp-9"})
	if err != nil {
		log.Fatal(err)
	}
	n := <-assigned
	mock.Add(5 * time.Hour) // meg gets to it the same afternoon
	_, err = human.Complete(ctx, inbox, approve, "meg", n.RunID, n.TaskID, Approval{Approved: true, Note: "signed: the CFO"})
	fmt.Println("meg completes:", err)
	fmt.Println(run.Result(ctx))
	// Output:
	// meg completes: <nil>
	// EXP-9 approved=true by meg (task expense-approval-1, 5h0m0s after it was asked, 0 escalations) <nil>
}
