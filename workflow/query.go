package workflow

import (
	"fmt"

	"github.com/chorusdev/chorus/internal/engine"
)

// Query is a typed query definition: a stable name, the argument type and
// the answer type.
//
//	var Status = workflow.NewQuery[struct{}, OrderStatus]("status")
type Query[In, Out any] struct{ name string }

// NewQuery defines a query. It panics on an empty name.
func NewQuery[In, Out any](name string) *Query[In, Out] {
	if name == "" {
		panic("workflow.NewQuery: empty name")
	}
	return &Query[In, Out]{name: name}
}

// Name returns the query's name.
func (q *Query[In, Out]) Name() string { return q.name }

// SetQueryHandler makes the run answer q with h. h reads workflow state and
// returns; it must not block or start anything (doing so is answered with
// an error), and queries never change the journal. chorus.Query calls it on
// the live run, or on a replay of the run when it is not in memory.
func SetQueryHandler[In, Out any](ctx Context, q *Query[In, Out], h func(In) (Out, error)) {
	c := mustImpl(ctx)
	defer c.leave()
	codec := c.r.Codec()
	c.r.SetQueryHandler(q.name, func(arg []byte) ([]byte, error) {
		var in In
		if len(arg) > 0 {
			if err := codec.Unmarshal(arg, &in); err != nil {
				return nil, &engine.PayloadError{What: fmt.Sprintf("decode argument of query %q into %T", q.name, in), Err: err}
			}
		}
		out, err := h(in)
		if err != nil {
			return nil, err
		}
		b, err := codec.Marshal(out)
		if err != nil {
			return nil, &engine.PayloadError{What: fmt.Sprintf("encode answer of query %q", q.name), Err: err}
		}
		return b, nil
	})
}
