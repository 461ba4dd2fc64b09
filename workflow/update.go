package workflow

import (
	"fmt"

	"github.com/chorusdev/chorus/internal/engine"
)

// Update is a typed update definition: a stable name, the argument type
// and the result type. An update is a request into a running workflow that
// the caller waits on until the run's handler returns; unlike a query it is
// journaled and its handler may change state, execute activities and wait.
//
//	var Approve = workflow.NewUpdate[ApproveReq, ApproveResp]("approve")
//
// Register the handler with [SetUpdateHandler] and send the update from
// outside with chorus.Update.
type Update[In, Out any] struct{ name string }

// NewUpdate defines an update. It panics on an empty name.
func NewUpdate[In, Out any](name string) *Update[In, Out] {
	if name == "" {
		panic("workflow.NewUpdate: empty name")
	}
	return &Update[In, Out]{name: name}
}

// Name returns the update's name.
func (u *Update[In, Out]) Name() string { return u.name }

// UpdateOptions configures an update handler.
type UpdateOptions[In any] struct {
	// Validator, when set, may refuse an update before anything is written:
	// the caller gets a chorus.UpdateRejectedError wrapping what it
	// returned, and the handler does not run. It reads workflow state like
	// a query handler: it must not block or issue commands (doing so
	// refuses the update with chorus.ErrQueryMisuse). Replay does not run
	// it again: an update in the journal was accepted.
	Validator func(In) error
}

// SetUpdateHandler makes the run handle u with h. Each accepted update runs
// h in a new workflow goroutine (see [Go]) under ctx: it may execute
// activities, sleep and wait like the rest of the code, and the caller of
// chorus.Update waits until it returns. Its result (or error) is
// journaled, so the caller asking again with the same update ID gets it
// without h running again.
//
// Register handlers at the start of the workflow function, before it first
// waits (chorus.Start returns once the code reached its first wait, so an
// update sent after it finds them). An update to a run with no handler for
// it is refused, with nothing written: the error wraps
// chorus.ErrUnknownUpdate and names the update. The run's inputs apply one
// after the other, so an update that arrives right behind the signal whose
// handling registers the handler finds it. A later registration replaces an
// earlier one. A handler that panics blocks the run, like any workflow code.
//
// An argument that does not decode into In refuses the update, like a
// validator does. A workflow that returns while a handler is still running
// ends anyway, and the update's caller gets chorus.ErrUpdateUnfinished;
// wait with [AllHandlersFinished] before returning to avoid that.
func SetUpdateHandler[In, Out any](ctx Context, u *Update[In, Out], h func(ctx Context, in In) (Out, error), opts *UpdateOptions[In]) {
	c := mustImpl(ctx)
	defer c.leave()
	codec := c.r.Codec()
	var validator func(In) error
	if opts != nil {
		validator = opts.Validator
	}
	decode := func(arg []byte) (In, error) {
		var in In
		if len(arg) > 0 {
			if err := codec.Unmarshal(arg, &in); err != nil {
				return in, &engine.PayloadError{What: fmt.Sprintf("decode argument of update %q into %T", u.name, in), Err: err}
			}
		}
		return in, nil
	}
	c.r.SetUpdateHandler(u.name, engine.UpdateHandler{
		Validate: func(arg []byte) error {
			in, err := decode(arg)
			if err != nil || validator == nil {
				return err
			}
			return validator(in)
		},
		Run: func(arg []byte) ([]byte, error) {
			in, err := decode(arg)
			if err != nil {
				c.r.Fail(err) // it decoded when it was accepted: the code's types changed
			}
			out, err := h(c, in)
			if err != nil {
				return nil, err
			}
			b, err := codec.Marshal(out)
			if err != nil {
				return nil, &engine.PayloadError{What: fmt.Sprintf("encode result of update %q", u.name), Err: err}
			}
			return b, nil
		},
	})
}

// AllHandlersFinished reports whether every accepted update's handler has
// returned. Wait for it before the workflow returns (or continues as new),
// so that no caller of chorus.Update is left with
// chorus.ErrUpdateUnfinished:
//
//	workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
func AllHandlersFinished(ctx Context) bool {
	return mustImpl(ctx).r.UpdatesRunning() == 0
}
