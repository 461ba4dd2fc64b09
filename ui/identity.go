package ui

import (
	"context"

	"github.com/chorusdev/chorus"
)

// withIdentity makes the engine journal who took an action.
func withIdentity(ctx context.Context, who string) context.Context {
	return chorus.WithIdentity(ctx, who)
}
