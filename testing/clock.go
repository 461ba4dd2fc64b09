package chorustest

import (
	"time"

	"github.com/benbjohnson/clock"
)

// envClock is the clock the engine of an [Env] runs on: the env's
// clock.Mock, except that every AfterFunc callback counts as work in flight
// from the moment it starts until it returns. The engine removes a fired
// timer from its books inside that callback, before it delivers the timer's
// input to the run; counting the callback closes the gap in which the
// engine would otherwise look idle with nothing due, and the env would skip
// time past a timer whose consequences had not happened yet.
type envClock struct {
	*clock.Mock
	env *Env
}

var _ clock.Clock = envClock{}

// AfterFunc schedules f on the mock clock, counting it while it runs.
func (c envClock) AfterFunc(d time.Duration, f func()) *clock.Timer {
	env := c.env
	return c.Mock.AfterFunc(d, func() {
		env.callbacks.Add(1)
		defer func() {
			env.callbacks.Add(-1)
			env.kick()
		}()
		f()
	})
}
