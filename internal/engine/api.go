package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/history"
)

// Signal delivers a signal to a run and returns once it is journaled.
func (e *Engine) Signal(ctx context.Context, id, name string, payload []byte) error {
	if err := CheckSignalName(name); err != nil {
		return err
	}
	if err := e.CheckPayload(id, payload); err != nil {
		return err
	}
	return e.call(ctx, id, input{kind: inSignal, name: name, payload: payload})
}

// SignalWithStart signals the run, starting it first unless it exists. A
// new run and its signal are committed together, and the signal is in its
// channel before the run's code first runs.
// On a run that has ended, reuse says whether a new run takes its ID; to
// bounds how long a new run may go on.
func (e *Engine) SignalWithStart(ctx context.Context, spec WorkflowSpec, id string, startInput []byte, name string, payload []byte, reuse IDReusePolicy, to Timeouts) error {
	if err := CheckSignalName(name); err != nil {
		return err
	}
	if err := errors.Join(e.CheckPayload(id, startInput), e.CheckPayload(id, payload)); err != nil {
		return err
	}
	return e.call(ctx, id, input{kind: inStart, payload: startInput, startArgs: &startArgs{spec: spec, startOnly: true, sigName: name, sigPayload: payload, reuse: reuse, timeouts: to}})
}

// ErrInvalidSignalName is wrapped by the error of a signal whose name is
// empty, longer than MaxSignalName bytes, not UTF-8, or holds a NUL byte
// (which the journal uses to tell a signal from another run by its
// sender).
var ErrInvalidSignalName = errors.New("chorus: invalid signal name")

// MaxSignalName is the longest signal name accepted, in bytes.
const MaxSignalName = 1024

// CheckSignalName reports why name cannot name a signal.
func CheckSignalName(name string) error {
	if reason := nameRule(name, MaxSignalName); reason != "" {
		return fmt.Errorf("%w: %s %s", ErrInvalidSignalName, QuoteID(name), reason)
	}
	return nil
}

// IDReusePolicy says whether a new run may take the ID of a run that
// exists.
type IDReusePolicy uint8

// The ID reuse policies.
const (
	// IDReuseDefault is IDReuseRejectDuplicate for Start and
	// IDReuseAllowDuplicate for SignalWithStart.
	IDReuseDefault IDReusePolicy = iota
	// IDReuseAllowDuplicate lets a new run take the ID of a run that has
	// ended, however it ended.
	IDReuseAllowDuplicate
	// IDReuseAllowDuplicateFailedOnly lets a new run take the ID of a run
	// that failed, was canceled or terminated, not of one that completed.
	IDReuseAllowDuplicateFailedOnly
	// IDReuseRejectDuplicate never lets a new run take an ID in use.
	IDReuseRejectDuplicate
	// IDReuseTerminateIfRunning terminates a run that has not ended (for
	// Start) and lets the new run take its ID, as it does the ID of an ended
	// run.
	IDReuseTerminateIfRunning
)

// resolve returns the policy in force for a start or a signal-with-start.
func (p IDReusePolicy) resolve(signalWithStart bool) IDReusePolicy {
	switch {
	case p != IDReuseDefault:
		return p
	case signalWithStart:
		return IDReuseAllowDuplicate
	}
	return IDReuseRejectDuplicate
}

// mayReplace reports whether the policy may ever give a run's ID to a new
// run.
func (p IDReusePolicy) mayReplace(signalWithStart bool) bool {
	return p.resolve(signalWithStart) != IDReuseRejectDuplicate
}

// Query runs a registered query handler of the run and returns its encoded
// answer. The journal does not change.
func (e *Engine) Query(ctx context.Context, id, name string, arg []byte) ([]byte, error) {
	in := input{kind: inQuery, name: name, payload: arg, query: make(chan []byte, 1)}
	if err := e.call(ctx, id, in); err != nil {
		return nil, err
	}
	return <-in.query, nil
}

// Terminate ends a run at once with a recorded reason, whatever its code is
// doing; it works on blocked runs too.
func (e *Engine) Terminate(ctx context.Context, id, reason string) error {
	fl := &history.Failure{Type: FailureTypeTerminated, Message: reason, NonRetryable: true}
	return e.call(ctx, id, input{kind: inTerminate, failure: fl})
}

// Divergence is a run whose journal the registered code does not replay.
type Divergence struct {
	RunID    string
	Workflow string
	Err      error // a *NonDeterminismError, *VersionError, *PanicError, *PayloadError, *NotRegisteredError, or an error wrapping history.ErrCorrupt, ...
}

// CheckUpgrade replays every run that has not ended against the registered
// code, without changing anything, and returns those that diverge. A run
// whose stored row or journal is damaged is returned too, with an error
// wrapping history.ErrCorrupt; a damaged row is not replayed, since where
// its current generation starts cannot be trusted.
func (e *Engine) CheckUpgrade(ctx context.Context) ([]Divergence, error) {
	var out []Divergence
	for _, status := range []history.RunStatus{history.StatusRunning, history.StatusBlocked} {
		after := ""
		for {
			runs, err := e.store.ListRuns(ctx, history.ListFilter{Status: status, AfterID: after, Limit: 500})
			if err != nil {
				return nil, fmt.Errorf("chorus: check upgrade: %w", err)
			}
			for _, info := range runs {
				if info.Damaged != nil {
					out = append(out, Divergence{RunID: info.ID, Workflow: info.Workflow, Err: info.Damaged})
					continue
				}
				if err := e.dryReplay(ctx, info); err != nil {
					if isStoreError(err) || ctx.Err() != nil {
						return nil, fmt.Errorf("chorus: check upgrade of run %q: %w", info.ID, err)
					}
					out = append(out, Divergence{RunID: info.ID, Workflow: info.Workflow, Err: err})
				}
			}
			if len(runs) < 500 {
				break
			}
			after = runs[len(runs)-1].ID
		}
	}
	return out, nil
}

// dryReplay replays a run on a scratch Run that nothing else sees.
func (e *Engine) dryReplay(ctx context.Context, info history.RunInfo) error {
	events, err := e.store.Events(ctx, info.ID, max(info.FirstSeq, 1)-1)
	if err != nil {
		return err
	}
	if len(events) == 0 || events[0].Type != history.EventRunStarted {
		return fmt.Errorf("%w: run %q: the journal of its current generation does not begin with RunStarted", history.ErrCorrupt, info.ID)
	}
	spec, ok := e.reg.workflow(events[0].Name)
	if !ok {
		return &NotRegisteredError{Kind: "workflow", Name: events[0].Name}
	}
	r := newRun(e, info.ID)
	r.lastSeq = events[len(events)-1].Seq
	r.replaying = true
	err = r.replayEvents(spec, events)
	r.kill()
	return err
}

// isStoreError reports an error of the store rather than of the code.
func isStoreError(err error) bool {
	for _, s := range []error{history.ErrStoreClosed, history.ErrRunNotFound, history.ErrConflict, ErrEngineClosed} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
