// Package workflow stands in for Chorus's workflow package: the analyzer
// knows it by its import path.
package workflow

import "time"

type Context interface{ Done() }

type Definition[In, Out any] struct {
	fn func(Context, In) (Out, error)
}

func New[In, Out any](name string, fn func(ctx Context, in In) (Out, error)) *Definition[In, Out] {
	return &Definition[In, Out]{fn}
}

// The library itself is trusted, whatever it does inside.
func Now(ctx Context) time.Time { return time.Now() }

func Sleep(ctx Context, d time.Duration) error { time.Sleep(d); return nil }

func Go(ctx Context, fn func(ctx Context)) { go fn(ctx) }

func Await(ctx Context, cond func() bool) {}

func SideEffect[T any](ctx Context, fn func() T) T { return fn() }

func MutableSideEffect[T any](ctx Context, id string, fn func() T, eq func(a, b T) bool) T {
	return fn()
}

type Query[In, Out any] struct{}

func SetQueryHandler[In, Out any](ctx Context, q *Query[In, Out], h func(In) (Out, error)) {}

type Future interface{ IsReady() bool }

type Selector struct{}

func NewSelector(ctx Context) *Selector                     { return &Selector{} }
func (s *Selector) AddFuture(f Future, fn func()) *Selector { return s }
func (s *Selector) Select(ctx Context)                      {}
