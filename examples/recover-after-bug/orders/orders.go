// Package orders is the workflow of the recover-after-bug example: three
// steps per order, the third of which has a bug in the first release.
package orders

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// Workflow is the name the order workflow is registered under, in both
// releases.
const Workflow = "process-order"

// The activities' names; each is a step of the workflow.
const (
	StepReserve = "reserve-stock" // step 1
	StepCharge  = "charge-card"   // step 2: must never run twice for an order
	StepShip    = "ship"          // step 3: buggy in release 1
)

// Counter counts every execution of every step, outside the journal: one
// line "STEP RUN" per execution, appended to a file, so the count survives
// the process that made it.
type Counter struct {
	mu   sync.Mutex
	path string
}

// NewCounter counts into the file at path.
func NewCounter(path string) *Counter { return &Counter{path: path} }

// Add records one execution of step for run.
func (c *Counter) Add(step, run string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(c.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%s %s\n", step, run); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadCounts returns, by step and run, how many executions the file at
// path records.
func ReadCounts(path string) (map[string]map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		step, run, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return nil, fmt.Errorf("counter file %s: bad line %q", path, sc.Text())
		}
		if out[step] == nil {
			out[step] = map[string]int{}
		}
		out[step][run]++
	}
	return out, sc.Err()
}

// ErrBadAddress is release 1's bug: it rejects every address.
var ErrBadAddress = errors.New("ship: address line 2 is not optional")

// Release returns the order workflow and its activities as a release of
// the application registers them: release 1 has the bug in step 3, release
// 2 the fix. The names, and the steps before the bug, are the same in
// both, so release 2 replays what release 1 journaled.
func Release(c *Counter, release int) (*workflow.Definition[string, string], []chorus.Definition) {
	step := func(name string, run func(order string) (string, error)) *activity.Definition[string, string] {
		return activity.New(name, func(ctx context.Context, order string) (string, error) {
			if err := c.Add(name, activity.GetInfo(ctx).RunID); err != nil {
				return "", err
			}
			return run(order)
		})
	}
	reserve := step(StepReserve, func(o string) (string, error) { return o + " reserved", nil })
	charge := step(StepCharge, func(o string) (string, error) { return o + ", charged", nil })
	ship := step(StepShip, func(o string) (string, error) {
		if release < 2 {
			return "", activity.NonRetryable(ErrBadAddress)
		}
		return o + ", shipped", nil
	})
	wf := workflow.New(Workflow, func(ctx workflow.Context, order string) (string, error) {
		out := order
		for _, st := range []*activity.Definition[string, string]{reserve, charge, ship} {
			var err error
			if out, err = workflow.ExecuteActivity(ctx, st, out).Get(ctx); err != nil {
				return "", err
			}
			if st == charge {
				// A reset to before this point would charge again.
				workflow.MarkUnrepeatable(ctx, "the card was charged")
			}
		}
		return out, nil
	})
	return wf, []chorus.Definition{wf, reserve, charge, ship}
}

// Path returns the file the counter writes.
func (c *Counter) Path() string { return c.path }
