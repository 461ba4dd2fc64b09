package engine

import (
	"context"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
)

// withClockTimeout returns a copy of parent that ends with
// context.DeadlineExceeded once d has passed on clk, as context.WithTimeout
// does on the wall clock. It is safe for concurrent use, so it can be handed
// to code (database/sql, net/http) that reads Err from goroutines of its
// own; the mock clock's own WithTimeout is not.
func withClockTimeout(parent context.Context, clk clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	values, cancelValues := context.WithCancelCause(context.WithoutCancel(parent))
	c := &clockCtx{Context: values, cancelValues: cancelValues, deadline: clk.Now().Add(d), done: make(chan struct{})}
	if pd, ok := parent.Deadline(); ok && pd.Before(c.deadline) {
		c.deadline = pd // the parent ends first, and cancels c then
	}
	c.mu.Lock()
	c.timer = clk.AfterFunc(d, func() { c.end(context.DeadlineExceeded, context.DeadlineExceeded) })
	c.stopParent = context.AfterFunc(parent, func() { c.end(parent.Err(), context.Cause(parent)) })
	c.mu.Unlock()
	return c, func() { c.end(context.Canceled, context.Canceled) }
}

// clockCtx is the context of withClockTimeout. Its embedded Context
// carries the parent's values and, once c has ended, the cause that
// context.Cause reports; it is canceled only by c itself, after c's own
// error is set, so a context derived from c never sees one without the
// other.
type clockCtx struct {
	context.Context
	cancelValues context.CancelCauseFunc
	deadline     time.Time
	done         chan struct{}

	mu         sync.Mutex
	err        error
	timer      *clock.Timer
	stopParent func() bool
}

func (c *clockCtx) end(err, cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stopParent != nil {
		c.stopParent()
	}
	c.cancelValues(cause)
}

func (c *clockCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *clockCtx) Done() <-chan struct{} { return c.done }

func (c *clockCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *clockCtx) String() string { return "engine.withClockTimeout(" + c.deadline.String() + ")" }
