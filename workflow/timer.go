package workflow

import (
	"time"

	"github.com/chorusdev/chorus/internal/engine"
)

// NewTimer returns a future that is ready once d has passed on the engine's
// clock. The timer is journaled: it survives a crash, and one that fell due
// while the process was down fires right after the database is reopened.
// A test's fake clock drives it. Canceling ctx cancels the timer: Get then
// returns [ErrCanceled].
func NewTimer(ctx Context, d time.Duration) Future[struct{}] {
	c := mustImpl(ctx)
	defer c.leave()
	return &timerFuture{f: c.r.NewTimer(c.scope, d)}
}

// Sleep blocks for d on the engine's clock. It returns [ErrCanceled] if ctx
// is canceled first.
func Sleep(ctx Context, d time.Duration) error {
	_, err := NewTimer(ctx, d).Get(ctx)
	return err
}

type timerFuture struct{ f *engine.Future }

func (t *timerFuture) IsReady() bool { return t.f.Ready() }

func (t *timerFuture) Get(ctx Context) (struct{}, error) {
	mustImpl(ctx).r.Await(t.f.Ready)
	if _, fl := t.f.Outcome(); fl != nil {
		return struct{}{}, ErrCanceled
	}
	return struct{}{}, nil
}

// receiveOrTimeout waits until c is ready or timeout passes, and reports
// whether c became ready. The timer is canceled when c wins.
func receiveOrTimeout(ctx Context, c Waitable, timeout time.Duration) bool {
	if c.IsReady() {
		return true
	}
	tctx, cancel := WithCancel(ctx)
	defer cancel()
	timer := NewTimer(tctx, timeout)
	Await(ctx, func() bool { return c.IsReady() || timer.IsReady() })
	return c.IsReady()
}
