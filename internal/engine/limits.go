package engine

import (
	"errors"
	"fmt"
)

// Limits bound what one run may hold. They are checked before anything is
// written, so a run that reaches one is left readable and replayable: the
// step that would cross it is refused (a call gets a *LimitError) or the run
// is blocked with one, and raising the limit and reopening resumes it.
type Limits struct {
	// MaxPayloadBytes caps one encoded payload: a workflow input or result,
	// an activity input or result, a signal, a query argument.
	MaxPayloadBytes int
	// MaxHistoryEvents caps the events of a run's current generation.
	MaxHistoryEvents int
	// MaxHistoryBytes caps the payload bytes of a run's current generation
	// (plus a small allowance per event).
	MaxHistoryBytes int64
	// MaxPendingSignals caps the signals a run has received and not yet
	// consumed.
	MaxPendingSignals int
}

// eventOverhead is what each event counts towards MaxHistoryBytes besides
// its payload: its seq, type, name, ref and time.
const eventOverhead = 48

// ErrLimitExceeded is wrapped by every *LimitError.
var ErrLimitExceeded = errors.New("chorus: limit exceeded")

// LimitError reports a limit a run reached.
type LimitError struct {
	// Limit names the field of Limits, such as "MaxHistoryEvents".
	Limit string
	// RunID is the run concerned, when there is one.
	RunID string
	// Value is what the step would have reached, Max the limit.
	Value, Max int64
}

func (e *LimitError) Error() string {
	s := fmt.Sprintf("chorus: %s exceeded: %d, the limit is %d", e.Limit, e.Value, e.Max)
	if e.RunID != "" {
		s = fmt.Sprintf("chorus: run %q: %s exceeded: %d, the limit is %d", e.RunID, e.Limit, e.Value, e.Max)
	}
	switch e.Limit {
	case "MaxHistoryEvents", "MaxHistoryBytes":
		s += "; let long-lived workflows continue as new (workflow.ContinueAsNew) to start a fresh history"
	case "MaxPayloadBytes":
		s += "; pass a reference (an ID, a URL) instead of the data itself"
	}
	return s
}

// Is makes errors.Is(err, ErrLimitExceeded) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimitExceeded }

// FailureType returns the type recorded for the error.
func (e *LimitError) FailureType() string { return FailureTypeLimitExceeded }

// CheckPayload returns a *LimitError if b is over MaxPayloadBytes.
func (e *Engine) CheckPayload(runID string, b []byte) error {
	if m := e.limits.MaxPayloadBytes; m > 0 && len(b) > m {
		return &LimitError{Limit: "MaxPayloadBytes", RunID: runID, Value: int64(len(b)), Max: int64(m)}
	}
	return nil
}

// checkHistory reports whether the round would take the run past its
// history limits, and warns once when it comes near them.
func (r *Run) checkHistory() error {
	lim := r.eng.limits
	n := r.lastSeq - r.firstSeq + 1
	if m := int64(lim.MaxHistoryEvents); m > 0 && n > m {
		return &LimitError{Limit: "MaxHistoryEvents", RunID: r.id, Value: n, Max: m}
	}
	if m := lim.MaxHistoryBytes; m > 0 && r.histBytes > m {
		return &LimitError{Limit: "MaxHistoryBytes", RunID: r.id, Value: r.histBytes, Max: m}
	}
	near := func(v, m int64) bool { return m > 0 && v*5 >= m*4 }
	if !r.warned && (near(n, int64(lim.MaxHistoryEvents)) || near(r.histBytes, lim.MaxHistoryBytes)) {
		r.warned = true
		r.eng.log.Warn("chorus: run's history is near its limit; let it continue as new (workflow.ContinueAsNew)",
			"run", r.id, "events", n, "max_events", lim.MaxHistoryEvents, "bytes", r.histBytes, "max_bytes", lim.MaxHistoryBytes)
	}
	return nil
}

func (r *Run) pendingSignals() int {
	n := 0
	for _, q := range r.signals {
		n += q.Len()
	}
	return n
}
