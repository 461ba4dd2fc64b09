package workflow

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// Definition is a typed workflow: a function and the stable name under which
// the journal records its runs. Create one with [New], usually as a
// package-level variable, register it with the engine, and start runs with
// chorus.Start, which checks the input and result types at compile time.
type Definition[In, Out any] struct {
	name string
	fn   func(Context, In) (Out, error)
}

// New defines a workflow. The name is what the journal records: keep it
// stable for as long as runs of it may be replayed, and rename the Go
// function freely. New panics if name is empty or fn is nil, since both are
// programming errors found at init time.
func New[In, Out any](name string, fn func(ctx Context, in In) (Out, error)) *Definition[In, Out] {
	if name == "" {
		panic("workflow.New: empty name")
	}
	if fn == nil {
		panic(fmt.Sprintf("workflow.New(%q): nil function", name))
	}
	return &Definition[In, Out]{name: name, fn: fn}
}

// Name returns the workflow's registered name.
func (d *Definition[In, Out]) Name() string { return d.name }

// Execute runs the workflow function for the engine: it decodes the input,
// calls the function and encodes its result. It is called by the engine
// inside the run's scheduler and is of no use elsewhere.
func (d *Definition[In, Out]) Execute(r *engine.Run, input []byte) ([]byte, error) {
	var in In
	if err := r.Codec().Unmarshal(input, &in); err != nil {
		perr := &engine.PayloadError{What: fmt.Sprintf("decode input of workflow %q into %T", d.name, in), Err: err}
		if errors.Is(err, history.ErrPayloadKey) {
			// The input is intact but its key is not configured: block the
			// run until it is, rather than fail it.
			r.Fail(perr)
		}
		return nil, perr
	}
	ctx := rootContext(&wfContext{r: r, scope: r.RootScope(), inType: reflect.TypeFor[In]()})
	r.Guard("the workflow function") // publishes the reads above; see Run.Guard
	out, err := d.fn(ctx, in)
	if err != nil {
		return nil, err
	}
	b, err := r.Codec().Marshal(out)
	if err != nil {
		return nil, &engine.PayloadError{What: fmt.Sprintf("encode result of workflow %q", d.name), Err: err}
	}
	return b, nil
}
