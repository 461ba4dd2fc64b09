package chorus

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/workflow"
)

// Header holds the values that [ContextPropagator]s carry from the
// context of [Start] into a run, by key. The keys of all the engine's
// propagators share one Header: give each propagator keys of its own.
type Header map[string][]byte

// ContextPropagator carries values (a tenant, a user, a request ID, a trace
// context) from the context.Context of the call that starts a run into
// the run's workflow code, its activities and its children, across
// restarts. Install propagators with [Options].ContextPropagators.
//
// [Start] and [SignalWithStart] call Inject of each propagator, in order,
// with their ctx, and journal the resulting [Header] with the run's start
// (a Marker named "chorus:context" right after RunStarted; none when the
// header is empty). From there:
//
//   - Workflow code gets a workflow.Context whose values ExtractToWorkflow
//     set from the header, live and on every replay, also after a restart:
//     read them with ctx.Value, or with [StringValue] for
//     [NewStringPropagator].
//   - Each activity attempt gets a context.Context whose values Extract set
//     from the header, which its task carries, so an attempt that runs
//     after a restart sees the same values.
//   - Each child run gets the parent's header as its own, and a run that
//     continues as new keeps its header.
//
// The header is the run's: workflow code does not change it. Inject sees
// only the caller's ctx; Extract and ExtractToWorkflow must be
// deterministic (the same header gives the same values), since workflow
// code is replayed.
//
// A propagator whose Inject fails makes Start fail with a
// [*PropagatorError] before anything is written. One whose
// ExtractToWorkflow fails blocks the run with its *PropagatorError; one
// whose Extract fails fails the activity, without retrying, with failure
// type "ContextPropagation".
type ContextPropagator interface {
	// Inject writes the values to carry, read from ctx, to h.
	Inject(ctx context.Context, h Header) error
	// Extract returns ctx, an activity attempt's context, with the values
	// of h.
	Extract(ctx context.Context, h Header) (context.Context, error)
	// ExtractToWorkflow returns ctx, the root context of workflow code,
	// with the values of h (see workflow.WithValue).
	ExtractToWorkflow(ctx workflow.Context, h Header) (workflow.Context, error)
}

// FailureTypeContextPropagation is the failure type of an activity whose
// context a [ContextPropagator] could not extract.
const FailureTypeContextPropagation = "ContextPropagation"

// PropagatorError reports a [ContextPropagator] that failed.
type PropagatorError struct {
	// Index is the propagator's position in [Options].ContextPropagators,
	// and Propagator its Go type, such as "*chorus.StringPropagator".
	Index      int
	Propagator string
	// Op is the method that failed: "Inject", "Extract" or
	// "ExtractToWorkflow".
	Op  string
	Err error
}

func (e *PropagatorError) Error() string {
	return fmt.Sprintf("chorus: context propagator %d (%s): %s: %v", e.Index, e.Propagator, e.Op, e.Err)
}

// Unwrap returns Err.
func (e *PropagatorError) Unwrap() error { return e.Err }

// FailureType returns the type recorded for the error.
func (e *PropagatorError) FailureType() string { return FailureTypeContextPropagation }

func propagatorErr(i int, p ContextPropagator, op string, err error) error {
	return &PropagatorError{Index: i, Propagator: fmt.Sprintf("%T", p), Op: op, Err: err}
}

// validatePropagators refuses a nil propagator.
func validatePropagators(ps []ContextPropagator) error {
	for i, p := range ps {
		if p == nil {
			return fmt.Errorf("chorus: Options.ContextPropagators[%d] is nil", i)
		}
	}
	return nil
}

// propagation adapts the propagators to the engine; nil without any.
func propagation(ps []ContextPropagator) *engine.Propagation {
	if len(ps) == 0 {
		return nil
	}
	return &engine.Propagation{
		ToWorkflow: func(ctx any, h map[string][]byte) (any, error) {
			wc := ctx.(workflow.Context)
			for i, p := range ps {
				x, err := p.ExtractToWorkflow(wc, Header(h))
				if err == nil && x == nil {
					err = errors.New("returned a nil workflow.Context")
				}
				if err != nil {
					return nil, propagatorErr(i, p, "ExtractToWorkflow", err)
				}
				wc = x
			}
			return wc, nil
		},
		ToActivity: func(ctx context.Context, h map[string][]byte) (context.Context, error) {
			for i, p := range ps {
				x, err := p.Extract(ctx, Header(h))
				if err == nil && x == nil {
					err = errors.New("returned a nil context.Context")
				}
				if err != nil {
					return nil, propagatorErr(i, p, "Extract", err)
				}
				ctx = x
			}
			return ctx, nil
		},
	}
}

// inject returns ctx carrying the header the engine's propagators read
// from it, for the start of run id; nothing is written yet.
func (e *Engine) inject(ctx context.Context, id string) (context.Context, error) {
	if len(e.props) == 0 {
		return ctx, nil
	}
	h := Header{}
	for i, p := range e.props {
		if err := p.Inject(ctx, h); err != nil {
			return nil, propagatorErr(i, p, "Inject", err)
		}
	}
	if err := e.core.CheckHeader(id, h); err != nil {
		return nil, publicErr(err)
	}
	return engine.WithHeader(ctx, h), nil
}

// StringKey is the key under which the values of [NewStringPropagator]
// live in a context.Context and in a workflow.Context: ctx.Value of
// StringKey("tenant") is a string. [WithStringValue] and [StringValue]
// spare the conversion.
type StringKey string

// WithStringValue returns ctx carrying value under key, for a
// [NewStringPropagator] that propagates key.
func WithStringValue(ctx context.Context, key, value string) context.Context {
	return context.WithValue(ctx, StringKey(key), value)
}

// StringValue returns the value of key in ctx, a context.Context (of the
// caller, or of an activity) or a workflow.Context, as
// [NewStringPropagator] put it there, or "" if there is none.
func StringValue(ctx interface{ Value(key any) any }, key string) string {
	if ctx == nil {
		return ""
	}
	v, _ := ctx.Value(StringKey(key)).(string)
	return v
}

// StringPropagator is the [ContextPropagator] of [NewStringPropagator].
type StringPropagator struct {
	keys []string
}

// NewStringPropagator returns a propagator of the string values of keys:
// set them on the context given to [Start] with [WithStringValue], read
// them in workflow code and in activities with [StringValue]. A key that
// the caller's context lacks is not propagated. Each value is journaled
// under its key in the run's [Header]. NewStringPropagator panics on an
// empty key, a programming error found at init time.
func NewStringPropagator(keys ...string) *StringPropagator {
	for _, k := range keys {
		if k == "" {
			panic("chorus.NewStringPropagator: empty key")
		}
	}
	return &StringPropagator{keys: append([]string(nil), keys...)}
}

// Inject writes the keys' values found in ctx to h.
func (p *StringPropagator) Inject(ctx context.Context, h Header) error {
	for _, k := range p.keys {
		if v, ok := ctx.Value(StringKey(k)).(string); ok {
			h[k] = []byte(v)
		}
	}
	return nil
}

// Extract returns ctx with the keys' values found in h.
func (p *StringPropagator) Extract(ctx context.Context, h Header) (context.Context, error) {
	for _, k := range p.keys {
		if v, ok := h[k]; ok {
			ctx = context.WithValue(ctx, StringKey(k), string(v))
		}
	}
	return ctx, nil
}

// ExtractToWorkflow returns ctx with the keys' values found in h.
func (p *StringPropagator) ExtractToWorkflow(ctx workflow.Context, h Header) (workflow.Context, error) {
	for _, k := range p.keys {
		if v, ok := h[k]; ok {
			ctx = workflow.WithValue(ctx, StringKey(k), string(v))
		}
	}
	return ctx, nil
}
