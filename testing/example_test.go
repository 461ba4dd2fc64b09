package chorustest_test

import (
	"context"
	"fmt"
	"os"
	stdtesting "testing"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// The code under test: an expense report waits up to 30 days for a
// manager's decision, then escalates to finance.

var Decide = workflow.NewSignal[bool]("decide")

var EscalateToFinance = activity.New("escalate-to-finance", func(ctx context.Context, report string) (string, error) {
	return "", fmt.Errorf("would page the finance team about %s", report) // not in a unit test
})

var ExpenseReport = workflow.New("expense-report", func(ctx workflow.Context, report string) (string, error) {
	approved, ok := workflow.GetSignalChannel(ctx, Decide).ReceiveWithTimeout(ctx, 30*24*time.Hour)
	if !ok {
		ticket, err := workflow.ExecuteActivity(ctx, EscalateToFinance, report).Get(ctx)
		if err != nil {
			return "", err
		}
		return report + " escalated: " + ticket, nil
	}
	return fmt.Sprintf("%s approved=%v", report, approved), nil
})

// testExpenseReport is what a test function looks like:
// func TestExpenseReport(t *testing.T) { ... }.
func testExpenseReport(t stdtesting.TB) {
	env := chorustest.New(t, &chorustest.Options{
		Definitions: []chorus.Definition{ExpenseReport, EscalateToFinance},
	})
	escalate := chorustest.OnActivity(env, EscalateToFinance).Return("FIN-1", nil)

	// Nobody decides: the 30-day timer fires, in milliseconds of wall time.
	run := chorustest.Start(env, ExpenseReport, "EXP-7", nil)
	got, err := chorustest.Result(env, run)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("after %v: %s (escalations: %d, for %v)\n", env.Elapsed(), got, escalate.Calls(), escalate.Inputs())

	// A manager approves on the third day.
	run = chorustest.Start(env, ExpenseReport, "EXP-8", &chorus.StartOptions{ID: "exp-8"})
	env.At(env.Elapsed()+47*time.Hour, func() { chorustest.Signal(env, "exp-8", Decide, true) })
	got, err = chorustest.Result(env, run)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("after %v: %s (escalations: %d)\n", env.Elapsed(), got, escalate.Calls())
	// When the test ends, both runs are replayed from their journals: a
	// non-deterministic ExpenseReport would fail it.
}

// A test of a workflow that waits 30 days for an approval, with a mocked
// activity. Fake time skips ahead whenever the test waits and nothing else
// can happen; nothing is measured by the wall clock.
func Example() {
	t := &exampleTB{}
	testExpenseReport(t)
	t.finish()
	// Output:
	// after 720h0m0s: EXP-7 escalated: FIN-1 (escalations: 1, for [EXP-7])
	// after 767h0m0s: EXP-8 approved=true (escalations: 1)
}

// exampleTB stands in for the *testing.T that an Example function does
// not get: it prints failures and runs the cleanups at the end.
type exampleTB struct {
	stdtesting.TB
	cleanups []func()
	failed   bool
}

func (e *exampleTB) Helper()                  {}
func (e *exampleTB) Log(args ...any)          {}
func (e *exampleTB) Logf(string, ...any)      {}
func (e *exampleTB) Cleanup(f func())         { e.cleanups = append(e.cleanups, f) }
func (e *exampleTB) Failed() bool             { return e.failed }
func (e *exampleTB) Context() context.Context { return context.Background() }
func (e *exampleTB) Error(args ...any)        { e.failed = true; fmt.Println(args...) }
func (e *exampleTB) Errorf(f string, args ...any) {
	e.Error(fmt.Sprintf(f, args...))
}
func (e *exampleTB) Fatal(args ...any) { e.Error(args...); panic("test failed") }
func (e *exampleTB) Fatalf(f string, args ...any) {
	e.Fatal(fmt.Sprintf(f, args...))
}
func (e *exampleTB) TempDir() string {
	dir, err := os.MkdirTemp("", "chorustest-example")
	if err != nil {
		e.Fatal(err)
	}
	e.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (e *exampleTB) finish() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}
