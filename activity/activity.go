package activity

import (
	"context"
	"fmt"

	"github.com/chorusdev/chorus/history"
)

// Definition is a typed activity: a function and the stable name under which
// the journal records it. Create one with [New], usually as a package-level
// variable, and register it with the engine. Workflow code schedules it with
// workflow.ExecuteActivity, which checks the input and result types at
// compile time.
type Definition[In, Out any] struct {
	name string
	fn   func(context.Context, In) (Out, error)
	opts *Options
}

// New defines an activity. The name is what the journal records: keep it
// stable for as long as runs that used it may be replayed, and rename the Go
// function freely. New panics if name is empty or fn is nil, since both are
// programming errors found at init time.
func New[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error)) *Definition[In, Out] {
	if name == "" {
		panic("activity.New: empty name")
	}
	if fn == nil {
		panic(fmt.Sprintf("activity.New(%q): nil function", name))
	}
	return &Definition[In, Out]{name: name, fn: fn}
}

// Name returns the activity's registered name.
func (d *Definition[In, Out]) Name() string { return d.name }

// WithOptions returns a copy of d whose calls use opts, under the same name.
// Fields left zero in opts fall back to the engine's defaults. Options given
// to a single call through workflow.WithActivityOptions take precedence.
func (d *Definition[In, Out]) WithOptions(opts Options) *Definition[In, Out] {
	c := *d
	c.opts = &opts
	return &c
}

// Options returns the options set with [Definition.WithOptions], or nil.
func (d *Definition[In, Out]) Options() *Options { return d.opts }

// Invoke decodes input with codec, runs the activity and encodes its result.
// The engine calls it; tests can call it to run an activity directly. An
// input that does not decode, or a result that does not encode, is reported
// as a non-retryable [*Error] of type [TypeInvalidPayload], since retrying
// cannot fix it.
func (d *Definition[In, Out]) Invoke(ctx context.Context, codec history.Codec, input []byte) ([]byte, error) {
	var in In
	if err := codec.Unmarshal(input, &in); err != nil {
		return nil, &Error{Type: TypeInvalidPayload, Message: fmt.Sprintf("activity %q: decode input: %v", d.name, err), NonRetryable: true, cause: err}
	}
	out, err := d.fn(ctx, in)
	if err != nil {
		return nil, err
	}
	b, err := codec.Marshal(out)
	if err != nil {
		return nil, &Error{Type: TypeInvalidPayload, Message: fmt.Sprintf("activity %q: encode result: %v", d.name, err), NonRetryable: true, cause: err}
	}
	return b, nil
}
