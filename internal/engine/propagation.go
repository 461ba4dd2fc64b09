package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// A run's header holds the values its context propagators read from the
// context of the call that started it (a tenant, a user, a request ID, a
// trace context). It is journaled once per generation, as a Marker named
// HeaderMarker right after the RunStarted (and the signals delivered with
// it), before the code first runs: replay reads it back from there, so a
// run rebuilt after a restart sees the same values. A run started without
// values has no such marker. The header travels on to the run's activities
// (inside their task's options) and children (inside their start), and to
// the next generation of a run that continues as new.

// HeaderMarker names the Marker that journals a run's header.
const HeaderMarker = "chorus:context"

// Propagation connects the engine to the chorus package's context
// propagators, which the engine cannot name.
type Propagation struct {
	// ToWorkflow returns the root context of workflow code (a
	// workflow.Context, passed as any) with the values of h.
	ToWorkflow func(ctx any, h map[string][]byte) (any, error)
	// ToActivity returns an activity attempt's context with the values of h.
	ToActivity func(ctx context.Context, h map[string][]byte) (context.Context, error)
}

type headerKey struct{}

// WithHeader returns ctx carrying h, the header of a run that a call with
// ctx starts (Start, SignalWithStart).
func WithHeader(ctx context.Context, h map[string][]byte) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return context.WithValue(ctx, headerKey{}, h)
}

func headerOf(ctx context.Context) map[string][]byte {
	h, _ := ctx.Value(headerKey{}).(map[string][]byte)
	return h
}

// CheckHeader returns a *LimitError if the journaled form of h is over
// MaxPayloadBytes.
func (e *Engine) CheckHeader(runID string, h map[string][]byte) error {
	if len(h) == 0 {
		return nil
	}
	b, _ := json.Marshal(h) // strings and bytes
	return e.CheckPayload(runID, b)
}

// journalHeader records the header of the generation being started, in the
// current round, and makes it the run's.
func (r *Run) journalHeader(h map[string][]byte) {
	r.setHeader(nil)
	if len(h) == 0 {
		return
	}
	b, _ := json.Marshal(h) // strings and bytes
	r.appendEvent(history.EventMarker, HeaderMarker, b)
	r.setHeader(h)
}

// replayHeader reads the header of the generation being replayed, when the
// journal's next event records one.
func (r *Run) replayHeader() error {
	r.setHeader(nil)
	if len(r.replay) == 0 || r.replay[0].Type != history.EventMarker || r.replay[0].Name != HeaderMarker {
		return nil
	}
	ev := r.replay[0]
	r.replay = r.replay[1:]
	var h map[string][]byte
	if err := json.Unmarshal(ev.Payload, &h); err != nil {
		return &PayloadError{What: fmt.Sprintf("propagated context header recorded at step %d", ev.Seq), Err: err}
	}
	r.setHeader(h)
	return nil
}

// checkMarkerName refuses, as workflow code's own marker, the name the
// engine journals headers under: replay would take it for one.
func (r *Run) checkMarkerName(name string) {
	if name == HeaderMarker {
		r.Fail(fmt.Errorf("chorus: workflow %q records a marker named %q, a name reserved for propagated context", r.spec.Name(), name))
	}
}

// ExtractToWorkflow returns ctx, the root context of the run's workflow
// code, with the values its propagators extract from the run's header. A
// propagator that fails blocks the run with its error. Without propagators,
// ctx is returned as it is.
func (r *Run) ExtractToWorkflow(ctx any) any {
	p := r.eng.prop
	if p == nil || p.ToWorkflow == nil {
		return ctx
	}
	x, err := p.ToWorkflow(ctx, r.header)
	if err != nil {
		r.Fail(err)
	}
	return x
}

// taskOptions is how an activity task records its options and the header
// of the run that scheduled it. Options' fields stay at the top level, so
// tasks written before headers existed read the same.
type taskOptions struct {
	activity.Options
	Header map[string][]byte `json:"header,omitempty"`
}

// setHeader makes h the header of the run's current generation.
func (r *Run) setHeader(h map[string][]byte) {
	r.header = h
	r.taskOpts = taskOptsCache{}
}

// taskOptsCache keeps the last options a run encoded for an activity
// task: a run's activities mostly share their options and its header.
type taskOptsCache struct {
	ok bool
	o  activity.Options
	b  []byte
}

// encodeTaskOptions encodes an activity task's options with the run's
// header. The bytes may be shared between tasks: they are only read.
func (r *Run) encodeTaskOptions(o activity.Options) ([]byte, error) {
	if c := &r.taskOpts; c.ok && c.o == o {
		return c.b, nil
	}
	b, err := json.Marshal(taskOptions{Options: o, Header: r.header})
	if err == nil {
		r.taskOpts = taskOptsCache{ok: true, o: o, b: b}
	}
	return b, err
}

// decodeTaskOptions decodes an activity task's options and header in one
// pass.
func decodeTaskOptions(b []byte) (activity.Options, map[string][]byte) {
	var to taskOptions
	_ = json.Unmarshal(b, &to) // written by this engine; zero options and no header are a safe fallback
	return to.Options, to.Header
}

// toActivity returns an attempt's context with the values the propagators
// extract from its task's header, or a non-retryable failure when one of
// them fails: running the activity without its context would be wrong, and
// trying again would not help.
func (e *Engine) toActivity(ctx context.Context, t *actTask) (context.Context, *history.Failure) {
	p := e.prop
	if p == nil || p.ToActivity == nil {
		return ctx, nil
	}
	x, err := p.ToActivity(ctx, t.header)
	if err != nil {
		fl := FailureOf(err)
		fl.NonRetryable, fl.Attempt = true, t.Attempt
		return ctx, fl
	}
	return x, nil
}
