package engine

import (
	"context"
	"slices"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/history"
)

// Batch operations: the engine's part is to journal the batch's ID in the
// note of each action, so that a batch run again can tell the runs it
// acted on.

type batchKey struct{}

// WithBatch returns a context whose cancels, terminations and signals are
// journaled with an OperatorAction note holding batch (and the caller's
// identity, DefaultResetIdentity when it has none).
func WithBatch(ctx context.Context, batch string) context.Context {
	return context.WithValue(ctx, batchKey{}, batch)
}

// batchOf returns the batch ID ctx carries, or "".
func batchOf(ctx context.Context) string {
	b, _ := ctx.Value(batchKey{}).(string)
	return b
}

// Clock returns the engine's clock.
func (e *Engine) Clock() clock.Clock { return e.clock }

// ActedBy reports whether the journal of run id, in any generation, holds
// an OperatorAction note for action made by batch.
func (e *Engine) ActedBy(ctx context.Context, id, action, batch string) (bool, error) {
	events, err := e.store.Events(ctx, id, 0)
	if err != nil {
		return false, err
	}
	for _, ev := range slices.Backward(events) {
		if ev.Type != history.EventOperatorAction || ev.Name != action {
			continue
		}
		if a, err := history.DecodeOperatorAction(ev.Payload); err == nil && a.Batch == batch {
			return true, nil
		}
	}
	return false, nil
}
