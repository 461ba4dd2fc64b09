package engine

import (
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/history"
)

// Limits bound what one run may hold. They are checked before anything is
// written, so a run that reaches one is left readable and replayable: the
// step that would cross it is refused (a call gets a *LimitError) or the run
// is blocked with one, and raising the limit and reopening resumes it. The
// history limits keep room for the outcome of every command issued (see
// checkHistoryRoom), and a block keeps the outcome the round recorded (see
// blockAfterInput), so no work is done twice. The chorus package documents
// the rules for users.
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
		s = fmt.Sprintf("chorus: run %s: %s exceeded: %d, the limit is %d", QuoteID(e.RunID), e.Limit, e.Value, e.Max)
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

// hasOutcome lists the commands whose outcome is journaled later, as an
// input, and the UpdateAccepted input, whose handler's outcome is journaled
// later as a command: the history limits keep room for it from the moment
// the event is recorded (and that outcome is never refused).
func hasOutcome(typ history.EventType) bool {
	switch typ {
	case history.EventActivityScheduled, history.EventTimerScheduled, history.EventChildStarted, history.EventSignalSent,
		history.EventUpdateAccepted:
		return true
	}
	return false
}

// endsGeneration lists the commands that end a run's generation; they are
// never refused, so that a run can always end.
func endsGeneration(typ history.EventType) bool {
	switch typ {
	case history.EventRunCompleted, history.EventRunFailed, history.EventRunCanceled, history.EventRunContinuedAsNew:
		return true
	}
	return false
}

// checkHistoryRoom reports whether issuing a command of type typ with payload
// would take the run past its history limits. A command counts its own
// event and, from the start, the eventual outcome of every command still
// waiting for one (an outcome without payload, for MaxHistoryBytes): an
// outcome always has room, so work done is never thrown away for lack of
// it. An outcome's payload can take the run past MaxHistoryBytes (by at most
// MaxPayloadBytes per outcome); the run is then blocked at its next command.
func (r *Run) checkHistoryRoom(typ history.EventType, payload []byte) error {
	if endsGeneration(typ) || typ == history.EventUpdateCompleted || typ == history.EventUpdateFailed {
		return nil // an owed outcome
	}
	lim := r.eng.limits
	owed := int64(len(r.pending) + r.UpdatesRunning())
	if hasOutcome(typ) {
		owed++
	}
	n := r.lastSeq - r.firstSeq + 2 + owed
	if m := int64(lim.MaxHistoryEvents); m > 0 && n > m {
		return &LimitError{Limit: "MaxHistoryEvents", RunID: r.id, Value: n, Max: m}
	}
	b := r.histBytes + int64(len(payload)) + eventOverhead + owed*eventOverhead
	if m := lim.MaxHistoryBytes; m > 0 && b > m {
		return &LimitError{Limit: "MaxHistoryBytes", RunID: r.id, Value: b, Max: m}
	}
	return nil
}

// checkSignalRoom reports whether a signal with payload would take the run
// past its history limits, counting the outcomes owed as checkHistoryRoom
// does. Such a signal is refused; the run goes on.
func (r *Run) checkSignalRoom(payload []byte) error {
	return r.checkHistoryRoom(history.EventSignalReceived, payload)
}

// warnHistory warns once when the run comes near its history limits.
func (r *Run) warnHistory() {
	lim := r.eng.limits
	n := r.lastSeq - r.firstSeq + 1
	near := func(v, m int64) bool { return m > 0 && v*5 >= m*4 }
	if !r.warned && (near(n, int64(lim.MaxHistoryEvents)) || near(r.histBytes, lim.MaxHistoryBytes)) {
		r.warned = true
		r.eng.log.Warn("chorus: run's history is near its limit; let it continue as new (workflow.ContinueAsNew)",
			"run", r.id, "events", n, "max_events", lim.MaxHistoryEvents, "bytes", r.histBytes, "max_bytes", lim.MaxHistoryBytes)
	}
}

// roundMark is how far a round had got when its latest input was recorded,
// before the code ran on it.
type roundMark struct {
	events, addTasks, doneTasks, cancel int
	status                              *history.StatusUpdate
	outcome                             *Outcome
}

func (r *Run) markRound() {
	rd := &r.round
	rd.mark = &roundMark{events: len(rd.events), addTasks: len(rd.addTasks), doneTasks: len(rd.doneTasks),
		cancel: len(rd.cancel), status: rd.status, outcome: rd.outcome}
}

// blockAfterInput blocks a run whose code, running on the round's latest
// input, would cross a history limit: the round is kept up to that input,
// so the outcome it records is not lost (the work it reports would be done
// again otherwise), and what the code did after it is thrown away, to be
// redone once the limit is raised. It reports false, changing nothing, when
// the round has no such input; becomeBlocked then throws the round away.
func (r *Run) blockAfterInput() bool {
	var le *LimitError
	m := r.round.mark
	if m == nil || !errors.As(r.fatal, &le) {
		return false
	}
	e := r.eng
	reason := r.fatal
	rd := r.round
	e.log.Error("chorus: run blocked", "run", r.id, "err", reason)
	dropped := int64(len(rd.events) - m.events)
	rd.events, rd.addTasks, rd.doneTasks, rd.cancel = rd.events[:m.events], rd.addTasks[:m.addTasks], rd.doneTasks[:m.doneTasks], rd.cancel[:m.cancel]
	rd.status, rd.outcome, rd.mark = m.status, m.outcome, nil
	lastSeq := r.lastSeq - dropped
	parent, parentStep, firstSeq := r.parent, r.parentStep, r.firstSeq
	r.kill()
	r.reset()
	r.blocked, r.lastSeq, r.parent, r.parentStep, r.firstSeq = reason, lastSeq, parent, parentStep, firstSeq
	rd.status = &history.StatusUpdate{Status: history.StatusBlocked, Failure: e.encodeFailure(FailureOf(reason))}
	if m.status != nil {
		rd.status.FirstSeq = m.status.FirstSeq
	}
	rd.outcome = &Outcome{Status: history.StatusBlocked, Blocked: reason}
	r.round = rd
	return true
}

func (r *Run) pendingSignals() int {
	n := 0
	for _, q := range r.signals {
		n += q.Len()
	}
	return n
}
