package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chorusdev/chorus/history"
)

// HeaderOf returns the run header ctx carries (see WithHeader), for a
// queued start that journals it later.
func HeaderOf(ctx context.Context) map[string][]byte { return headerOf(ctx) }

// EndQueued tells whoever watches run id (Result) that it ended before it
// started: it was canceled or terminated while it waited in a queue, with
// status st and the failure the store recorded.
func (e *Engine) EndQueued(id string, st history.RunStatus, failure []byte) {
	e.notify(id, Outcome{Status: st, Failure: failure})
}

// QueuedEndFailure returns the encoded failure of a run canceled
// (terminated false) or terminated with reason while it waited in a queue.
func (e *Engine) QueuedEndFailure(terminated bool, reason string) []byte {
	if terminated {
		return e.encodeFailure(&history.Failure{Type: FailureTypeTerminated, Message: reason, NonRetryable: true})
	}
	return e.encodeFailure(canceledFailure())
}

// WorkflowNames returns the names of the registered workflows, sorted.
func (e *Engine) WorkflowNames() []string {
	e.reg.mu.RLock()
	defer e.reg.mu.RUnlock()
	names := make([]string, 0, len(e.reg.workflows))
	for n := range e.reg.workflows {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ErrRunQueued is the error of a call that needs a run's journal (a
// signal, a query, an update) on a run that waits in a queue and has not
// started.
var ErrRunQueued = errors.New("chorus: run waits in a queue and has not started")

// journalless returns the error of loading a run that has no journal: one
// waiting in a queue, or one canceled or terminated there.
func journalless(info history.RunInfo) error {
	switch {
	case info.LastSeq != 0:
		return nil
	case info.Status == history.StatusQueued:
		return fmt.Errorf("%w: run %q", ErrRunQueued, info.ID)
	case info.Status.Ended():
		return fmt.Errorf("%w: run %q (it ended while it waited in a queue)", ErrRunEnded, info.ID)
	}
	return nil
}
