package chorus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/saga"
)

// Observer watches what an engine does, for tracing, metrics or logs:
// install one with [Options].Observer. The chorusotel package provides one
// for OpenTelemetry; a Prometheus or log backend implements the same
// method.
//
// The engine calls Observe only for live transitions, never while it
// replays a run: an event about a run is reported once the commit that
// journals it has landed, and an activity attempt once its outcome (or its
// retry) is journaled. A run rebuilt after a restart or an eviction from
// the run cache reports nothing of what it had already done, so across
// crashes and restarts each transition is reported at most once (a crash
// between a commit and its report loses the report; it never doubles it).
// An attempt that runs again is a new execution and is reported again: one
// that a crash cut short before its outcome was journaled is not reported,
// its execution after the restart is; an outcome that reaches a blocked run
// is dropped and its activity runs again once the run resumes, and both
// executions are reported.
//
// Observe runs on the engine's own goroutines, often while a run waits for
// it: it must be quick and must not block (hand slow work to a goroutine of
// its own) and must not call the engine. It may be called from several
// goroutines at once.
//
// For [EventActivityStarted], ctx is the attempt's context (with the values
// of the [ContextPropagator]s) and the context Observe returns becomes the
// attempt's, so the activity's own calls see what the observer put there
// (an OpenTelemetry span, say); the [EventActivityEnded] of the same
// attempt gets that context back. For every other kind ctx is a background
// context and the result is ignored (return ctx or nil).
type Observer interface {
	Observe(ctx context.Context, ev Event) context.Context
}

// EventKind says what an [Event] reports.
type EventKind uint8

// The kinds of [Event]. The fields each sets are listed with [Event].
const (
	// EventRunStarted: a run (or, with ContinuedAsNew, the next
	// generation of one) was started.
	EventRunStarted EventKind = iota + 1
	// EventRunEnded: a run ended with Status (or its generation
	// continued as new: ContinuedAsNew is set and Status is zero).
	EventRunEnded
	// EventRunBlocked: a run was blocked; Err is the *BlockedError.
	EventRunBlocked
	// EventActivityStarted: an activity attempt starts.
	EventActivityStarted
	// EventActivityEnded: an activity attempt ended and what it led to
	// is journaled.
	EventActivityEnded
	// EventTimerScheduled: workflow code started a timer.
	EventTimerScheduled
	// EventTimerFired: a timer fired and the run recorded it.
	EventTimerFired
	// EventSignalReceived: a run received a signal.
	EventSignalReceived
	// EventChildStarted: workflow code started a child run.
	EventChildStarted
	// EventChildEnded: a run recorded how its child ended.
	EventChildEnded
	// EventCompensationStarted: a saga started a compensation.
	EventCompensationStarted
	// EventCompensationEnded: a saga's compensation completed, failed or
	// was skipped.
	EventCompensationEnded
	// EventCommit: one transaction of the journal's group commit.
	EventCommit
	// EventCacheHit: an input found its run idle in the run cache.
	EventCacheHit
	// EventCacheEviction: an idle run left the run cache, over
	// [Options].CacheSize.
	EventCacheEviction
	// EventRunLoaded: a run that was not in memory was rebuilt from its
	// journal by replay (a cache miss, or the first input after a
	// restart).
	EventRunLoaded
	// EventMarker: workflow code journaled a marker
	// (workflow.RecordMarker). A saga's compensation markers are reported
	// both as compensations and as markers.
	EventMarker
	// EventRunEnqueued: a run was enqueued to a queue (Name) by this
	// engine; a debounced enqueue gathered into a waiting run reports
	// nothing.
	EventRunEnqueued
	// EventRunDequeued: a run left its queue (Name) to start: Start is
	// when it was enqueued and Latency how long it waited.
	EventRunDequeued
)

var eventKindNames = [...]string{
	EventRunStarted: "RunStarted", EventRunEnded: "RunEnded", EventRunBlocked: "RunBlocked",
	EventActivityStarted: "ActivityStarted", EventActivityEnded: "ActivityEnded",
	EventTimerScheduled: "TimerScheduled", EventTimerFired: "TimerFired", EventSignalReceived: "SignalReceived",
	EventChildStarted: "ChildStarted", EventChildEnded: "ChildEnded",
	EventCompensationStarted: "CompensationStarted", EventCompensationEnded: "CompensationEnded",
	EventCommit: "Commit", EventCacheHit: "CacheHit", EventCacheEviction: "CacheEviction", EventRunLoaded: "RunLoaded",
	EventMarker: "Marker", EventRunEnqueued: "RunEnqueued", EventRunDequeued: "RunDequeued",
}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && eventKindNames[k] != "" {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one thing an engine did, as told to an [Observer]. Times are on
// the engine's [Options].Clock, except those of EventCommit, which are
// real time.
//
// Every kind about a run sets RunID, Workflow and Header (the run's
// propagated [Header], read-only: do not change it) and Time. Besides:
//
//   - EventRunStarted: Step (the Seq of its RunStarted).
//   - EventRunEnded: Start (when the run, or its current generation,
//     started, from the journal, so also across restarts), Status, Err
//     (a *WorkflowError unless the run completed), or ContinuedAsNew.
//   - EventRunBlocked: Err.
//   - EventActivityStarted: Name (the activity), Step, Attempt, Latency
//     (schedule-to-start: from the ActivityScheduled event for a first
//     attempt, from the end of the retry backoff for later ones).
//   - EventActivityEnded: as EventActivityStarted, plus Start (when the
//     attempt started) and, for a failed attempt, Err and FailureType,
//     Retry when it is tried again, Pending when it returned
//     activity.ErrResultPending to complete asynchronously.
//   - EventTimerScheduled: Step, FireAt.
//   - EventTimerFired: Step, Start (when it was scheduled).
//   - EventSignalReceived: Name (the signal), Step.
//   - EventChildStarted: Name (the child's workflow), ChildID, Step.
//   - EventChildEnded: as EventChildStarted, plus Start (when it was
//     started), Status, and Err and FailureType unless it completed.
//   - EventCompensationStarted: Name (the compensation's step name),
//     Saga, Index, CompensationKind.
//   - EventCompensationEnded: as EventCompensationStarted, plus Err when
//     it failed, Skipped when it was not run, and Start when the start
//     was seen by this process (zero when it was seen before a restart).
//   - EventMarker: Name (the marker's), Step, Details.
//   - EventCommit: Start, Latency, BatchSize (runs committed together), Err.
//   - EventCacheHit, EventCacheEviction, EventRunLoaded: RunID (and, for
//     EventRunLoaded, Workflow, Start and Step, the journal's last Seq).
type Event struct {
	Kind     EventKind
	Time     time.Time
	Start    time.Time
	RunID    string
	Workflow string
	Name     string
	Step     int64
	Attempt  int
	Status   RunStatus
	// ContinuedAsNew marks the EventRunEnded of a generation that
	// continued as new.
	ContinuedAsNew bool
	Err            error
	FailureType    string
	Retry          bool
	Pending        bool
	Latency        time.Duration
	BatchSize      int
	ChildID        string
	FireAt         time.Time
	// Saga, Index and CompensationKind identify a compensation as its
	// journal markers do (see saga.MarkerDetails).
	Saga             string
	Index            int
	CompensationKind string
	Skipped          bool
	Header           Header
	// Details are the details of an EventMarker as journaled: encoded by
	// the engine's codec (JSON unless [Options].Codec says otherwise).
	// Read-only; decode them with [Event.DecodeDetails].
	Details []byte

	codec history.Codec
}

// DecodeDetails decodes the Details of an EventMarker into v with the
// engine's codec (JSON for an Event the engine did not make).
func (ev Event) DecodeDetails(v any) error {
	if ev.codec == nil {
		return history.JSONCodec{}.Unmarshal(ev.Details, v)
	}
	return ev.codec.Unmarshal(ev.Details, v)
}

// observing adapts an Observer to the engine: it turns the engine's
// observations into Events and pairs the start and end of compensations.
type observing struct {
	obs    Observer
	codec  history.Codec
	redact bool // a PayloadCodec is set: error texts of code stay out of Events
	mu     sync.Mutex
	comps  map[compKey]time.Time // compensations started, until they end
}

type compKey struct {
	run, saga string
	index     int
}

// observer returns the engine's hook for o, or nil without one.
func observer(o Observer, codec history.Codec, redact bool) engine.Observer {
	if o == nil {
		return nil
	}
	a := &observing{obs: o, codec: codec, redact: redact, comps: map[compKey]time.Time{}}
	return a.observe
}

// redactedError stands, in an Event of an engine with a PayloadCodec, for
// the error of workflow or activity code: the journal encrypts its message,
// which may quote what the payloads hide, so an Observer (and the traces
// and logs it feeds) gets only its failure type. errors.Is and errors.As
// still see the error itself.
type redactedError struct {
	typ string
	err error
}

func (e *redactedError) Error() string {
	if e.typ == "" {
		return "chorus: error message withheld (payloads are encrypted)"
	}
	return "chorus: error message withheld (payloads are encrypted); failure type " + e.typ
}

func (e *redactedError) Unwrap() error { return e.err }

// emit hands ev to the Observer, its error redacted if need be.
func (a *observing) emit(ctx context.Context, ev Event) context.Context {
	if a.redact && ev.Err != nil && ev.Kind != EventCommit {
		ev.Err = &redactedError{typ: ev.FailureType, err: ev.Err}
	}
	return a.obs.Observe(ctx, ev)
}

func (a *observing) observe(ctx context.Context, o *engine.Observation) context.Context {
	ev := Event{Time: o.Time, Start: o.Start, RunID: o.RunID, Workflow: o.Workflow, Name: o.Name, Step: o.Step,
		Attempt: o.Attempt, Status: o.Status, Retry: o.Retry, Pending: o.Pending, Latency: o.Latency,
		BatchSize: o.Size, ChildID: o.Child, FireAt: o.FireAt, Header: Header(o.Header), ContinuedAsNew: o.Continued}
	switch o.Kind {
	case engine.ObsRunStarted:
		ev.Kind = EventRunStarted
	case engine.ObsRunEnded:
		ev.Kind = EventRunEnded
		ev.Err = a.runError(o)
		a.forget(o.RunID)
	case engine.ObsRunBlocked:
		ev.Kind = EventRunBlocked
		ev.Status = StatusBlocked
		ev.Err = a.runError(o)
	case engine.ObsActivityStarted:
		ev.Kind = EventActivityStarted
	case engine.ObsActivityEnded:
		ev.Kind = EventActivityEnded
		if o.Err != nil {
			ev.Err = publicErr(o.Err)
			ev.FailureType = engine.FailureOf(o.Err).Type
		}
		if o.Fail != nil {
			ev.FailureType = o.Fail.Type
			if ev.Err == nil {
				ev.Err = failureError{o.Fail}
			}
		}
	case engine.ObsTimerScheduled:
		ev.Kind = EventTimerScheduled
	case engine.ObsTimerFired:
		ev.Kind = EventTimerFired
	case engine.ObsSignalReceived:
		ev.Kind = EventSignalReceived
	case engine.ObsChildStarted:
		ev.Kind = EventChildStarted
	case engine.ObsChildEnded:
		ev.Kind = EventChildEnded
		if o.Fail != nil {
			ev.Err, ev.FailureType = failureError{o.Fail}, o.Fail.Type
		}
	case engine.ObsMarker:
		if a.compensation(o, &ev) {
			a.emit(ctx, ev)
			ev = Event{Time: o.Time, RunID: o.RunID, Workflow: o.Workflow, Name: o.Name, Step: o.Step, Header: Header(o.Header)}
		}
		ev.Kind, ev.Details, ev.codec = EventMarker, o.Payload, a.codec
	case engine.ObsCommit:
		ev.Kind = EventCommit
		ev.Err = o.Err
	case engine.ObsCacheHit:
		ev.Kind = EventCacheHit
	case engine.ObsCacheEviction:
		ev.Kind = EventCacheEviction
	case engine.ObsRunLoaded:
		ev.Kind = EventRunLoaded
	default:
		return ctx
	}
	return a.emit(ctx, ev)
}

// compensation turns a saga's marker into a compensation event; it
// reports false for any other marker.
func (a *observing) compensation(o *engine.Observation, ev *Event) bool {
	switch o.Name {
	case saga.MarkerStart:
		ev.Kind = EventCompensationStarted
	case saga.MarkerDone, saga.MarkerFailed, saga.MarkerSkipped:
		ev.Kind = EventCompensationEnded
	default:
		return false
	}
	var d saga.MarkerDetails
	if err := a.codec.Unmarshal(o.Payload, &d); err != nil {
		return false
	}
	ev.Name, ev.Saga, ev.Index, ev.CompensationKind = d.Step, d.Saga, d.Index, d.Kind
	k := compKey{o.RunID, d.Saga, d.Index}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch o.Name {
	case saga.MarkerStart:
		a.comps[k] = o.Time
		ev.Start = o.Time
	case saga.MarkerFailed:
		ev.Err = errors.New(d.Error)
		fallthrough
	default:
		ev.Start = a.comps[k]
		delete(a.comps, k)
		ev.Skipped = o.Name == saga.MarkerSkipped
	}
	return true
}

// forget drops the compensations of an ended run that never ended.
func (a *observing) forget(run string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := range a.comps {
		if k.run == run {
			delete(a.comps, k)
		}
	}
}

// runError is the error a run ended or was blocked with, as Run.Result
// reports it.
func (a *observing) runError(o *engine.Observation) error {
	status := o.Status
	if o.Kind == engine.ObsRunBlocked {
		status = history.StatusBlocked
	}
	var f history.Failure
	decodeErr := a.codec.Unmarshal(o.Failure, &f)
	switch status {
	case history.StatusFailed, history.StatusCanceled, history.StatusTerminated, history.StatusTimedOut:
		we := &WorkflowError{RunID: o.RunID, Workflow: o.Workflow, Canceled: status == history.StatusCanceled,
			Terminated: status == history.StatusTerminated, TimedOut: status == history.StatusTimedOut}
		if decodeErr == nil {
			we.Type, we.Message, we.failure = f.Type, f.Message, &f
		}
		return we
	case history.StatusBlocked:
		be := &BlockedError{RunID: o.RunID, Reason: "unknown reason"}
		if decodeErr == nil {
			be.Reason, be.Cause = f.Message, publicErr(engine.BlockedCause(&f))
		}
		return be
	}
	return nil
}

// failureError is a journaled failure as an error.
type failureError struct{ f *history.Failure }

func (e failureError) Error() string { return e.f.Message }
