package engine

import (
	"context"
	"time"

	"github.com/chorusdev/chorus/history"
)

// Observations report what the engine does, live, to an Observer (tracing,
// metrics, logs). They are made only by live transitions: those of a run
// are collected during its round and handed over once the round's commit
// landed, and activity attempts are reported once their outcome (or retry)
// is journaled, so a run rebuilt by replay, or an outcome that a crash kept
// out of the journal, is never reported twice. Without an observer, none
// of this costs more than a nil check.

// ObsKind says what an Observation reports.
type ObsKind uint8

// The kinds of observation.
const (
	ObsRunStarted ObsKind = iota + 1
	ObsRunEnded
	ObsRunBlocked
	ObsActivityStarted
	ObsActivityEnded
	ObsTimerScheduled
	ObsTimerFired
	ObsSignalReceived
	ObsChildStarted
	ObsChildEnded
	ObsMarker
	ObsCommit
	ObsCacheHit
	ObsCacheEviction
	ObsRunLoaded
)

// Observation is one thing the engine did. Which fields are set depends on
// Kind; see the chorus package's Event, which mirrors it.
type Observation struct {
	Kind      ObsKind
	Time      time.Time // when it happened (the end, for what has a duration)
	Start     time.Time // when what ended began, from the journal where it is journaled
	RunID     string
	Workflow  string
	Name      string // activity, signal, child workflow or marker name
	Step      int64
	Attempt   int
	Status    history.RunStatus
	Failure   []byte           // encoded failure of a run or child
	Fail      *history.Failure // failure of an attempt, as journaled
	Err       error            // the attempt's own error, live
	Retry     bool             // the failed attempt is retried
	Continued bool             // the run's generation continued as new
	Pending   bool             // the attempt left its outcome to an asynchronous completion
	Latency   time.Duration    // schedule-to-start of an attempt; commit latency
	Size      int              // runs committed together
	Child     string           // ID of the child run
	FireAt    time.Time        // when a scheduled timer fires
	Payload   []byte           // marker details
	Header    map[string][]byte
}

// Observer receives observations. For ObsActivityStarted, ctx is the
// attempt's context and the returned context replaces it (the
// ObsActivityEnded of the attempt gets it back); otherwise ctx is a
// background context and the result is ignored. The observer must not
// keep o past the call.
type Observer func(ctx context.Context, o *Observation) context.Context

// observe collects an observation of the current round, emitted once the
// round commits.
func (r *Run) observe(o Observation) {
	if r.eng.obs == nil {
		return
	}
	r.round.obs = append(r.round.obs, o)
}

// emitObserved hands the observations of a committed round to the
// observer, with the run's identity filled in.
func (r *Run) emitObserved() {
	e := r.eng
	rd := &r.round
	if e.obs == nil {
		return
	}
	var workflow string
	if r.spec != nil {
		workflow = r.spec.Name()
	}
	if rd.status != nil && rd.status.Status == history.StatusBlocked {
		rd.obs = append(rd.obs, Observation{Kind: ObsRunBlocked, Time: r.liveNow, Failure: rd.status.Failure})
	}
	for i := range rd.obs {
		o := &rd.obs[i]
		o.RunID, o.Header = r.id, r.header
		if o.Workflow == "" {
			o.Workflow = workflow
		}
		e.obs(context.Background(), o)
	}
	rd.obs = nil
}

// attemptObs is an observed activity attempt between its start and the
// moment its outcome is journaled.
type attemptObs struct {
	ctx context.Context
	o   Observation
}

// attemptStarted reports an attempt that starts now and returns its
// context as the observer made it.
func (e *Engine) attemptStarted(ctx context.Context, t *actTask, started time.Time) context.Context {
	since := t.scheduledAt
	if t.Attempt > 1 || since.IsZero() {
		since = t.queuedAt
	}
	a := &attemptObs{o: Observation{Kind: ObsActivityStarted, Time: started, Start: started, RunID: t.RunID, Workflow: t.workflow,
		Name: t.Name, Step: t.Step, Attempt: t.Attempt, Header: t.header}}
	if !since.IsZero() && started.After(since) {
		a.o.Latency = started.Sub(since)
	}
	if x := e.obs(ctx, &a.o); x != nil {
		ctx = x
	}
	a.ctx = ctx
	t.obs = a
	return ctx
}

// attemptEnded reports the end of attempt t, with its error, once what it
// led to is journaled.
func (e *Engine) attemptEnded(t *actTask, err error, fl *history.Failure, retry, pending bool) {
	a := t.obs
	if a == nil || e.obs == nil {
		return
	}
	t.obs = nil
	o := &a.o
	o.Kind, o.Time, o.Err, o.Fail, o.Retry, o.Pending = ObsActivityEnded, t.endedAt, err, fl, retry, pending
	e.obs(a.ctx, o)
}

// observeAfter wraps the callback of an attempt's outcome input so that
// the attempt is reported once the outcome is journaled.
func (e *Engine) observeAfter(t *actTask, err error, fl *history.Failure, after func(error)) func(error) {
	if t.obs == nil {
		return after
	}
	return func(cerr error) {
		if cerr == nil {
			e.attemptEnded(t, err, fl, false, false)
		}
		after(cerr)
	}
}

// observeNow reports an observation that is not part of a run's round.
func (e *Engine) observeNow(o Observation) {
	if e.obs != nil {
		e.obs(context.Background(), &o)
	}
}

// observeOutcome collects the end of a timer or child that the round
// records live; f is the future it settles.
func (r *Run) observeOutcome(in input, f *Future) {
	switch in.kind {
	case inTimerFired:
		r.observe(Observation{Kind: ObsTimerFired, Time: r.liveNow, Start: f.at, Step: in.step})
	case inChildResult:
		o := Observation{Kind: ObsChildEnded, Time: r.liveNow, Start: f.at, Step: in.step, Name: f.name, Child: f.child,
			Status: history.StatusCompleted}
		if fl := in.failure; fl != nil {
			o.Fail, o.Status = fl, history.StatusFailed
			switch fl.Type {
			case FailureTypeCanceled:
				o.Status = history.StatusCanceled
			case FailureTypeTerminated:
				o.Status = history.StatusTerminated
			case FailureTypeWorkflowTimeout:
				o.Status = history.StatusTimedOut
			}
		}
		r.observe(o)
	}
}
