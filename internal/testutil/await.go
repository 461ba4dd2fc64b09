package testutil

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/internal/hook"
)

// Await returns once cond holds (what names it in the error of a wait that
// gives up), checking it again each time the engine
// finishes a unit of work (a run's round, an activity attempt, a task):
// everything that changes what cond looks at happens in one, so nothing
// polls and no change goes unseen. It returns cond's error, or ctx's when
// ctx is done first (the failure guard). A cond that asks the engine
// itself (a query, an inbox list) is work too, which wakes the wait again:
// such a cond suits waits for work already under way, not for a timer. It
// takes the engine's settle hook:
// one Await at a time per engine, and not on an engine a chorustest
// environment drives.
func Await(ctx context.Context, eng *chorus.Engine, what string, cond func() (bool, error)) error {
	core := hook.Core(eng)
	wake := make(chan struct{}, 1)
	core.SetOnSettle(func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	defer core.SetOnSettle(nil)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// AwaitStatus is [Await] for run id to have status want (a run not started
// yet is waited for).
func AwaitStatus(ctx context.Context, eng *chorus.Engine, id string, want chorus.RunStatus) error {
	return Await(ctx, eng, fmt.Sprintf("run %s to be %v", id, want), func() (bool, error) {
		info, err := eng.Describe(ctx, id)
		if errors.Is(err, chorus.ErrRunNotFound) {
			return false, nil
		}
		return err == nil && info.Status == want, err
	})
}
