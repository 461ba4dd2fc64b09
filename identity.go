package chorus

import (
	"context"

	"github.com/chorusdev/chorus/internal/engine"
)

// WithIdentity returns a context that names who acts through it: an
// operator, a user of the application, a service. A [Engine.Cancel],
// [Engine.Terminate], [Signal] or an update the run accepts ([Update])
// made with it journals, in the same commit
// and right before the event it causes, a history.EventOperatorAction note
// with the identity, the action and (for Terminate) the reason, so the
// run's history says who did what. Replay passes over the note.
//
// An identity is at most 256 bytes of UTF-8 text without control
// characters; a call whose context carries another fails with
// [ErrInvalidIdentity] and changes nothing. A context without an identity
// journals no note.
func WithIdentity(ctx context.Context, who string) context.Context {
	return engine.WithIdentity(ctx, who)
}

// IdentityFrom returns the identity ctx carries ([WithIdentity]), or "".
func IdentityFrom(ctx context.Context) string { return engine.IdentityOf(ctx) }
