package workflow

import (
	"fmt"
	"slices"
	"time"

	"github.com/chorusdev/chorus/internal/engine"
)

// Waitable is anything a [Selector] can wait on: futures and channels.
type Waitable interface {
	// IsReady reports whether Get or Receive would return without waiting.
	IsReady() bool
}

// ReceiveChannel is the receiving side of a workflow channel or of a signal.
type ReceiveChannel[T any] interface {
	Waitable
	// Receive blocks until a value is available and returns it; ok is false
	// when the channel was closed and drained (or, for Context.Done, when
	// the context was canceled).
	Receive(ctx Context) (v T, ok bool)
	// ReceiveAsync returns a value if one is available, without blocking.
	ReceiveAsync() (v T, ok bool)
	// ReceiveWithTimeout is Receive with a durable timer: ok is false if
	// nothing arrived within timeout.
	ReceiveWithTimeout(ctx Context, timeout time.Duration) (v T, ok bool)
	// Len returns the number of values waiting.
	Len() int
}

// SendChannel is the sending side of a workflow channel.
type SendChannel[T any] interface {
	// Send blocks until the channel has room for v (an unbuffered channel
	// until a receiver takes it).
	Send(ctx Context, v T)
	// SendAsync sends v if that does not block and reports whether it did.
	SendAsync(v T) bool
	// Close marks the channel closed: receivers get what is buffered, then
	// ok false. Sending on a closed channel panics, like Go's.
	Close()
}

// Channel is a deterministic channel between workflow goroutines. Go
// channels must not be used in workflow code; these are scheduled by the
// engine and behave the same under replay.
type Channel[T any] interface {
	SendChannel[T]
	ReceiveChannel[T]
}

// NewChannel returns an unbuffered channel.
func NewChannel[T any](ctx Context) Channel[T] { return NewBufferedChannel[T](ctx, 0) }

// NewBufferedChannel returns a channel that holds up to size values.
func NewBufferedChannel[T any](ctx Context, size int) Channel[T] {
	return &channel[T]{r: mustImpl(ctx).r, size: size}
}

type channel[T any] struct {
	r      *engine.Run
	size   int
	buf    []T
	taken  int // values removed from buf so far, for unbuffered hand-off
	closed bool
}

func (c *channel[T]) IsReady() bool          { return len(c.buf) > 0 || c.closed }
func (c *channel[T]) Len() int               { return len(c.buf) }
func (c *channel[T]) closedAndDrained() bool { return c.closed && len(c.buf) == 0 }

func (c *channel[T]) Send(ctx Context, v T) {
	r := mustImpl(ctx).r
	if c.closed {
		panic("workflow: send on closed channel")
	}
	if c.size > 0 {
		r.Await(func() bool { return len(c.buf) < c.size || c.closed })
		if c.closed {
			panic("workflow: send on closed channel")
		}
		c.buf = append(c.buf, v)
		return
	}
	// Unbuffered: queue the value and wait until a receiver took it.
	c.buf = append(c.buf, v)
	ticket := c.taken + len(c.buf)
	r.Await(func() bool { return c.taken >= ticket })
}

func (c *channel[T]) SendAsync(v T) bool {
	c.r.Guard("SendAsync")
	if c.closed || (c.size > 0 && len(c.buf) >= c.size) || c.size == 0 {
		return false
	}
	c.buf = append(c.buf, v)
	return true
}

func (c *channel[T]) Close() {
	c.r.Guard("Close")
	c.closed = true
}

func (c *channel[T]) Receive(ctx Context) (T, bool) {
	mustImpl(ctx).r.Await(c.IsReady)
	return c.ReceiveAsync()
}

func (c *channel[T]) ReceiveAsync() (T, bool) {
	c.r.Guard("ReceiveAsync")
	var zero T
	if len(c.buf) == 0 {
		return zero, false
	}
	v := c.buf[0]
	c.buf[0] = zero
	c.buf = c.buf[1:]
	c.taken++
	return v, true
}

func (c *channel[T]) ReceiveWithTimeout(ctx Context, timeout time.Duration) (T, bool) {
	if !receiveOrTimeout(ctx, c, timeout) {
		var zero T
		return zero, false
	}
	return c.ReceiveAsync()
}

// Selector waits for the first of several futures and channels. Cases are
// checked in the order they were added, so the choice is deterministic.
//
// A case fires once per thing that became ready, as in Temporal's SDK, so a
// selector can be kept and selected on in a loop:
//
//   - A future case fires once: after its callback ran, the case is
//     consumed and later calls to Select skip it, although the future stays
//     ready. N futures added to one selector are merged by exactly N calls.
//   - A receive case fires once per value: its callback is expected to take
//     the value (ReceiveAsync or Receive); a value it leaves in the channel
//     makes the case fire again at the next Select. Once the channel is
//     closed and drained (or, for [Context.Done], once the context is
//     canceled), the case fires one last time and is consumed.
//
// Select on a selector whose every case was consumed, without a default,
// panics (it could never return), which blocks the run with a
// *PanicError that says so.
type Selector struct {
	cases []selectCase
	dflt  func()
}

type selectCase struct {
	w      Waitable
	fn     func()
	future bool
	used   bool // fired for good: a future, or a receive on a closed channel
}

// closable is implemented by the receive channels that can be closed, so a
// selector consumes their case once it reported the closure.
type closable interface {
	closedAndDrained() bool
}

// NewSelector returns an empty selector.
func NewSelector(ctx Context) *Selector {
	mustImpl(ctx)
	return &Selector{}
}

// AddFuture adds a case that is ready when f is; fn typically calls f.Get.
// The case fires once.
func (s *Selector) AddFuture(f Waitable, fn func()) *Selector {
	s.cases = append(s.cases, selectCase{w: f, fn: fn, future: true})
	return s
}

// AddReceive adds a case that is ready when c has a value (or is closed); fn
// typically calls c.ReceiveAsync. The case fires once per value, and once
// more when c is closed and drained.
func (s *Selector) AddReceive(c Waitable, fn func()) *Selector {
	s.cases = append(s.cases, selectCase{w: c, fn: fn})
	return s
}

// AddDefault adds the case that Select runs when no other case is ready.
func (s *Selector) AddDefault(fn func()) *Selector {
	s.dflt = fn
	return s
}

// Select waits until a case is ready and runs the first ready one, in the
// order the cases were added. With a default case it never waits.
func (s *Selector) Select(ctx Context) {
	mustImpl(ctx)
	if i := s.ready(); i >= 0 {
		s.fire(i)
		return
	}
	if s.dflt != nil {
		s.dflt()
		return
	}
	if !slices.ContainsFunc(s.cases, func(c selectCase) bool { return !c.used }) {
		panic(fmt.Sprintf("workflow: Select on a selector whose %d cases have all fired already and that has no default: it would wait forever", len(s.cases)))
	}
	mustImpl(ctx).r.Await(func() bool { return s.ready() >= 0 })
	s.fire(s.ready())
}

func (s *Selector) ready() int {
	for i, c := range s.cases {
		if !c.used && c.w.IsReady() {
			return i
		}
	}
	return -1
}

func (s *Selector) fire(i int) {
	c := &s.cases[i]
	if c.future {
		c.used = true
	} else if cl, ok := c.w.(closable); ok && cl.closedAndDrained() {
		c.used = true
	}
	c.fn()
}

// WaitGroup waits for workflow goroutines, like sync.WaitGroup.
type WaitGroup struct {
	r *engine.Run
	n int
}

// NewWaitGroup returns a wait group with a zero counter.
func NewWaitGroup(ctx Context) *WaitGroup {
	return &WaitGroup{r: mustImpl(ctx).r}
}

// Add adds delta to the counter.
func (wg *WaitGroup) Add(delta int) {
	wg.r.Guard("WaitGroup.Add")
	wg.n += delta
	if wg.n < 0 {
		panic("workflow: negative WaitGroup counter")
	}
}

// Done decrements the counter.
func (wg *WaitGroup) Done() { wg.Add(-1) }

// Wait blocks until the counter is zero.
func (wg *WaitGroup) Wait(ctx Context) {
	mustImpl(ctx).r.Await(func() bool { return wg.n == 0 })
}
