// Package activity stands in for Chorus's activity package.
package activity

import "context"

type Definition[In, Out any] struct {
	fn func(context.Context, In) (Out, error)
}

func New[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error)) *Definition[In, Out] {
	return &Definition[In, Out]{fn}
}
